"""Bulk reads and writes of the batch posting path (``daihou.payments.batch``).

Each function works on all loans of a chunk with a few statements: Core selects keyed by
loan, ``executemany`` updates and multi-row inserts, never an ORM flush per object. What
is written is exactly what ``recompute_loan`` writes for each loan, computed from the
same replay result.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from operator import attrgetter, itemgetter
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from daihou.db.types import RATE_SCALE, Money, Rate
from daihou.eod.models import Accrual
from daihou.kernel.allocation import COMPONENTS, Applied
from daihou.kernel.replay import Event, LoanTerms, ReplayResult
from daihou.kernel.state import InstallmentState
from daihou.loans.models import Installment, Loan
from daihou.payments.journal import SYNCED_KINDS, Net, posted_lines_many
from daihou.payments.models import Allocation, Transaction
from daihou.payments.recompute import _INSTALLMENT_FIELDS, to_event

CENT = Decimal("0.01")
INSTALLMENTS = cast(Table, Installment.__table__)
ALLOCATIONS = cast(Table, Allocation.__table__)
TRANSACTIONS = cast(Table, Transaction.__table__)
ACCRUALS = cast(Table, Accrual.__table__)


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
    if not rows:
        return []
    stmt = insert(TRANSACTIONS).returning(TRANSACTIONS.c.id, sort_by_parameter_order=True)
    return list(session.execute(stmt, list(rows)).scalars())


def _getter(name: str) -> Callable[[InstallmentState, date], object]:
    if name == "status":
        return lambda state, as_of: state.status(as_of)
    if name.endswith("_due") and name[:-4] in COMPONENTS:
        return lambda state, _: state.due[name[:-4]]
    if name.endswith("_paid") and name[:-5] in COMPONENTS:
        return lambda state, _: state.paid[name[:-5]]
    return lambda state, _: getattr(state, name)


def _many(getter: Callable[..., Any], names: Sequence[str]) -> Callable[[Any], tuple[Any, ...]]:
    """``attrgetter``/``itemgetter`` that always gives a tuple (none, one or many)."""
    if not names:
        return lambda _: ()
    get = getter(*names)
    return (lambda x: (get(x),)) if len(names) == 1 else get


class _Stored:
    """The stored form (integer fen, integer 1e-10 rate units) of an installment's
    cached columns, built with C-level getters: comparing a replayed schedule with the
    table then costs no Decimal per value read. The columns are grouped (plain, status,
    due, paid, other money, rates) and selected in that order."""

    def __init__(self) -> None:
        due = [c for c in COMPONENTS if f"{c}_due" in _INSTALLMENT_FIELDS]
        paid = [c for c in COMPONENTS if f"{c}_paid" in _INSTALLMENT_FIELDS]
        rest = [
            f
            for f in _INSTALLMENT_FIELDS
            if f != "status" and f not in {f"{c}_due" for c in due} | {f"{c}_paid" for c in paid}
        ]
        money = [f for f in rest if isinstance(INSTALLMENTS.c[f].type, Money)]
        rates = [f for f in rest if isinstance(INSTALLMENTS.c[f].type, Rate)]
        plain = [f for f in rest if f not in money and f not in rates]
        self.names = [
            *plain,
            *(["status"] if "status" in _INSTALLMENT_FIELDS else []),
            *(f"{c}_due" for c in due),
            *(f"{c}_paid" for c in paid),
            *money,
            *rates,
        ]
        self.columns = [
            type_coerce(INSTALLMENTS.c[f], BigInteger)
            if isinstance(INSTALLMENTS.c[f].type, Money | Rate)
            else INSTALLMENTS.c[f]
            for f in self.names
        ]
        self.status = "status" in _INSTALLMENT_FIELDS
        self.plain = _many(attrgetter, plain)
        self.due, self.paid = _many(itemgetter, due), _many(itemgetter, paid)
        self.money, self.rates = _many(attrgetter, money), _many(attrgetter, rates)

    def key(self, s: InstallmentState, as_of: date) -> tuple[Any, ...]:
        return (
            *self.plain(s),
            *((s.status(as_of),) if self.status else ()),
            *[int(v * 100) for v in self.due(s.due)],
            *[int(v * 100) for v in self.paid(s.paid)],
            *[None if v is None else int(v * 100) for v in self.money(s)],
            *[None if v is None else int(v * RATE_SCALE) for v in self.rates(s)],
        )


_GETTERS = [(name, _getter(name)) for name in _INSTALLMENT_FIELDS]
_STORED = _Stored()


def installment_values(state: InstallmentState, as_of: date) -> dict[str, object]:
    """The cached columns of one installment, field for field as ``recompute_loan``."""
    return {name: get(state, as_of) for name, get in _GETTERS}


def write_installments(
    session: Session,
    results: dict[str, ReplayResult],
    as_of: date,
    future_kept: Collection[str] = (),
) -> None:
    """Write only the installments that changed, for all loans at once. The comparison
    runs on the stored integers (no Decimal made for the rows read).

    ``future_kept``: loans whose installments due after ``as_of`` the chunk's postings
    cannot have changed, so they are neither read nor compared. A repayment (or
    recovery) dated on or before ``as_of`` pays only installments due by then, and its
    credit only those falling due by ``as_of``; a later installment changes only with a
    prepayment, a restructuring or an LPR repricing, and the caller names a floating-rate
    loan here only when its stored repricings equal the replay's. On a typical loan
    that is most of its schedule (a mortgage's 360 rows)."""
    if not results:
        return
    kept = set(future_kept) & results.keys()
    rest = sorted(results.keys() - kept)
    where: ColumnElement[bool] = INSTALLMENTS.c.loan_id.in_(sorted(results))
    if kept:
        near = INSTALLMENTS.c.due_date <= as_of
        where = and_(where, or_(INSTALLMENTS.c.loan_id.in_(rest), near) if rest else near)
    existing: dict[tuple[str, int], tuple[int, tuple[Any, ...]]] = {
        (row[0], row[1]): (row[2], tuple(row[3:]))
        for row in session.execute(
            select(
                INSTALLMENTS.c.loan_id, INSTALLMENTS.c.period, INSTALLMENTS.c.id, *_STORED.columns
            ).where(where)
        ).all()  # one fetchall, not a fetch per row
    }
    inserts: list[dict[str, object]] = []
    updates: list[dict[str, object]] = []
    for loan_id, result in results.items():
        skip_after = as_of if loan_id in kept else date.max
        for state in result.installments:
            old = existing.pop((loan_id, state.period), None)
            if old is None:
                if state.due_date > skip_after:
                    continue  # not read: stored as it stands
                values = installment_values(state, as_of)
                inserts.append({"loan_id": loan_id, "period": state.period, **values})
            elif old[1] != _STORED.key(state, as_of):
                updates.append({"b_id": old[0], **installment_values(state, as_of)})
    if existing:
        gone = [v[0] for v in existing.values()]
        session.execute(delete(INSTALLMENTS).where(INSTALLMENTS.c.id.in_(gone)))
    if updates:
        stmt = (
            update(INSTALLMENTS)
            .where(INSTALLMENTS.c.id == bindparam("b_id"))
            .values({f: bindparam(f) for f in _INSTALLMENT_FIELDS})
        )
        session.connection().execute(stmt, updates)
    if inserts:
        session.execute(insert(INSTALLMENTS), inserts)


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
