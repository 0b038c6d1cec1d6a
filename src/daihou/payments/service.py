"""Servicing use cases: post a repayment, reverse, prepay, charge a fee, refund credit.

Every function takes the caller's session and leaves commit to the caller. Each first
locks the loan (``lock_loan``) so postings on one loan are serialised on PostgreSQL and
SQLite alike, then recomputes the loan, which writes caches and journal deltas.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from daihou.auth.actor import SYSTEM, Actor
from daihou.auth.permissions import authorize
from daihou.compliance.audit.service import record as audit_record
from daihou.eod.calendar import business_date, ensure_open
from daihou.kernel.allocation import Applied
from daihou.kernel.money import ZERO, to_money
from daihou.kernel.replay import ReplayError
from daihou.ledger.service import post_entry
from daihou.loans.models import Loan
from daihou.payments.errors import NotFound, ReferenceConflict, ServicingError
from daihou.payments.journal import WRITTEN_OFF, reversal_lines
from daihou.payments.models import Allocation, Transaction
from daihou.payments.recompute import recompute_loan
from daihou.policy import PolicyPack

CENT = Decimal("0.01")
CHANNELS = ("bank-debit", "online", "counter", "transfer")  # 银行代扣, 线上, 柜台, 转账
PREPAY_MODES = ("shorten-term", "reduce-installment")
REVERSIBLE = ("repayment", "prepayment", "fee", "refund", "waiver", "recovery")


@dataclass(frozen=True, slots=True)
class Posting:
    transaction_id: int
    loan_id: str
    kind: str
    amount: Decimal
    value_date: date
    channel: str | None
    reference: str | None
    created: bool  # False when an earlier posting with this reference was returned
    allocation: tuple[Applied, ...]
    note: str | None = None
    loan_status: str = "active"


def lock_loan(session: Session, loan_id: str) -> Loan:
    """Serialise work on one loan: a no-op UPDATE takes the row lock (PostgreSQL) or the
    write lock (SQLite) as the first statement of the unit of work."""
    result = session.execute(update(Loan).where(Loan.id == loan_id).values(version=Loan.version))
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound(f"loan {loan_id!r} not found", field="loan_id")
    loan = session.get(Loan, loan_id, populate_existing=True)
    assert loan is not None
    return loan


def _allocation_of(session: Session, txn_id: int) -> tuple[Applied, ...]:
    rows = session.execute(
        select(Allocation).where(Allocation.transaction_id == txn_id).order_by(Allocation.id)
    ).scalars()
    return tuple(Applied(r.period, r.component, r.amount) for r in rows)


def _posting(
    session: Session,
    txn: Transaction,
    *,
    created: bool,
    note: str | None = None,
    allocation: tuple[Applied, ...] | None = None,
) -> Posting:
    loan = session.get(Loan, txn.loan_id)
    return Posting(
        transaction_id=txn.id,
        loan_id=txn.loan_id,
        kind=txn.kind,
        amount=txn.amount,
        value_date=txn.value_date,
        channel=txn.channel,
        reference=txn.reference,
        created=created,
        allocation=_allocation_of(session, txn.id) if allocation is None else allocation,
        note=note,
        loan_status=loan.status if loan else "active",
    )


def _existing(session: Session, channel: str, reference: str) -> Transaction | None:
    return session.execute(
        select(Transaction).where(
            Transaction.channel == channel, Transaction.reference == reference
        )
    ).scalar_one_or_none()


def _same_request(
    txn: Transaction, loan_id: str, kind: str, amount: Decimal, value_date: date
) -> Transaction:
    if (txn.loan_id, txn.kind, txn.amount, txn.value_date) != (loan_id, kind, amount, value_date):
        raise ReferenceConflict(
            f"{txn.channel} reference {txn.reference!r} was already used by transaction "
            f"{txn.id} ({txn.kind} {txn.amount} on {txn.value_date} for loan {txn.loan_id})",
            field="reference",
        )
    return txn


def _validate(
    session: Session,
    loan: Loan,
    *,
    amount: Any,
    value_date: date,
    channel: str,
    reference: str,
    channels: tuple[str, ...] = CHANNELS,
) -> tuple[Decimal, date]:
    money = check_fields(amount=amount, channel=channel, reference=reference, channels=channels)
    today = ensure_open(session)
    check_value_date(loan, value_date, today)
    return money, today


def check_fields(
    *, amount: Any, channel: str, reference: str, channels: tuple[str, ...] = CHANNELS
) -> Decimal:
    """Amount, channel and reference of a posting request (no I/O; the batch path runs
    the same checks in the same order)."""
    money = to_money(amount, field="amount")
    if money <= ZERO:
        raise ServicingError("must be greater than 0", field="amount")
    if channel not in channels:
        raise ServicingError(f"{channel!r} is not one of {', '.join(channels)}", field="channel")
    if not reference or not reference.strip() or len(reference) > 128:
        raise ServicingError(
            "a non-empty reference of at most 128 characters is required", field="reference"
        )
    return money


def check_value_date(loan: Loan, value_date: date, today: date) -> None:
    """A value date lies between the loan's disbursement and the business date."""
    if value_date > today:
        raise ServicingError(f"{value_date} is after the business date {today}", field="on")
    if value_date < loan.disbursed_on:
        raise ServicingError(
            f"{value_date} is before the disbursement date {loan.disbursed_on}", field="on"
        )


