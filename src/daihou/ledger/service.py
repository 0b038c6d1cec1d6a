"""Post journal entries and derive balances from them (总账 / 试算平衡).

Posted entries are never changed: a correction is a new entry (a reversal, a
reallocation). ``post_entry`` is the one door into the journal and refuses anything
that is not a balanced, exact, two-sided entry. Balances are sums over the journal,
computed in SQL on the integer fen the ``Money`` columns store and turned into
``Decimal`` once at the end.

Every balance here is debit minus credit: positive for assets (loan principal,
receivables, clearing), negative for liabilities and income (customer credit, interest
income).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    String,
    Table,
    event,
    func,
    insert,
    select,
    type_coerce,
)
from sqlalchemy.orm import Mapper, Session, object_session

from daihou.db.inserts import insert_ids
from daihou.ledger.models import JournalEntry, JournalLine

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

Line = tuple[str, Decimal, Decimal]  # (account, debit, credit)


@dataclass(frozen=True)
class AccountBalance:
    account: str
    debit: Decimal  # total debits
    credit: Decimal  # total credits
    balance: Decimal  # debit - credit


@dataclass(frozen=True)
class TrialBalance:
    """Totals per account; ``balanced`` is the double-entry invariant (借贷平衡)."""

    rows: list[AccountBalance]
    total_debit: Decimal
    total_credit: Decimal
    balanced: bool


def _fen(column: Any) -> ColumnElement[int]:
    """The raw integer fen stored in a ``Money`` column, for exact sums in SQL."""
    return type_coerce(column, BigInteger)


def _from_fen(value: Any) -> Decimal:
    # SQLite sums to int, PostgreSQL's sum(bigint) to numeric; both are whole fen.
    return Decimal(int(value or 0)).scaleb(-2)


def trial_balance(session: Session, *, as_of: date | None = None) -> TrialBalance:
    """Debit and credit totals per account over the whole journal (one GROUP BY).

    With ``as_of``, only entries booked on or before that business date count.
    """
    query = select(
        JournalLine.account,
        func.sum(_fen(JournalLine.debit)),
        func.sum(_fen(JournalLine.credit)),
    ).group_by(JournalLine.account)
    if as_of is not None:
        query = query.join(JournalEntry, JournalEntry.id == JournalLine.entry_id).where(
            JournalEntry.booked_on <= as_of
        )
    rows = []
    for account, debit_fen, credit_fen in session.execute(query.order_by(JournalLine.account)):
        debit, credit = _from_fen(debit_fen), _from_fen(credit_fen)
        rows.append(AccountBalance(account, debit, credit, debit - credit))
    total_debit = sum((row.debit for row in rows), ZERO)
    total_credit = sum((row.credit for row in rows), ZERO)
    return TrialBalance(rows, total_debit, total_credit, total_debit == total_credit)


def account_balance(session: Session, account: str, *, loan_id: str | None = None) -> Decimal:
    """Debit minus credit of one account, over all loans or only ``loan_id``'s entries."""
    query = select(
        func.sum(_fen(JournalLine.debit) - _fen(JournalLine.credit)),
    ).where(JournalLine.account == account)
    if loan_id is not None:
        query = query.join(JournalEntry, JournalEntry.id == JournalLine.entry_id).where(
            JournalEntry.loan_id == loan_id
        )
    return _from_fen(session.execute(query).scalar())


def loan_account_balances(session: Session, loan_id: str) -> dict[str, Decimal]:
    """Debit minus credit per account for one loan's entries; accounts at zero are left out."""
    net = func.sum(_fen(JournalLine.debit) - _fen(JournalLine.credit))
    query = (
        select(JournalLine.account, net)
        .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
        .where(JournalEntry.loan_id == loan_id)
        .group_by(JournalLine.account)
        .order_by(JournalLine.account)
    )
    balances = {account: _from_fen(fen) for account, fen in session.execute(query)}
    return {account: amount for account, amount in balances.items() if amount != ZERO}


def _max_length(column: Any) -> int:
    column_type = column.property.columns[0].type
    assert isinstance(column_type, String) and column_type.length is not None
    return column_type.length


def _check_text(name: str, field: str, value: str | None, limit: int, *, required: bool) -> None:
    """PostgreSQL enforces VARCHAR lengths and SQLite does not: check here for both."""
    if value is None or value == "":
        if required:
            raise ValueError(f"{name}: {field} is empty")
        return
    if len(value) > limit:
        raise ValueError(f"{name}: {field} {value!r} is longer than {limit} characters")


def _amount(name: str, index: int, account: str, side: str, value: object) -> Decimal:
    where = f"{name}: line {index} ({account}) {side}"
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise ValueError(f"{where} {value!r} is not a Decimal")
    amount = Decimal(value)
    if not amount.is_finite():
        raise ValueError(f"{where} {value!r} is not a finite number")
    if amount < 0:
        raise ValueError(f"{where} {amount} is negative")
    fen = amount.scaleb(2)
    if fen != fen.to_integral_value():
        raise ValueError(f"{where} {amount} has more than two decimals")
    return amount.quantize(CENT)


