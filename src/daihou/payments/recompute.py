"""Rebuild a loan's cached state from its terms and transactions, then sync the journal.

This is the one path by which installments, allocations, the customer credit, the
settlement date and rate changes are written: posting, reversal, prepayment, refunds
and repricing all end here, so the cache always equals a fresh replay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from daihou.eod.calendar import business_date
from daihou.kernel.allocation import COMPONENTS
from daihou.kernel.replay import Event, ReplayResult, replay
from daihou.loans.models import Installment, Loan, RateChange
from daihou.payments.journal import SYNCED_KINDS, sync_journal, target_lines
from daihou.payments.models import Allocation, Transaction
from daihou.payments.terms import loan_terms, lpr_history
from daihou.policy import PolicyPack, load_pack


@dataclass(frozen=True, slots=True)
class Recomputed:
    loan: Loan
    result: ReplayResult
    entries_written: int


def active_transactions(session: Session, loan_id: str) -> list[Transaction]:
    return list(
        session.execute(
            select(Transaction)
            .where(
                Transaction.loan_id == loan_id,
                Transaction.kind.in_(SYNCED_KINDS),
                Transaction.status == "posted",
            )
            .order_by(Transaction.value_date, Transaction.id)
        ).scalars()
    )


def to_event(txn: Transaction) -> Event:
    detail = txn.detail or {}
    return Event(
        txn_id=txn.id,
        kind=txn.kind,
        value_date=txn.value_date,
        amount=txn.amount,
        full=bool(detail.get("full", False)),
        mode=str(detail.get("mode", "reduce-installment")),
    )


def replay_loan(
    session: Session, loan: Loan, *, as_of: date, pack: PolicyPack | None = None
) -> tuple[ReplayResult, list[Transaction]]:
    """Replay without writing anything (used for quotes and checks)."""
    product = (pack or load_pack()).product(loan.product)
    txns = active_transactions(session, loan.id)
    result = replay(
        loan_terms(loan, product),
        [to_event(t) for t in txns],
        as_of=as_of,
        lpr_history=lpr_history(session),
    )
    return result, txns


def _write_installments(session: Session, loan: Loan, result: ReplayResult, as_of: date) -> None:
    existing = {
        i.period: i
        for i in session.execute(select(Installment).where(Installment.loan_id == loan.id)).scalars()
    }
    seen: set[int] = set()
    for state in result.installments:
        seen.add(state.period)
        values = {
            "start_date": state.start_date,
            "due_date": state.due_date,
            "annual_rate": state.annual_rate,
            "status": state.status(as_of),
            "paid_on": state.paid_on,
        }
        for c in COMPONENTS:
            values[f"{c}_due"] = state.due[c]
            values[f"{c}_paid"] = state.paid[c]
        row = existing.get(state.period)
        if row is None:
            session.add(Installment(loan_id=loan.id, period=state.period, **values))
            continue
        for key, value in values.items():
            if getattr(row, key) != value:
                setattr(row, key, value)
    for period, row in existing.items():
        if period not in seen:
            session.delete(row)


def _write_allocations(session: Session, loan: Loan, result: ReplayResult) -> None:
    session.execute(delete(Allocation).where(Allocation.loan_id == loan.id))
    session.add_all(
        Allocation(
            transaction_id=txn_id,
            loan_id=loan.id,
            period=part.period,
            component=part.component,
            amount=part.amount,
        )
        for txn_id, parts in result.allocations.items()
        for part in parts
    )


def _write_rate_changes(session: Session, loan: Loan, result: ReplayResult) -> None:
    session.execute(
        delete(RateChange).where(RateChange.loan_id == loan.id, RateChange.reason == "lpr-repricing")
    )
    session.add_all(
        RateChange(
            loan_id=loan.id,
            effective_on=rc.effective_on,
            old_rate=rc.old_rate,
            new_rate=rc.new_rate,
            lpr_rate=rc.lpr,
            spread_bps=loan.spread_bps,
            reason="lpr-repricing",
        )
        for rc in result.rate_changes
    )


def recompute_loan(
    session: Session, loan_id: str, *, pack: PolicyPack | None = None
) -> Recomputed:
    """Replay the loan as of the business date and write every cache and journal delta.

    The caller holds the loan lock (see ``payments.service.lock_loan``).
    """
    today = business_date(session)
    loan = session.get(Loan, loan_id)
    if loan is None:
        raise LookupError(f"loan {loan_id!r} not found")
    result, txns = replay_loan(session, loan, as_of=today, pack=pack)
    _write_installments(session, loan, result, today)
    _write_allocations(session, loan, result)
    _write_rate_changes(session, loan, result)
    loan.outstanding_principal = result.outstanding_principal
    loan.credit_balance = result.credit_balance
    loan.current_rate = result.current_rate
    loan.closed_on = result.closed_on
    loan.status = "closed" if result.closed_on is not None else "active"
    by_id = {t.id: t for t in txns}
    targets = {
        t.id: target_lines(t, result.allocations.get(t.id, []), result.charges.get(t.id, []))
        for t in txns
    }
    written = sync_journal(
        session, loan_id=loan.id, targets=targets, transactions=by_id, booked_on=today
    )
    session.flush()
    return Recomputed(loan=loan, result=result, entries_written=written)
