"""Promises to pay (承诺还款): record, evaluate daily, kept rate per collector.

A promise is an amount by a date. It is *kept* when the repayments and prepayments
posted on the loan with a value date from the day the promise was made through
``until`` (the promised date plus the pack's grace days) add up to at least
``amount - tolerance``; it is *broken* when ``until`` has passed without that. While a
promise is open the case's ``promise_until`` is set, and the contact gate pauses
treatments through that day; settling the promise clears it, and a broken promise
adds one to the case's ``broken_promises`` (the strategy escalates on it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    and_,
    bindparam,
    case,
    exists,
    func,
    select,
    type_coerce,
    update,
)
from sqlalchemy.orm import Session

from daihou.auth.actor import SYSTEM, Actor
from daihou.auth.permissions import authorize
from daihou.collection.case_lists import in_case_scope
from daihou.collection.casework import (
    audit,
    basis_of,
    money,
    open_case,
    overdue_amount,
    overdue_amounts_on,
    settings_of,
)
from daihou.collection.contact_models import PromiseToPay
from daihou.collection.contact_settings import PromiseSettings
from daihou.collection.models import CollectionCase
from daihou.eod.calendar import business_date as current_business_date
from daihou.payments.models import Transaction
from daihou.policy.schema import PolicyPack

PAYMENT_KINDS = ("repayment", "prepayment")
CENT = Decimal("0.01")


def _fen(column: Any) -> Any:
    return type_coerce(column, BigInteger)


def tolerance_for(amount: Decimal, rules: PromiseSettings) -> Decimal:
    """max(tolerance_amount, tolerance_rate × amount), rounded half up to the fen."""
    by_rate = (amount * rules.tolerance_rate).quantize(CENT, rounding=ROUND_HALF_UP)
    return max(rules.tolerance_amount, by_rate)


def create_promise(
    session: Session,
    *,
    case: CollectionCase,
    collector: str,
    amount: Any,
    promised_on: date,
    made_on: date,
    rules: PromiseSettings,
    contact_log_id: int | None = None,
    visit_id: int | None = None,
    facts: PromiseFacts | None = None,
) -> PromiseToPay:
    """Validate and insert a promise on a locked case and set ``promise_until``.

    Callers authorise (``promise.record``) and audit. Refuses: an amount not above zero
    or above the loan's overdue total on ``made_on``; a date before ``made_on`` or
    beyond the pack's horizon; a second open promise on the case.

    ``facts`` (``promise_facts``, read for a batch of promises up front): the overdue
    totals and open promises are taken from it instead of two queries, the promise
    joins it, and the caller flushes (the promise has no id until then); without it
    the promise is flushed here.
    """
    value = money(amount, "promise amount")
    if value <= 0:
        raise ValueError(f"promise amount must be above zero, not {value}")
    if facts is None:
        overdue = overdue_amount(session, case.loan_id, made_on)
    else:
        overdue = facts.overdue[(case.loan_id, made_on)]
    if value > overdue:
        raise ValueError(
            f"promise amount {value} is more than the overdue total {overdue} of loan "
            f"{case.loan_id} on {made_on}"
        )
    latest = made_on + timedelta(days=rules.max_horizon_days)
    if not made_on <= promised_on <= latest:
        raise ValueError(
            f"promise date {promised_on} must be from {made_on} to {latest} "
            f"(at most {rules.max_horizon_days} days ahead)"
        )
    if facts is None:
        existing = session.scalar(_OPEN_PROMISE, {"case_id": case.id})
    else:
        existing = facts.open_promise(session, case.id)
    if existing is not None:
        raise ValueError(
            f"case {case.id} already has open promise {existing} (until {case.promise_until}); "
            "cancel it before recording another"
        )
    until = promised_on + timedelta(days=rules.grace_days)
    promise = PromiseToPay(
        case_id=case.id,
        loan_id=case.loan_id,
        customer_id=case.customer_id,
        contact_log_id=contact_log_id,
        visit_id=visit_id,
        amount=value,
        made_on=made_on,
        promised_on=promised_on,
        grace_days=rules.grace_days,
        tolerance=tolerance_for(value, rules),
        until=until,
        status="open",
        collector=collector,
    )
    session.add(promise)
    case.promise_until = until
    case.refused = False  # a borrower who promises is no longer refusing
    if facts is None:
        session.flush()
    else:
        facts.opened[case.id] = promise
    return promise


_OPEN_PROMISE = select(PromiseToPay.id).where(
    PromiseToPay.case_id == bindparam("case_id"), PromiseToPay.status == "open"
)  # built once
_OPEN_PROMISES = select(PromiseToPay.case_id, PromiseToPay.id).where(
    PromiseToPay.case_id.in_(bindparam("case_ids", expanding=True)),
    PromiseToPay.status == "open",
)


@dataclass(slots=True)
class PromiseFacts:
    """What ``create_promise`` reads about a batch of cases, read once: the overdue
    total of each (loan, day made) and each case's open promise; promises the batch
    creates join ``opened``."""

    overdue: dict[tuple[str, date], Decimal]
    open_ids: dict[int, int]
    opened: dict[int, PromiseToPay] = field(default_factory=dict)

    def open_promise(self, session: Session, case_id: int) -> int | None:
        """The case's open promise id, as the query would find it (a promise of this
        batch is flushed for its id)."""
        mine = self.opened.get(case_id)
        if mine is not None:
            session.flush()
            return mine.id
        return self.open_ids.get(case_id)


def promise_facts(
    session: Session, subjects: Sequence[tuple[CollectionCase, date]]
) -> PromiseFacts:
    """``PromiseFacts`` for promises on these (case, day made) pairs: one read of the
    overdue totals per day, one of the open promises."""
    by_day: dict[date, set[str]] = {}
    for case_, made_on in subjects:
        by_day.setdefault(made_on, set()).add(case_.loan_id)
    overdue: dict[tuple[str, date], Decimal] = {}
    for made_on, loans in by_day.items():
        for loan_id, amount in overdue_amounts_on(session, loans, made_on).items():
            overdue[(loan_id, made_on)] = amount
    case_ids = sorted({case_.id for case_, _ in subjects})
    open_ids: dict[int, int] = {}
    for start in range(0, len(case_ids), 500):
        rows = session.execute(_OPEN_PROMISES, {"case_ids": case_ids[start : start + 500]})
        for case_id, promise_id in rows:
            open_ids.setdefault(case_id, promise_id)
    return PromiseFacts(overdue, open_ids)


def promise_snapshot(p: PromiseToPay) -> dict[str, Any]:
    return {
        "id": p.id,
        "case_id": p.case_id,
        "loan_id": p.loan_id,
        "amount": p.amount,
        "made_on": p.made_on,
        "promised_on": p.promised_on,
        "until": p.until,
        "tolerance": p.tolerance,
        "status": p.status,
        "paid": p.paid,
        "resolved_on": p.resolved_on,
        "collector": p.collector,
    }


def record_promise(
    session: Session,
    *,
    actor: Actor,
    case_id: int,
    amount: Any,
    promised_on: date,
    made_on: date | None = None,
    pack: PolicyPack | None = None,
) -> PromiseToPay:
    """A promise taken outside a logged contact (e.g. by letter or in the app)."""
    case, basis = open_case(session, actor, case_id, "promise.record")
    rules = settings_of(pack).promise
    made = made_on or current_business_date(session)
    promise = create_promise(
        session,
        case=case,
        collector=actor.user_id,
        amount=amount,
        promised_on=promised_on,
        made_on=made,
        rules=rules,
    )
    audit(
        session,
        actor,
        "promise.record",
        "promise",
        promise.id,
        after=promise_snapshot(promise),
        basis=basis_of(basis),
    )
    return promise


def cancel_promise(session: Session, *, actor: Actor, promise_id: int, reason: str) -> PromiseToPay:
    """Withdraw an open promise recorded in error; it counts neither kept nor broken."""
    promise = session.get(PromiseToPay, promise_id)
    if promise is None:
        raise LookupError(f"no promise {promise_id}")
    case, basis = open_case(session, actor, promise.case_id, "promise.record")
    if promise.status != "open":
        raise ValueError(f"promise {promise_id} is already {promise.status}")
    if not reason or not reason.strip():
        raise ValueError("a reason is required to cancel a promise")
    before = promise_snapshot(promise)
    promise.status = "cancelled"
    promise.resolved_on = current_business_date(session)
    case.promise_until = None
    session.flush()
    audit(
        session,
        actor,
        "promise.cancel",
        "promise",
        promise.id,
        before=before,
        after=promise_snapshot(promise),
        basis=basis_of(basis, reason=reason.strip()),
    )
    return promise


@dataclass(frozen=True, slots=True)
class PromiseRun:
    business_date: date
    kept: list[int] = field(default_factory=list)
    broken: list[int] = field(default_factory=list)


def evaluate_promises(
    session: Session, business_date: date, *, actor: Actor = SYSTEM
) -> PromiseRun:
    """Settle the open promises as of ``business_date`` (daily, after end of day).

    Four set-based statements: mark kept the open promises whose payments reach the
    threshold; add one broken promise to the cases whose (still open) promise ran past
    ``until``; mark those promises broken; clear ``promise_until`` of cases left without
    an open promise. Running it twice for the same day changes nothing the second time.
    """
    basis = authorize(actor, "collections.run")
    p, t, c = PromiseToPay, Transaction, CollectionCase
    paid = (
        select(func.coalesce(func.sum(_fen(t.amount)), 0))
        .where(
            t.loan_id == p.loan_id,
            t.kind.in_(PAYMENT_KINDS),
            t.status == "posted",
            t.value_date >= p.made_on,
            t.value_date <= p.until,
            t.value_date <= business_date,
        )
        .correlate(p)
        .scalar_subquery()
    )
    due = and_(p.status == "open", p.made_on <= business_date)
    settle = {"paid": paid, "resolved_on": business_date}
    kept = session.scalars(
        update(p)
        .where(due, paid >= _fen(p.amount) - _fen(p.tolerance))
        .values(status="kept", **settle)
        .returning(p.id)
        .execution_options(synchronize_session=False)
    ).all()
    lapsed = and_(due, p.until < business_date)
    session.execute(
        update(c)
        .where(c.id.in_(select(p.case_id).where(lapsed)))
        .values(broken_promises=c.broken_promises + 1)
        .execution_options(synchronize_session=False)
    )
    broken = session.scalars(
        update(p)
        .where(lapsed)
        .values(status="broken", **settle)
        .returning(p.id)
        .execution_options(synchronize_session=False)
    ).all()
    open_promise = exists().where(p.case_id == c.id, p.status == "open")
    settled_today = exists().where(p.case_id == c.id, p.resolved_on == business_date)
    session.execute(
        update(c)
        .where(c.promise_until.is_not(None), settled_today, ~open_promise)
        .values(promise_until=None)
        .execution_options(synchronize_session=False)
    )
    session.expire_all()
    run = PromiseRun(business_date, sorted(kept), sorted(broken))
    if kept or broken:
        audit(
            session,
            actor,
            "promise.evaluate",
            "promise-run",
            business_date.isoformat(),
            after={"kept": run.kept, "broken": run.broken},
            basis=basis_of(basis),
        )
    return run


@dataclass(frozen=True, slots=True)
class KeptRate:
    """Promises settled in a period by one collector: by count and by promised amount."""

    collector: str
    kept: int
    broken: int
    kept_amount: Decimal
    promised_amount: Decimal

    @property
    def rate(self) -> Decimal:
        total = self.kept + self.broken
        return _pct(Decimal(self.kept), Decimal(total))

    @property
    def amount_rate(self) -> Decimal:
        return _pct(self.kept_amount, self.promised_amount)


def _pct(part: Decimal, whole: Decimal) -> Decimal:
    if not whole:
        return Decimal("0.00")
    return (part * 100 / whole).quantize(CENT, rounding=ROUND_HALF_UP)


def kept_rates(
    session: Session,
    *,
    actor: Actor,
    since: date,
    until: date,
    collector: str | None = None,
) -> list[KeptRate]:
    """Kept rate (兑现率) per collector over promises settled from ``since`` through
    ``until``; cancelled and still open promises do not count. Needs ``kpi.view``."""
    authorize(actor, "kpi.view")
    p = PromiseToPay
    is_kept = p.status == "kept"
    query = (
        select(
            p.collector,
            func.sum(case((is_kept, 1), else_=0)),
            func.sum(case((is_kept, 0), else_=1)),
            func.coalesce(func.sum(case((is_kept, _fen(p.amount)), else_=0)), 0),
            func.coalesce(func.sum(_fen(p.amount)), 0),
        )
        .where(
            p.status.in_(("kept", "broken")), and_(p.resolved_on >= since, p.resolved_on <= until)
        )
        .group_by(p.collector)
        .order_by(p.collector)
    )
    if collector is not None:
        query = query.where(p.collector == collector)
    return [
        KeptRate(
            who,
            int(k),
            int(b),
            (Decimal(int(kf)) / 100).quantize(CENT),
            (Decimal(int(tf)) / 100).quantize(CENT),
        )
        for who, k, b, kf, tf in session.execute(query)
    ]


def list_promises(
    session: Session,
    *,
    actor: Actor,
    case_id: int | None = None,
    status: str | None = None,
    limit: int = 200,
) -> list[PromiseToPay]:
    """Promises of the cases the actor may see (``case.view`` scope), newest first."""
    authorize(actor, "case.view")
    query = in_case_scope(select(PromiseToPay), PromiseToPay.case_id, actor)
    if case_id is not None:
        query = query.where(PromiseToPay.case_id == case_id)
    if status is not None:
        query = query.where(PromiseToPay.status == status)
    return list(session.scalars(query.order_by(PromiseToPay.id.desc()).limit(limit)))
