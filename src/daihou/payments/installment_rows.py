"""The cached installment columns a replay writes, and their one writer.

``write_installments`` writes a replay's installments for any number of loans: it reads
the stored rows as integers (fen, 1e-10 rate units), compares them with the replayed
states without making a Decimal per value read, and writes only what changed (one
``executemany`` update, one multi-row insert, one delete of rows gone). Both writers of
the loan caches use it: ``recompute_loan`` for one loan and the payment batch
(``payments.batch``) for a chunk's loans.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import date
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
from daihou.kernel.allocation import COMPONENTS
from daihou.kernel.replay import ReplayResult
from daihou.kernel.state import InstallmentState
from daihou.loans.models import ACCRUED, Installment, InstallmentAccrual

INSTALLMENTS = cast(Table, Installment.__table__)
ACCRUALS = cast(Table, InstallmentAccrual.__table__)
STORED_FROM = INSTALLMENTS.outerjoin(ACCRUALS, ACCRUALS.c.installment_id == INSTALLMENTS.c.id)
"""Where an installment's cached columns are read: its row and its accrual row, if any."""

INSTALLMENT_FIELDS = (
    "start_date",
    "due_date",
    "annual_rate",
    "status",
    "paid_on",
    *(f"{c}_due" for c in COMPONENTS),
    *(f"{c}_paid" for c in COMPONENTS),
    "penalty_base",
    "compound_base",
    "penalty_carried",
    "compound_carried",
)


def _getter(name: str) -> Callable[[InstallmentState, date], object]:
    if name == "status":
        return lambda state, as_of: state.status(as_of)
    if name.endswith("_due") and name[:-4] in COMPONENTS:
        return lambda state, _: state.due[name[:-4]]
    if name.endswith("_paid") and name[:-5] in COMPONENTS:
        return lambda state, _: state.paid[name[:-5]]
    return lambda state, _: getattr(state, name)


def _column(name: str) -> Any:
    """The stored column of a cached field (``installments`` or ``installment_accruals``)."""
    return ACCRUALS.c[name] if name in ACCRUED else INSTALLMENTS.c[name]


def _read(name: str) -> Any:
    """A cached field as read from ``STORED_FROM`` (an accrual column without its row
    reads zero)."""
    column = _column(name)
    return func.coalesce(column, 0) if name in ACCRUED else column


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
        due = [c for c in COMPONENTS if f"{c}_due" in INSTALLMENT_FIELDS]
        paid = [c for c in COMPONENTS if f"{c}_paid" in INSTALLMENT_FIELDS]
        rest = [
            f
            for f in INSTALLMENT_FIELDS
            if f != "status" and f not in {f"{c}_due" for c in due} | {f"{c}_paid" for c in paid}
        ]
        money = [f for f in rest if isinstance(_column(f).type, Money)]
        rates = [f for f in rest if isinstance(_column(f).type, Rate)]
        plain = [f for f in rest if f not in money and f not in rates]
        self.names = [
            *plain,
            *(["status"] if "status" in INSTALLMENT_FIELDS else []),
            *(f"{c}_due" for c in due),
            *(f"{c}_paid" for c in paid),
            *money,
            *rates,
        ]
        self.columns = [
            type_coerce(_read(f), BigInteger)
            if isinstance(_column(f).type, Money | Rate)
            else _read(f)
            for f in self.names
        ]
        self.status = "status" in INSTALLMENT_FIELDS
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


_GETTERS = [(name, _getter(name)) for name in INSTALLMENT_FIELDS]
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
            )
            .select_from(STORED_FROM)
            .where(where)
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
        delete_installments(session, [v[0] for v in existing.values()])
    if updates:
        stmt = (
            update(INSTALLMENTS)
            .where(INSTALLMENTS.c.id == bindparam("b_id"))
            .values({f: bindparam(f) for f in INSTALLMENT_FIELDS if f not in ACCRUED})
        )
        session.connection().execute(stmt, updates)
        # their accrual rows written again: removed, then one for each that has accrued
        ids = [u["b_id"] for u in updates]
        session.execute(delete(ACCRUALS).where(ACCRUALS.c.installment_id.in_(ids)))
        _insert_accrued(session, [(u["b_id"], u) for u in updates])
    if inserts:
        session.execute(insert(INSTALLMENTS), [_main(v) for v in inserts])
        accrued = [v for v in inserts if _accrued(v)]
        if accrued:  # new rows that have accrued already (a replay over past dates)
            keys = {(v["loan_id"], v["period"]): v for v in accrued}
            found = session.execute(
                select(INSTALLMENTS.c.loan_id, INSTALLMENTS.c.period, INSTALLMENTS.c.id).where(
                    INSTALLMENTS.c.loan_id.in_({v["loan_id"] for v in accrued})
                )
            ).all()
            _insert_accrued(session, [(i, keys[(lo, p)]) for lo, p, i in found if (lo, p) in keys])


def _main(values: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in values.items() if k not in ACCRUED}


def _accrued(values: dict[str, object]) -> bool:
    return any(values[k] for k in ACCRUED)


def _insert_accrued(session: Session, rows: list[tuple[object, dict[str, object]]]) -> None:
    """Accrual rows for the installments (id, cached values) that have accrued."""
    values = [{"installment_id": i, **{k: v[k] for k in ACCRUED}} for i, v in rows if _accrued(v)]
    if values:
        session.execute(insert(ACCRUALS), values)


def delete_installments(session: Session, ids: Collection[object]) -> None:
    """Remove installments and their accrual rows."""
    session.execute(delete(ACCRUALS).where(ACCRUALS.c.installment_id.in_(ids)))
    session.execute(delete(INSTALLMENTS).where(INSTALLMENTS.c.id.in_(ids)))
