"""The simulator: a living loan book run day by day.

Each business day: borrowers act (pay on the due date, pay late, partly or not at all,
by their segment of ``behaviour.yaml`` and what reached them the day before), their
payments are posted through the normal servicing service, end of day closes the date,
then the day hooks run (collections, collectors working their lists, the outbox …)
and record in ``SimContext.reached`` what reached which borrower, which drives the next
day's behaviour. Same seed, same book, same draws: two runs differ only by what their
strategies did.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Any, Protocol

from sqlalchemy import Engine, Select, bindparam, func, select, union_all
from sqlalchemy.orm import Session

from daihou.db.engine import transaction
from daihou.demo.behaviour import BehaviourModel, draw
from daihou.eod.calendar import business_date
from daihou.eod.runner import run_eod
from daihou.kernel.money import ZERO
from daihou.loans.models import INSTALLMENT_STATUSES, Installment, Loan, status_is
from daihou.payments.batch import PaymentRequest
from daihou.payments.batch import post_payments as post_payments_batch
from daihou.policy import PolicyPack

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class Promise:
    due_on: date
    amount: Decimal
    keeps: bool  # drawn when the promise is made


class MessagePost(Protocol):
    """Delivers the messages the collections run queued (the outbox worker)."""

    def deliver(self, engine: Engine, work: date, ctx: SimContext) -> None: ...


@dataclass
class SimContext:
    """What the simulated world remembers between days."""

    seed: int
    behaviour: BehaviourModel
    start: date
    pack: PolicyPack | None = None
    segments: dict[str, str] = field(default_factory=dict)
    reached: dict[str, set[str]] = field(default_factory=dict)  # today's, read tomorrow
    reminded: dict[str, date] = field(default_factory=dict)  # last pre-due reminder
    promises: dict[str, Promise] = field(default_factory=dict)
    owed: dict[str, Decimal] = field(default_factory=dict)  # overdue as of the last close
    dpd: dict[str, int] = field(default_factory=dict)  # days past due as of the last close
    asked: set[str] = field(default_factory=set)  # loans whose borrower asked (plan, waiver)
    asks: dict[str, Any] = field(default_factory=dict)  # today's asks (demo.negotiate)
    complaints_due: list[tuple[str, str]] = field(default_factory=list)  # (loan, collector)
    complaints_open: list[Any] = field(default_factory=list)  # demo.complaints.Pending
    complaints_answered: set[int] = field(default_factory=set)
    post: MessagePost | None = None
    counts: Counter[str] = field(default_factory=Counter)
    amounts: dict[str, Decimal] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds by part of the day

    @contextmanager
    def timed(self, part: str) -> Iterator[None]:
        """Add this process's CPU seconds inside the block to ``cpu[part]`` (the
        database's own time is in them for SQLite, not for PostgreSQL)."""
        t0 = time.process_time()
        try:
            yield
        finally:
            self.cpu[part] = self.cpu.get(part, 0.0) + time.process_time() - t0

    def day(self, d: date) -> int:
        return (d - self.start).days + 1

    def segment(self, loan_id: str) -> str:
        seg = self.segments.get(loan_id)
        if seg is None:
            seg = self.segments[loan_id] = self.behaviour.segment_of(self.seed, loan_id)
        return seg

    def u(self, loan_id: str, d: date, purpose: str) -> float:
        return draw(self.seed, loan_id, self.day(d), purpose)

    def reach(self, loan_id: str, treatment: str) -> None:
        self.reached.setdefault(loan_id, set()).add(treatment)

    def add(self, what: str, amount: Decimal) -> None:
        self.amounts[what] = self.amounts.get(what, ZERO) + amount


DayHook = Callable[[Engine, date, SimContext], None]


@dataclass(frozen=True, slots=True)
class Payment:
    loan_id: str
    amount: Decimal
    reference: str
    overdue: bool  # paid while the loan was past due (a recovery)


def _owed_statement() -> Select[tuple[str, Decimal, int, date]]:
    i = Installment
    unpaid = (i.principal_due + i.interest_due + i.fee_due + i.penalty_due + i.compound_due) - (
        i.principal_paid + i.interest_paid + i.fee_paid + i.penalty_paid + i.compound_paid
    )
    # Not paid, read as the two statuses it can be, each off its own partial index up
    # to the date (``status != 'paid'`` walked every installment of every active loan,
    # twice a day)
    unpaid_rows = union_all(
        *(
            select(i.loan_id, unpaid.label("owed"), i.due_date).where(
                status_is(i.status, status), i.due_date <= bindparam("d")
            )
            for status in INSTALLMENT_STATUSES
            if status != "paid"
        )
    ).subquery()
    u = unpaid_rows.c
    return (
        select(u.loan_id, func.sum(u.owed), Loan.dpd, func.max(u.due_date))
        .join(Loan, Loan.id == u.loan_id)
        .where(Loan.status == "active")
        .group_by(u.loan_id, Loan.dpd)
    )