def _post(
    session: Session,
    *,
    loan_id: str,
    kind: str,
    amount: Any,
    value_date: date,
    channel: str,
    reference: str,
    detail: dict[str, Any] | None = None,
    pack: PolicyPack | None = None,
    actor: Actor = SYSTEM,
    action: str = "payment.post",
) -> Posting:
    basis = authorize(actor, action)
    loan = lock_loan(session, loan_id)
    if loan.status == WRITTEN_OFF:
        kind = recovery_kind(loan, kind, value_date)
    money, today = _validate(
        session,
        loan,
        amount=amount,
        value_date=value_date,
        channel=channel,
        reference=reference,
        channels=("fee",) if kind == "fee" else CHANNELS,
    )
    found = _existing(session, channel, reference)
    if found is not None:
        return _posting(
            session, _same_request(found, loan_id, kind, money, value_date), created=False
        )
    txn = Transaction(
        loan_id=loan_id,
        kind=kind,
        value_date=value_date,
        booked_on=today,
        amount=money,
        channel=channel,
        reference=reference,
        detail=detail,
    )
    try:
        with session.begin_nested():
            session.add(txn)
            session.flush()
    except IntegrityError:
        # Another request with this reference committed first (a different loan, so it
        # did not wait on our lock): return it, or refuse if it differs.
        found = _existing(session, channel, reference)
        if found is None:
            raise
        return _posting(
            session, _same_request(found, loan_id, kind, money, value_date), created=False
        )
    try:
        done = recompute_loan(session, loan_id, pack=pack)
    except ReplayError as exc:
        raise ServicingError(str(exc)) from exc
    replay_closed_days(session, loan_id, since=value_date, today=today, pack=pack)
    loan.version += 1
    posting = _posting(
        session,
        txn,
        created=True,
        note=done.result.notes.get(txn.id),
        # just written from this replay: no need to read the allocation back
        allocation=tuple(
            Applied(a.period, a.component, a.amount.quantize(CENT))
            for a in done.result.allocations.get(txn.id, [])
        ),
    )
    audit_record(
        session,
        actor=actor,
        action=action,
        object_type="transaction",
        object_id=str(txn.id),
        after={
            "loan_id": loan_id,
            "kind": kind,
            "amount": money,
            "value_date": value_date,
            "channel": channel,
            "reference": reference,
            "allocation": [(a.period, a.component, a.amount) for a in posting.allocation],
        },
        basis=basis.as_dict(),
        business_date=today,
    )
    return posting


def recovery_kind(loan: Loan, kind: str, value_date: date) -> str:
    """A loan written off (核销) takes only repayments, dated on or after the write-off,
    and books them as recoveries (核销后收回)."""
    if kind != "repayment":
        raise ServicingError(
            f"loan {loan.id} is written off; a {kind} cannot be posted", field="loan_id"
        )
    assert loan.written_off_on is not None
    if value_date < loan.written_off_on:
        raise ServicingError(
            f"loan {loan.id} was written off on {loan.written_off_on}; a recovery cannot be "
            f"dated {value_date}",
            field="on",
        )
    return "recovery"


def post_payment(
    *,
    session: Session,
    loan_id: str,
    amount: Any,
    value_date: date,
    channel: str,
    reference: str,
    pack: PolicyPack | None = None,
    actor: Actor = SYSTEM,
) -> Posting:
    """Post a repayment (还款) from a channel. The same channel reference posted again
    returns the original posting and changes nothing; a backdated value date replays
    the loan from that date."""
    return _post(
        session,
        loan_id=loan_id,
        kind="repayment",
        amount=amount,
        value_date=value_date,
        channel=channel,
        reference=reference,
        pack=pack,
        actor=actor,
        action="payment.post",
    )


def prepay(
    *,
    session: Session,
    loan_id: str,
    amount: Any,
    value_date: date,
    full: bool = False,
    mode: str = "reduce-installment",
    channel: str = "counter",
    reference: str | None = None,
    pack: PolicyPack | None = None,
    actor: Actor = SYSTEM,
) -> Posting:
    """Prepayment (提前还款): arrears first, then interest accrued to the value date,
    then principal with the product's penalty (违约金); the rest of the schedule is
    re-amortised (``mode``) or, when ``full``, the loan is paid off."""
    if mode not in PREPAY_MODES:
        raise ServicingError(f"{mode!r} is not one of {', '.join(PREPAY_MODES)}", field="mode")
    return _post(
        session,
        loan_id=loan_id,
        kind="prepayment",
        amount=amount,
        value_date=value_date,
        channel=channel,
        reference=reference or f"prepay-{uuid.uuid4().hex}",
        detail={"full": full, "mode": mode},
        pack=pack,
        actor=actor,
        action="payment.prepay",
    )


