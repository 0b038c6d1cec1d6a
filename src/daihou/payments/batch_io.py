"""Bulk reads and writes of the batch posting path (``daihou.payments.batch``).

Each function works on all loans of a chunk with a few statements: Core selects keyed by
loan, ``executemany`` updates and multi-row inserts, never an ORM flush per object. What
is written is exactly what ``recompute_loan`` writes for each loan, computed from the
same replay result.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from daihou.db.inserts import insert_ids
from daihou.eod.accrual import recompute_adjustment
from daihou.eod.models import Accrual
from daihou.kernel.allocation import Applied
from daihou.kernel.replay import Event, LoanTerms, ReplayResult
from daihou.ledger.service import EntryDraft
from daihou.loans.models import Installment, Loan
from daihou.payments.journal import (
    SYNCED_KINDS,
    Net,
    journal_deltas,
    posted_lines_many,
    target_lines,
)
from daihou.payments.models import Allocation, Transaction
from daihou.payments.recompute import to_event

CENT = Decimal("0.01")
INSTALLMENTS = cast(Table, Installment.__table__)
ALLOCATIONS = cast(Table, Allocation.__table__)
TRANSACTIONS = cast(Table, Transaction.__table__)
ACCRUALS = cast(Table, Accrual.__table__)
LOANS = cast(Table, Loan.__table__)
# the loan row's columns a replay caches (``recompute.cache_loan``) and its version
LOAN_CACHE = ("outstanding_principal", "credit_balance", "current_rate", "closed_on", "status")


@dataclass(slots=True)
class LoanWork:
    """One loan's state while a chunk is posted: its active transactions (new ones under
    provisional ids), the journal net posted per transaction, the accrued 罚息/复利 in
    the subledger, and the latest replay."""

    loan: Loan
    terms: LoanTerms
    txns: dict[int, Transaction]
    events: list[Event]
    posted: dict[int, Net]
    accrued: tuple[Decimal, Decimal]
    result: ReplayResult | None = None
    since: date | None = None  # earliest backdated value date posted
    created: int = 0

    def sync_journal(
        self,
        result: ReplayResult,
        today: date,
        drafts: list[EntryDraft],
        accruals: list[tuple[int, dict[str, Any]]],
    ) -> None:
        """Queue what ``sync_journal`` and the accrual sync would post now for this loan
        after ``result``: each transaction's journal delta onto ``drafts``, then the
        accrual adjustment with its subledger row in ``accruals`` (keyed by its draft's
        index); what is posted and accrued moves to the replay's figures."""
        loan_id = self.loan.id
        targets = {
            tid: target_lines(t, result.allocations.get(tid, []), result.charges.get(tid, []))
            for tid, t in self.txns.items()
        }
        for tid, lines, kind, memo in journal_deltas(targets, self.posted, self.txns):
            drafts.append(
                EntryDraft(kind, self.txns[tid].value_date, today, lines, loan_id, tid, memo)
            )
            self.posted[tid] = targets[tid]
        adjustment = recompute_adjustment(loan_id, today, result, self.accrued)
        if adjustment is not None:
            row, draft, self.accrued = adjustment
            accruals.append((len(drafts), row))
            drafts.append(draft)


def write_loans(session: Session, loans: Sequence[Loan]) -> None:
    """Write the cached columns and the version of ``loans`` with one ``executemany``,
    then mark them stored on the objects. An ORM flush would group the loans by the
    columns that changed and send a statement per group (one per ~11 loans of the
    demo's payment files)."""
    if not loans:
        return
    names = (*LOAN_CACHE, "version")
    stmt = (
        update(LOANS)
        .where(LOANS.c.id == bindparam("b_id"))
        .values({name: bindparam(name) for name in names})
    )
    rows = [{"b_id": loan.id, **{name: getattr(loan, name) for name in names}} for loan in loans]
    session.connection().execute(stmt, rows)
    for loan, row in zip(loans, rows, strict=True):
        for name in names:
            set_committed_value(loan, name, row[name])