_OWED = _owed_statement()


def owed_today(session: Session, d: date) -> dict[str, tuple[Decimal, int, bool]]:
    """Per active loan with anything due on or before ``d``: (amount owed as of the last
    end of day, its DPD, whether an installment falls due today)."""
    rows = session.execute(_OWED, {"d": d}).all()
    # Money columns are integer fen in the database: sums come back in fen.
    return {
        loan: (Decimal(int(fen)) / 100, int(dpd), due == d)
        for loan, fen, dpd, due in rows
        if fen > 0
    }


def _whole_yuan(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("1"), rounding=ROUND_CEILING).quantize(Decimal("0.01"))


def _cure_amount(owed: Decimal) -> Decimal:
    """What a borrower pays to clear ``owed`` (yesterday's figure): a day's 罚息 is not in
    it, so people pay a round sum above it."""
    return _whole_yuan(owed * Decimal("1.002") + 1)


def borrower_payments(session: Session, d: date, ctx: SimContext) -> list[Payment]:
    """What borrowers pay today, decided from yesterday's state and treatments."""
    model = ctx.behaviour
    out: list[Payment] = []
    today = owed_today(session, d)
    for loan_id, (owed, dpd, due_today) in sorted(today.items()):
        seg = model.segments[ctx.segment(loan_id)]
        ref = f"sim-{loan_id}-{d:%Y%m%d}"
        if dpd == 0:
            if not due_today:
                continue
            p = seg.on_time
            reminded = ctx.reminded.get(loan_id)
            if reminded is not None and (d - reminded).days <= 15:
                p += seg.reminder_lift
            if ctx.u(loan_id, d, "on-time") < p:
                out.append(Payment(loan_id, owed, ref, overdue=False))
            continue
        promise = ctx.promises.get(loan_id)
        if promise is not None and promise.due_on == d:
            del ctx.promises[loan_id]
            ctx.counts["promises due"] += 1
            if promise.keeps:
                # the promised sum, or what is owed by now if more (罚息 ran on since the
                # call): a kept promise brings the loan current
                ctx.counts["promises kept"] += 1
                amount = max(promise.amount, _cure_amount(owed))
                out.append(Payment(loan_id, amount, ref, True))
                continue
        treatments = ctx.reached.get(loan_id, set())
        hazard = model.hazard(ctx.segment(loan_id), dpd, treatments)
        if ctx.u(loan_id, d, "cure") >= hazard:
            continue
        amount = _cure_amount(owed)
        if ctx.u(loan_id, d, "partial") < seg.partial:
            amount = _whole_yuan(owed / 2)
        out.append(Payment(loan_id, amount, ref, overdue=True))
    return out


def post_payments(engine: Engine, payments: Sequence[Payment], ctx: SimContext) -> None:
    """Post the day's payments as one repayment file (the batch path)."""
    if not payments:
        return
    with transaction(engine) as s:
        today = business_date(s)
    result = post_payments_batch(
        engine,
        [
            PaymentRequest(p.loan_id, p.amount, today, "online", p.reference, row=n)
            for n, p in enumerate(payments, 1)
        ],
        pack=ctx.pack,
    )
    failed = [r for r in result.rows if r.status == "error"]
    if failed:
        bad = failed[0]
        raise RuntimeError(f"simulated payment refused: row {bad.row} ({bad.field}): {bad.error}")
    for p in payments:
        ctx.counts["payments"] += 1
        if p.overdue:
            ctx.counts["recoveries"] += 1
            ctx.add("recovered", p.amount)


def simulate_days(
    engine: Engine,
    ctx: SimContext,
    *,
    days: int,
    hooks: Sequence[DayHook] = (),
    progress: Progress | None = None,
) -> None:
    """Run ``days`` business days from ``ctx.start``: borrowers, end of day, hooks."""
    for k in range(days):
        d = ctx.start + timedelta(days=k)
        with ctx.timed("borrowers"), transaction(engine) as s:
            payments = borrower_payments(s, d, ctx)
        ctx.reached = {}
        with ctx.timed("payments"):
            post_payments(engine, payments, ctx)
        with ctx.timed("end of day"):
            run_eod(engine, through=d, pack=ctx.pack)
        for hook in hooks:
            hook(engine, d, ctx)
        if progress:
            progress("days", k + 1, days)


def cure_probability(model: BehaviourModel, segment: str, days: int) -> float:
    """Chance that an untreated borrower of ``segment`` pays within ``days`` of falling
    due (used to calibrate the defaults; see tests)."""
    keep = 1.0
    for dpd in range(1, days + 1):
        keep *= 1 - model.hazard(segment, dpd, set())
    return 1 - keep


__all__ = [
    "DayHook",
    "Payment",
    "Promise",
    "SimContext",
    "borrower_payments",
    "cure_probability",
    "owed_today",
    "post_payments",
    "simulate_days",
]