def refund_credit(
    *,
    session: Session,
    loan_id: str,
    amount: Any | None = None,
    value_date: date | None = None,
    channel: str = "transfer",
    reference: str | None = None,
    pack: PolicyPack | None = None,
    actor: Actor = SYSTEM,
) -> Posting:
    """Refund customer credit (溢缴款退款); all of it when ``amount`` is None."""
    loan = lock_loan(session, loan_id)
    if loan.credit_balance <= ZERO:
        raise ServicingError(f"loan {loan_id} has no customer credit to refund", field="amount")
    value = amount if amount is not None else loan.credit_balance
    if to_money(value, field="amount") > loan.credit_balance:
        raise ServicingError(
            f"{value} exceeds the customer credit {loan.credit_balance}", field="amount"
        )
    return _post(
        session,
        loan_id=loan_id,
        kind="refund",
        amount=value,
        value_date=value_date or business_date(session),
        channel=channel,
        reference=reference or f"refund-{uuid.uuid4().hex}",
        pack=pack,
        actor=actor,
        action="payment.refund",
    )


def charge_fee(
    *,
    session: Session,
    loan_id: str,
    amount: Any,
    value_date: date,
    reason: str,
    reference: str | None = None,
    pack: PolicyPack | None = None,
    actor: Actor = SYSTEM,
) -> Posting:
    """Charge a fee on the oldest unpaid due installment (else the next one)."""
    if not reason.strip():
        raise ServicingError("a reason is required", field="reason")
    loan = lock_loan(session, loan_id)
    if loan.status == "closed":
        raise ServicingError(f"loan {loan_id} is settled; no fee can be charged", field="loan_id")
    return _post(
        session,
        loan_id=loan_id,
        kind="fee",
        amount=amount,
        value_date=value_date,
        channel="fee",
        reference=reference or f"fee-{uuid.uuid4().hex}",
        detail={"reason": reason},
        pack=pack,
        actor=actor,
        action="fee.charge",
    )


def reverse_transaction(
    *,
    session: Session,
    transaction_id: int,
    reason: str,
    pack: PolicyPack | None = None,
    actor: Actor = SYSTEM,
) -> Posting:
    """Reverse (冲正) a posting: its journal is undone line for line by a reversal entry
    and the loan is replayed without it, which restores the exact prior state."""
    basis = authorize(actor, "payment.reverse")
    if not reason or not reason.strip():
        raise ServicingError("a reason is required", field="reason")
    txn = session.get(Transaction, transaction_id)
    if txn is None:
        raise NotFound(f"transaction {transaction_id} not found", field="transaction_id")
    lock_loan(session, txn.loan_id)
    session.refresh(txn)
    if txn.kind not in REVERSIBLE:
        raise ServicingError(f"a {txn.kind} cannot be reversed", field="transaction_id")
    loan = session.get(Loan, txn.loan_id)
    if loan is not None and loan.status == WRITTEN_OFF and txn.kind != "recovery":
        raise ServicingError(
            f"loan {txn.loan_id} is written off; only recoveries can be reversed",
            field="transaction_id",
        )
    if txn.status != "posted":
        raise ServicingError(
            f"transaction {transaction_id} is already {txn.status}", field="transaction_id"
        )
    today = ensure_open(session)
    lines = reversal_lines(session, loan_id=txn.loan_id, original_id=txn.id)
    txn.status = "reversed"
    reversal = Transaction(
        loan_id=txn.loan_id,
        kind="reversal",
        value_date=txn.value_date,
        booked_on=today,
        amount=txn.amount,
        channel=None,
        reference=None,
        reverses_id=txn.id,
        reason=reason.strip(),
    )
    session.add(reversal)
    session.flush()
    if lines:
        post_entry(
            session,
            kind="reversal",
            entry_date=txn.value_date,
            booked_on=today,
            lines=lines,
            loan_id=txn.loan_id,
            transaction_id=reversal.id,
            memo=f"reversal of transaction {txn.id}: {reason.strip()}"[:256],
        )
    try:
        recompute_loan(session, txn.loan_id, pack=pack)
    except ReplayError as exc:
        raise ServicingError(
            f"cannot reverse transaction {transaction_id}: {exc}", field="transaction_id"
        ) from exc
    replay_closed_days(session, txn.loan_id, since=txn.value_date, today=today, pack=pack)
    audit_record(
        session,
        actor=actor,
        action="payment.reverse",
        object_type="transaction",
        object_id=str(txn.id),
        before={"status": "posted", "amount": txn.amount, "kind": txn.kind},
        after={"status": "reversed", "reversal_id": reversal.id, "reason": reason.strip()},
        basis=basis.as_dict(),
        business_date=today,
    )
    return _posting(session, reversal, created=True)


def replay_closed_days(
    session: Session, loan_id: str, *, since: date, today: date, pack: PolicyPack | None
) -> None:
    """A backdated event also redoes the loan's closed business dates (DPD, buckets,
    classes, events, snapshots) from its value date."""
    if since < today:
        from daihou.eod.history import rewrite_history

        rewrite_history(session, loan_id, since=since, today=today, pack=pack)