def lock_loans(session: Session, loan_ids: Iterable[str]) -> dict[str, Loan]:
    """Lock the chunk's loans in id order (PostgreSQL row locks: two batches touching the
    same loans wait for each other instead of deadlocking; SQLite already holds the
    write lock from ``BEGIN IMMEDIATE``) and load them."""
    ids = sorted(set(loan_ids))
    if not ids:
        return {}
    query = select(Loan).where(Loan.id.in_(ids)).order_by(Loan.id).with_for_update()
    return {loan.id: loan for loan in session.execute(query).scalars()}


def load_work(
    session: Session, loans: dict[str, Loan], terms: dict[str, LoanTerms]
) -> dict[str, LoanWork]:
    """Active transactions, posted journal lines and accrued amounts of every loan."""
    ids = sorted(loans)
    txns: dict[str, list[Transaction]] = defaultdict(list)
    query = (
        select(Transaction)
        .where(
            Transaction.loan_id.in_(ids),
            Transaction.kind.in_(SYNCED_KINDS),
            Transaction.status == "posted",
        )
        .order_by(Transaction.value_date, Transaction.id)
    )
    for txn in session.execute(query).scalars():
        txns[txn.loan_id].append(txn)
    posted = posted_lines_many(session, ids)
    accrued = {
        loan_id: (p or Decimal("0.00"), c or Decimal("0.00"))
        for loan_id, p, c in session.execute(
            select(Accrual.loan_id, func.sum(Accrual.penalty), func.sum(Accrual.compound))
            .where(Accrual.loan_id.in_(ids))
            .group_by(Accrual.loan_id)
        )
    }
    zero = (Decimal("0.00"), Decimal("0.00"))
    return {
        loan_id: LoanWork(
            loan=loan,
            terms=terms[loan_id],
            txns={t.id: t for t in txns[loan_id]},
            events=[to_event(t) for t in txns[loan_id]],
            posted=dict(posted.get(loan_id, {})),
            accrued=accrued.get(loan_id, zero),
        )
        for loan_id, loan in loans.items()
    }


def existing_references(
    session: Session, keys: set[tuple[str, str]]
) -> tuple[dict[tuple[str, str], Transaction], dict[int, tuple[Applied, ...]]]:
    """Transactions already posted under the chunk's channel references, and their
    current allocations (for the 'already posted' answer)."""
    found: dict[tuple[str, str], Transaction] = {}
    if not keys:
        return found, {}
    channels = sorted({channel for channel, _ in keys})
    refs = sorted({ref for _, ref in keys})
    query = select(Transaction).where(  # both columns: the (channel, reference) index
        Transaction.channel.in_(channels), Transaction.reference.in_(refs)
    )
    for txn in session.execute(query).scalars():
        key = (txn.channel or "", txn.reference or "")
        if key in keys:
            found[key] = txn
    allocations: dict[int, list[Applied]] = defaultdict(list)
    if found:
        rows = (
            select(Allocation)
            .where(Allocation.transaction_id.in_([t.id for t in found.values()]))
            .order_by(Allocation.id)
        )
        for a in session.execute(rows).scalars():
            allocations[a.transaction_id].append(Applied(a.period, a.component, a.amount))
    return found, {k: tuple(v) for k, v in allocations.items()}


def insert_transactions(session: Session, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert new transactions in order; their ids, in the same order."""
    return insert_ids(session, TRANSACTIONS, rows)


def write_allocations(
    session: Session, results: dict[str, ReplayResult], real_id: dict[int, int]
) -> None:
    """Replace the allocations of the loans (a cache, rebuilt whole as recompute does)."""
    if not results:
        return
    session.execute(delete(ALLOCATIONS).where(ALLOCATIONS.c.loan_id.in_(sorted(results))))
    rows = [
        {
            "transaction_id": real_id.get(txn_id, txn_id),
            "loan_id": loan_id,
            "period": part.period,
            "component": part.component,
            "amount": part.amount,
        }
        for loan_id, result in results.items()
        for txn_id, parts in result.allocations.items()
        for part in parts
    ]
    if rows:
        session.execute(insert(ALLOCATIONS), rows)


def insert_accruals(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(ACCRUALS), list(rows))


def quantized(parts: Iterable[Applied]) -> tuple[Applied, ...]:
    """Allocation parts as the database gives them back (two decimals)."""
    return tuple(Applied(p.period, p.component, p.amount.quantize(CENT)) for p in parts)
