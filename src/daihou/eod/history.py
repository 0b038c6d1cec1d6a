"""Replay of closed business dates for one loan after a backdated event.

A payment, reversal or rate change dated before the last closed date changes what end
of day would have computed since then. ``rewrite_history`` recomputes, for every closed
date from the event's date, the loan's snapshot, DPD, bucket and class by replaying the
loan as it stood at the end of that date, supersedes the events and class changes it
had produced and writes the ones the corrected history produces. Accruals are already
corrected by ``recompute_loan`` (over-accrued 罚息 is reversed in the ledger).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from daihou.eod import rules
from daihou.eod.models import ClassChange, ClassOverride, EodRun, LoanEvent, LoanSnapshot
from daihou.kernel.delinquency import bucket_for, class_floor, effective_class, rank
from daihou.kernel.money import ZERO
from daihou.kernel.replay import ReplayResult, replay
from daihou.loans.models import Loan
from daihou.payments.recompute import active_transactions, to_event
from daihou.payments.terms import loan_terms, lpr_history
from daihou.policy import PolicyPack, load_pack


@dataclass(frozen=True, slots=True)
class DayState:
    status: str
    outstanding_principal: Decimal
    overdue_principal: Decimal
    overdue_interest: Decimal
    penalty_outstanding: Decimal
    compound_outstanding: Decimal
    dpd: int
    bucket: str
    risk_class: str


def day_state(
    result: ReplayResult,
    d: date,
    *,
    tolerance: Decimal,
    pack: PolicyPack,
    restructured: bool,
    override: str | None,
) -> DayState:
    """What end of day computes for a loan at the end of ``d`` (the kernel twin of the
    set-based steps)."""
    oldest: date | None = None
    overdue_p = overdue_i = pen = comp = ZERO
    for row in result.installments:
        pen += row.owed("penalty")
        comp += row.owed("compound")
        if row.due_date < d:
            overdue_p += row.owed("principal")
            overdue_i += row.owed("interest")
            unpaid = row.owed("principal") + row.owed("interest") + row.owed("fee")
            if unpaid > tolerance and (oldest is None or row.due_date < oldest):
                oldest = row.due_date
    dpd = (d - oldest).days if oldest is not None else 0
    floor = class_floor(dpd, rules.floors(pack), restructured=restructured)
    return DayState(
        status="closed" if result.closed_on is not None and result.closed_on <= d else "active",
        outstanding_principal=result.outstanding_principal,
        overdue_principal=overdue_p,
        overdue_interest=overdue_i,
        penalty_outstanding=pen,
        compound_outstanding=comp,
        dpd=dpd,
        bucket=bucket_for(dpd, rules.buckets(pack)),
        risk_class=effective_class(floor, override),
    )


def _override_on(session: Session, loan_id: str, d: date) -> str | None:
    rows = session.scalars(
        select(ClassOverride.risk_class).where(
            ClassOverride.loan_id == loan_id,
            ClassOverride.effective_on <= d,
            (ClassOverride.released_on.is_(None)) | (ClassOverride.released_on > d),
        )
    ).all()
    return max(rows, key=rank) if rows else None


def first_closed_date(session: Session) -> date | None:
    return session.scalar(select(func.min(EodRun.business_date)).where(EodRun.step == "close"))


def rewrite_history(
    session: Session, loan_id: str, *, since: date, today: date, pack: PolicyPack | None = None
) -> int:
    """Recompute closed dates ``since`` … ``today`` − 1 for one loan; returns days redone."""
    first = first_closed_date(session)
    last = today - timedelta(days=1)
    if first is None or since > last:
        return 0
    start = max(since, first)
    pack = pack or load_pack()
    loan = session.get(Loan, loan_id)
    assert loan is not None
    product = pack.product(loan.product)
    terms = loan_terms(loan, product)
    events = [to_event(t) for t in active_transactions(session, loan_id)]
    history = lpr_history(session)
    prev = session.execute(
        select(LoanSnapshot.bucket, LoanSnapshot.risk_class)
        .where(LoanSnapshot.loan_id == loan_id, LoanSnapshot.business_date < start)
        .order_by(LoanSnapshot.business_date.desc())
        .limit(1)
    ).first()
    bucket, risk_class = (prev.bucket, prev.risk_class) if prev else ("M0", "normal")
    session.execute(
        LoanSnapshot.__table__.delete().where(  # type: ignore[attr-defined]
            LoanSnapshot.loan_id == loan_id, LoanSnapshot.business_date >= start
        )
    )
    for model in (LoanEvent, ClassChange):
        session.execute(
            update(model)
            .where(model.loan_id == loan_id, model.business_date >= start)
            .values(superseded=True)
        )
    buckets = rules.buckets(pack)
    order = {b.name: i for i, b in enumerate(buckets)}
    # a repayment plan's observation period starts at its signing (restructure event)
    signed = min((e.value_date for e in events if e.kind == "restructure"), default=None)
    day = start
    state: DayState | None = None
    while day <= last:
        result = replay(
            terms,
            [e for e in events if e.value_date <= day],
            as_of=day,
            accrue_through=day,
            lpr_history=history,
        )
        state = day_state(
            result,
            day,
            tolerance=product.overdue_tolerance,
            pack=pack,
            restructured=loan.restructured_until is not None
            and loan.restructured_until >= day
            and (signed is None or signed <= day),
            override=_override_on(session, loan_id, day),
        )
        session.add(LoanSnapshot(business_date=day, loan_id=loan_id, **asdict(state)))
        if state.bucket != bucket:
            old, new = order.get(bucket, 0), order[state.bucket]
            kind = (
                "cured"
                if new == 0
                else "entered-bucket"
                if old == 0
                else ("rolled-forward" if new > old else "rolled-back")
            )
            session.add(
                LoanEvent(
                    business_date=day,
                    loan_id=loan_id,
                    kind=kind,
                    from_value=bucket,
                    to_value=state.bucket,
                )
            )
        if state.risk_class != risk_class:
            session.add(
                LoanEvent(
                    business_date=day,
                    loan_id=loan_id,
                    kind="classified",
                    from_value=risk_class,
                    to_value=state.risk_class,
                )
            )
            session.add(
                ClassChange(
                    loan_id=loan_id,
                    business_date=day,
                    old_class=risk_class,
                    new_class=state.risk_class,
                    source="replay",
                    reason="backdated event replayed",
                )
            )
        bucket, risk_class = state.bucket, state.risk_class
        if state.status == "closed":
            break
        day += timedelta(days=1)
    if state is not None:
        loan.dpd, loan.bucket, loan.risk_class = state.dpd, state.bucket, state.risk_class
    session.flush()
    return (min(day, last) - start).days + 1
