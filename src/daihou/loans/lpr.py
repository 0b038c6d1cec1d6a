"""LPR (贷款市场报价利率) history and repricing of floating-rate loans."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from daihou.auth.actor import SYSTEM, Actor
from daihou.auth.permissions import authorize
from daihou.compliance.audit.service import record as audit_record
from daihou.loans.models import Loan, LprRate
from daihou.policy import PolicyPack, load_pack

TENORS = ("1y", "5y")


def lpr_points(session: Session) -> list[tuple[str, date, Decimal]]:
    rows = session.execute(
        select(LprRate.tenor, LprRate.effective_on, LprRate.rate).order_by(
            LprRate.effective_on, LprRate.tenor
        )
    ).all()
    return [(r.tenor, r.effective_on, r.rate) for r in rows]


def seed_lpr_from_pack(session: Session, pack: PolicyPack | None = None) -> int:
    """Load the pack's LPR history; points already present are left alone."""
    have = {(t, d) for t, d, _ in lpr_points(session)}
    new = [
        LprRate(tenor=p.tenor, effective_on=p.effective_on, rate=p.rate)
        for p in (pack or load_pack()).lpr_history
        if (p.tenor, p.effective_on) not in have
    ]
    session.add_all(new)
    session.flush()
    return len(new)


def add_lpr(
    session: Session,
    *,
    tenor: str,
    effective_on: date,
    rate: Decimal,
    pack: PolicyPack | None = None,
    actor: Actor = SYSTEM,
) -> int:
    """Record a fixing, then replay every active floating loan on that tenor (its
    repricings after ``effective_on`` may change). Returns the number of loans replayed."""
    from daihou.eod.calendar import business_date
    from daihou.payments.recompute import recompute_loan
    from daihou.payments.service import lock_loan, replay_closed_days

    if tenor not in TENORS:
        raise ValueError(f"tenor: {tenor!r} is not one of {', '.join(TENORS)}")
    if not Decimal(0) < rate < Decimal(1):
        raise ValueError(f"rate: {rate} is not between 0 and 100%")
    existing = session.execute(
        select(LprRate).where(LprRate.tenor == tenor, LprRate.effective_on == effective_on)
    ).scalar_one_or_none()
    if existing is not None:
        raise ValueError(
            f"on: an LPR {tenor} fixing on {effective_on} exists already ({existing.rate})"
        )
    session.add(LprRate(tenor=tenor, effective_on=effective_on, rate=rate))
    session.flush()
    policy = pack or load_pack()
    codes = [
        p.code for p in policy.products if p.floating is not None and p.floating.tenor == tenor
    ]
    loan_ids = (
        session.execute(
            select(Loan.id).where(
                Loan.product.in_(codes), Loan.spread_bps.is_not(None), Loan.status == "active"
            )
        )
        .scalars()
        .all()
    )
    today = business_date(session)
    for loan_id in loan_ids:
        lock_loan(session, loan_id)
        recompute_loan(session, loan_id, pack=policy)
        replay_closed_days(session, loan_id, since=effective_on, today=today, pack=policy)
    audit_record(
        session,
        actor=actor,
        action="lpr.add",
        object_type="lpr",
        object_id=f"{tenor}@{effective_on.isoformat()}",
        after={"tenor": tenor, "effective_on": effective_on, "rate": rate},
        basis=authorize(actor, "lpr.add").as_dict(),
    )
    return len(loan_ids)