def _checked_lines(name: str, lines: Sequence[Line]) -> list[Line]:
    account_limit = _max_length(JournalLine.account)
    kept: list[Line] = []
    for index, line in enumerate(lines, start=1):
        account, debit_in, credit_in = line
        _check_text(name, f"line {index} account", account, account_limit, required=True)
        debit = _amount(name, index, account, "debit", debit_in)
        credit = _amount(name, index, account, "credit", credit_in)
        if debit and credit:
            raise ValueError(
                f"{name}: line {index} ({account}) has both a debit {debit} and a credit "
                f"{credit}; post two lines"
            )
        if debit or credit:
            kept.append((account, debit, credit))
    if not kept:
        raise ValueError(f"{name}: no lines with a non-zero amount")
    total_debit = sum((line[1] for line in kept), ZERO)
    total_credit = sum((line[2] for line in kept), ZERO)
    if total_debit != total_credit:
        raise ValueError(
            f"{name}: unbalanced, debits {total_debit} != credits {total_credit} "
            f"(difference {total_debit - total_credit})"
        )
    return kept


def post_entry(
    session: Session,
    *,
    kind: str,
    entry_date: date,
    booked_on: date,
    lines: Sequence[Line],
    loan_id: str | None = None,
    transaction_id: int | None = None,
    memo: str | None = None,
) -> JournalEntry:
    """Insert one balanced journal entry (记账) and flush it; the caller commits.

    ``lines`` are ``(account, debit, credit)`` with ``Decimal`` amounts of at most two
    decimals, one side zero. All-zero lines are dropped. Anything else wrong raises
    ``ValueError`` naming the entry, and nothing is written.
    """
    name = f"journal entry {kind!r} of {entry_date}"
    if loan_id is not None:
        name += f" for loan {loan_id}"
    if transaction_id is not None:
        name += f" (transaction {transaction_id})"
    _check_text(name, "kind", kind, _max_length(JournalEntry.kind), required=True)
    _check_text(name, "memo", memo, _max_length(JournalEntry.memo), required=False)
    kept = _checked_lines(name, lines)
    entry = JournalEntry(
        kind=kind,
        entry_date=entry_date,
        booked_on=booked_on,
        loan_id=loan_id,
        transaction_id=transaction_id,
        memo=memo,
        lines=[JournalLine(account=a, debit=d, credit=c) for a, d, c in kept],
    )
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True, slots=True)
class EntryDraft:
    """One journal entry to post with ``post_entries`` (the arguments of ``post_entry``)."""

    kind: str
    entry_date: date
    booked_on: date
    lines: Sequence[Line]
    loan_id: str | None = None
    transaction_id: int | None = None
    memo: str | None = None


def post_entries(session: Session, drafts: Sequence[EntryDraft]) -> list[int]:
    """Post many entries at once (batch paths): each is checked exactly as ``post_entry``
    checks one, all before anything is written, then entries and lines go in with two
    multi-row inserts. Returns the new entry ids in the order of ``drafts``."""
    checked = []
    for d in drafts:
        name = f"journal entry {d.kind!r} of {d.entry_date}"
        if d.loan_id is not None:
            name += f" for loan {d.loan_id}"
        if d.transaction_id is not None:
            name += f" (transaction {d.transaction_id})"
        _check_text(name, "kind", d.kind, _max_length(JournalEntry.kind), required=True)
        _check_text(name, "memo", d.memo, _max_length(JournalEntry.memo), required=False)
        checked.append(_checked_lines(name, d.lines))
    if not drafts:
        return []
    entries = cast(Table, JournalEntry.__table__)
    ids = insert_ids(
        session,
        entries,
        [
            {
                "kind": d.kind,
                "entry_date": d.entry_date,
                "booked_on": d.booked_on,
                "loan_id": d.loan_id,
                "transaction_id": d.transaction_id,
                "memo": d.memo,
            }
            for d in drafts
        ],
    )
    session.execute(
        insert(cast(Table, JournalLine.__table__)),
        [
            {"entry_id": entry_id, "account": a, "debit": dr, "credit": cr}
            for entry_id, lines in zip(ids, checked, strict=True)
            for a, dr, cr in lines
        ],
    )
    return ids


def _refuse_change(_mapper: Mapper[Any], _connection: Any, target: Any) -> None:
    """Posted journal rows are immutable: a correction is a new entry, never an edit."""
    session = object_session(target)
    if session is not None and not session.is_modified(target, include_collections=False):
        return
    raise ValueError(
        f"{type(target).__name__} {target.id} is posted and cannot change; "
        "post a reversal or a new entry instead"
    )


def _refuse_delete(_mapper: Mapper[Any], _connection: Any, target: Any) -> None:
    raise ValueError(
        f"{type(target).__name__} {target.id} is posted and cannot be deleted; "
        "post a reversal instead"
    )


for _model in (JournalEntry, JournalLine):
    event.listen(_model, "before_update", _refuse_change)
    event.listen(_model, "before_delete", _refuse_delete)
