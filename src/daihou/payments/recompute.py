"""Rebuild a loan's cached state from its terms and transactions, then sync the journal.

This is the one path by which installments, allocations, the customer credit, the
settlement date and rate changes are written: posting, reversal, prepayment, refunds
and repricing all end here, so the cache always equals a fresh replay.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import cast

from sqlalchemy import Table, delete, func, insert, select
from sqlalchemy.orm import Session

from daihou.eod.calendar import business_date
from daihou.kernel.money import ZERO
from daihou.kernel.replay import Event, ReplayResult, replay
from daihou.ledger.service import post_entry
from daihou.loans.models import Loan, RateChange
from daihou.payments.installment_rows import write_installments
from daihou.payments.journal import SYNCED_KINDS, WRITTEN_OFF, sync_journal, target_lines
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
        plan=tuple(
            (date.fromisoformat(str(d)), Decimal(str(a))) for d, a in detail.get("plan", [])
        ),
        plan_number=int(detail.get("plan_number", 0)),
    )


def replay_loan(
    session: Session, loan: Loan, *, as_of: date, pack: PolicyPack | None = None
) -> tuple[ReplayResult, list[Transaction]]:
    """Replay without writing anything (used for quotes and checks)."""
    product = (pack or load_pack()).product(loan.product)
    txns = active_transactions(session, loan.id)
    terms = loan_terms(loan, product)
    result = replay(
        terms,
        [to_event(t) for t in txns],
        as_of=as_of,
        # only a floating-rate loan reads the LPR history: spare the others the query
        lpr_history=lpr_history(session) if terms.floating is not None else (),
    )
    return result, txns


def _write_allocations(session: Session, loan: Loan, result: ReplayResult) -> None:
    table = cast(Table, Allocation.__table__)
    session.execute(delete(table).where(table.c.loan_id == loan.id))
    rows = [
        {
            "transaction_id": txn_id,
            "loan_id": loan.id,
            "period": part.period,
            "component": part.component,
            "amount": part.amount,
        }
        for txn_id, parts in result.allocations.items()
        for part in parts
    ]
    if rows:
        session.execute(insert(table), rows)


def _write_rate_changes(session: Session, loan: Loan, result: ReplayResult) -> bool:
    """Write the loan's LPR repricings if they differ from those stored; whether they
    were already stored (then the cached schedule already holds every repricing)."""
    return loan.id in write_rate_changes(session, {loan.id: (loan, result)})


def write_rate_changes(
    session: Session, replayed: Mapping[str, tuple[Loan, ReplayResult]]
) -> set[str]:
    """``_write_rate_changes`` for many loans at once: one read of their stored
    repricings, one delete and one insert for those that differ. Returns the loans
    whose repricings were already stored."""
    if not replayed:
        return set()
    table = cast(Table, RateChange.__table__)
    have: dict[str, list[tuple[object, ...]]] = {loan_id: [] for loan_id in replayed}
    for row in session.execute(
        select(
            table.c.loan_id,
            table.c.effective_on,
            table.c.old_rate,
            table.c.new_rate,
            table.c.lpr_rate,
        )
        .where(table.c.loan_id.in_(sorted(replayed)), table.c.reason == "lpr-repricing")
        .order_by(table.c.loan_id, table.c.effective_on)
    ):
        have[row[0]].append(tuple(row[1:]))
    stored: set[str] = set()
    rows: list[dict[str, object]] = []
    for loan_id, (loan, result) in replayed.items():
        want = [(rc.effective_on, rc.old_rate, rc.new_rate, rc.lpr) for rc in result.rate_changes]
        if have[loan_id] == want:
            stored.add(loan_id)
            continue
        rows += [
            {
                "loan_id": loan_id,
                "effective_on": d,
                "old_rate": old,
                "new_rate": new,
                "lpr_rate": lpr,
                "spread_bps": loan.spread_bps,
                "reason": "lpr-repricing",
            }
            for d, old, new, lpr in want
        ]
    changed = sorted(replayed.keys() - stored)
    if changed:
        session.execute(
            delete(table).where(table.c.loan_id.in_(changed), table.c.reason == "lpr-repricing")
        )
    if rows:
        session.execute(insert(table), rows)
    return stored


def _sync_accruals(session: Session, loan_id: str, result: ReplayResult, today: date) -> int:
    """Keep the accrual subledger (and the ledger) equal to the 罚息/复利 on the loan's
    schedule: a backdated payment that shortens an overdue spell reverses what was
    over-accrued with a correcting entry; nothing posted is changed."""
    from daihou.eod.accrual import recompute_adjustment
    from daihou.eod.models import Accrual

    have_p, have_c = session.execute(
        select(func.sum(Accrual.penalty), func.sum(Accrual.compound)).where(
            Accrual.loan_id == loan_id
        )
    ).one()
    adjustment = recompute_adjustment(loan_id, today, result, (have_p or ZERO, have_c or ZERO))
    if adjustment is None:
        return 0
    row, draft, _ = adjustment
    entry = post_entry(
        session,
        kind=draft.kind,
        entry_date=draft.entry_date,
        booked_on=draft.booked_on,
        lines=draft.lines,
        loan_id=loan_id,
        memo=draft.memo,
    )
    session.add(Accrual(**row, journal_entry_id=entry.id))
    return 1


def cache_loan(loan: Loan, result: ReplayResult) -> None:
    """The loan row's cached columns from a replay (also used by the batch path)."""
    loan.outstanding_principal = result.outstanding_principal
    loan.credit_balance = result.credit_balance
    loan.current_rate = result.current_rate
    loan.closed_on = result.closed_on
    if loan.status != WRITTEN_OFF:  # 核销 is final; recoveries do not reopen the loan
        loan.status = "closed" if result.closed_on is not None else "active"


def recompute_loan(session: Session, loan_id: str, *, pack: PolicyPack | None = None) -> Recomputed:
    """Replay the loan as of the business date and write every cache and journal delta.

    The caller holds the loan lock (see ``payments.service.lock_loan``).
    """
    today = business_date(session)
    loan = session.get(Loan, loan_id)
    if loan is None:
        raise LookupError(f"loan {loan_id!r} not found")
    result, txns = replay_loan(session, loan, as_of=today, pack=pack)
    write_installments(session, {loan.id: result}, today)
    _write_allocations(session, loan, result)
    _write_rate_changes(session, loan, result)
    cache_loan(loan, result)
    by_id = {t.id: t for t in txns}
    targets = {
        t.id: target_lines(t, result.allocations.get(t.id, []), result.charges.get(t.id, []))
        for t in txns
    }
    written = sync_journal(
        session, loan_id=loan.id, targets=targets, transactions=by_id, booked_on=today
    )
    written += _sync_accruals(session, loan.id, result, today)
    session.flush()
    return Recomputed(loan=loan, result=result, entries_written=written)
