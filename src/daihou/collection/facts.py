"""What the strategy reads, for every subject at once, in a few set-based queries.

A subject is an open case (with its loan), a loan that missed a due date at the close
(T+0, no case yet), or a loan with nothing overdue whose next installment falls due in
one of the reminder offsets. Each becomes one ``Fact`` (plain values, no ORM object).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import BigInteger, and_, func, select, type_coerce
from sqlalchemy.orm import Session, aliased

from daihou.collection.arms import arm_for
from daihou.collection.cases import overdue_fen_by_loan
from daihou.collection.models import CollectionCase
from daihou.collection.settings import CollectionsSettings
from daihou.compliance.gate.models import Hold
from daihou.db.sqlfn import indexed_by
from daihou.loans.models import Installment, Loan, status_is


@dataclass(slots=True)
class Fact:
    loan_id: str
    customer_id: str
    product: str
    dpd: int | None  # T+n; None for a reminder subject
    overdue_fen: int
    outstanding_fen: int
    arm: str
    case_id: int | None = None
    stage: str | None = None
    risk_score: int | None = None
    segment: str | None = None
    contact_status: str = "reachable"
    lost_since: date | None = None
    promise_until: date | None = None
    refused: bool = False
    failed_visits: int = 0
    broken_promises: int = 0
    owner: str | None = None
    team: str | None = None
    territory: str | None = None
    days_before_due: int | None = None  # reminders: the installment falls due in k days
    first_due: bool = False  # reminders: that installment is the first one
    on_hold: bool = False
    bucket: str = "M0"


def _fen(column: Any) -> Any:
    return type_coerce(column, BigInteger)


def case_facts(session: Session) -> list[Fact]:
    """Every open case with its loan and overdue amount."""
    c = CollectionCase
    od = overdue_fen_by_loan()
    session.flush()
    # through the connection: plain rows, without the ORM's per-row loading (100k rows)
    rows = (
        session.connection()
        .execute(
            select(
                c.loan_id,
                c.customer_id,
                Loan.product,
                Loan.dpd,
                func.coalesce(od.c.overdue_fen, 0),
                _fen(Loan.outstanding_principal),
                c.arm,
                c.id,
                c.stage,
                c.risk_score,
                c.segment,
                c.contact_status,
                c.lost_contact_since,
                c.promise_until,
                c.refused,
                c.failed_visits,
                c.broken_promises,
                c.owner_user_id,
                c.team,
                c.territory,
                Loan.bucket,
            )
            .join(Loan, Loan.id == c.loan_id)
            .outerjoin(od, od.c.loan_id == c.loan_id)
            .where(c.status == "open")
        )
        .all()
    )
    return [
        Fact(
            r[0],
            r[1],
            r[2],
            r[3],
            int(r[4]),
            int(r[5]),
            r[6] or "champion",
            r[7],
            r[8],
            r[9],
            r[10],
            r[11],
            r[12],
            r[13],
            bool(r[14]),
            r[15] or 0,
            r[16] or 0,
            r[17],
            r[18],
            r[19],
            bucket=r[20],
        )
        for r in rows
    ]


def missed_today_facts(
    session: Session, *, business_date: date, settings: CollectionsSettings
) -> list[Fact]:
    """T+0: active loans at DPD 0 with an installment that fell due on the date unpaid."""
    i = Installment
    od = overdue_fen_by_loan()
    missed = (
        select(i.loan_id).where(status_is(i.status, "due"), i.due_date == business_date).distinct()
    )
    rows = session.execute(
        select(
            Loan.id,
            Loan.customer_id,
            Loan.product,
            func.coalesce(od.c.overdue_fen, 0),
            _fen(Loan.outstanding_principal),
        )
        .outerjoin(od, od.c.loan_id == Loan.id)
        .where(Loan.status == "active", Loan.dpd == 0, Loan.id.in_(missed))
    ).all()
    return [_loan_fact(r, 0, settings) for r in rows]


def reminder_facts(
    session: Session, *, business_date: date, settings: CollectionsSettings, offsets: set[int]
) -> list[Fact]:
    """Loans with nothing overdue and an installment due ``k`` days after the next day."""
    if not offsets:
        return []
    work = business_date + timedelta(days=1)
    targets = {work + timedelta(days=k): k for k in offsets}
    i, other = Installment, aliased(Installment)
    # The loans owing anything, read once from the partial index of the due rows
    # (loan_id is never NULL, so NOT IN is NOT EXISTS): correlated per candidate row,
    # SQLite walked every due installment of the book for each of them, which grew
    # with the overdue book times the day's reminders.
    owing = Loan.id.in_(select(other.loan_id).where(status_is(other.status, "due")))
    # the installments falling due on the target dates first, each joined to its loan:
    # without the hint SQLite walked every active loan and probed its installments
    rows = session.execute(
        indexed_by(
            select(
                Loan.id,
                Loan.customer_id,
                Loan.product,
                _fen(Loan.outstanding_principal),
                i.due_date,
                i.period,
            )
            .join(i, i.loan_id == Loan.id)
            .where(
                Loan.status == "active",
                status_is(i.status, "pending"),
                i.due_date.in_(sorted(targets)),
                ~owing,
            ),
            Installment.__table__,
            "ix_installments_pending",
        )
    ).all()
    out = []
    # One fact per loan and date: a plan's installment may share a schedule date. Lowest
    # period first, so ``first_due`` holds when installment 1 is among them; the amount
    # reminded of is summed over the date's installments (``outbox_link._coming``).
    seen: set[tuple[str, date]] = set()
    for loan_id, customer_id, product, outstanding, due, period in sorted(rows, key=_by_period):
        if (loan_id, due) in seen:
            continue
        seen.add((loan_id, due))
        fact = _loan_fact((loan_id, customer_id, product, 0, outstanding), None, settings)
        fact.days_before_due = targets[due]
        fact.first_due = period == 1
        out.append(fact)
    return out


def _by_period(row: Any) -> tuple[str, date, int]:
    return row[0], row[4], row[5]


def _loan_fact(row: Any, dpd: int | None, settings: CollectionsSettings) -> Fact:
    loan_id, customer_id, product, overdue, outstanding = row
    arm = arm_for(loan_id, percent=settings.challenger_percent, salt=settings.arm_salt)
    return Fact(loan_id, customer_id, product, dpd, int(overdue), int(outstanding), arm)


def mark_holds(session: Session, facts: list[Fact]) -> int:
    """Set ``on_hold`` where an active hold (停催) covers the customer or the loan."""
    whole: set[str] = set()
    loans: set[tuple[str, str]] = set()
    for customer_id, loan_id in session.execute(
        select(Hold.customer_id, Hold.loan_id).where(Hold.released_at.is_(None))
    ):
        if loan_id is None:
            whole.add(customer_id)
        else:
            loans.add((customer_id, loan_id))
    held = 0
    if not whole and not loans:
        return 0
    for f in facts:
        if f.customer_id in whole or (f.customer_id, f.loan_id) in loans:
            f.on_hold = True
            held += 1
    return held


def earlier_once(
    session: Session, *, business_date: date, rule_ids: set[str]
) -> set[tuple[int, str]]:
    """(case id, rule id) of the ``once`` rules already planned for a case before."""
    if not rule_ids:
        return set()
    from daihou.collection.tables import CollectionTreatment as T

    rows = session.execute(
        select(T.case_id, T.rule_id)
        .where(
            and_(
                T.rule_id.in_(sorted(rule_ids)),
                T.case_id.is_not(None),
                T.business_date < business_date,
                T.status.in_(["planned", "queued", "done"]),
            )
        )
        .distinct()
    )
    return {(int(case_id), rule_id) for case_id, rule_id in rows}
