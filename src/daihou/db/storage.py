"""PostgreSQL storage settings of the tables end of day writes every night.

End of day rewrites each overdue installment's 罚息/复利 bases and amounts
(``installment_accruals``) and each delinquent loan's DPD every night. Room left free on
each page lets PostgreSQL write the new version beside the old as a heap-only (HOT)
update, with no new entry in any index; a page filled to the brim by a bulk load or an
import sends every new version to another page, with a new entry in each of the table's
indexes. And a scratch table whose rows never outlive their transaction need not go
through the WAL. The settings are made on whatever creates the tables — the migrations
(``migrations/env.py``, after every upgrade) and ``metadata.create_all`` (a listener in
``db.base``) — so an imported book has them as a generated one does. SQLite has no such
setting.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

FILLFACTOR = {
    # the accrual's bases and amounts of every overdue installment, rewritten every
    # night: half of each page free, so each new version goes beside the old one (the
    # table is small: the rows of the installments that have accrued)
    "installment_accruals": 50,
    # a loan's installments, rewritten by its payments and replays
    "installments": 80,
    # the few delinquent loans of each page, whose DPD moves every night
    # (``loans.models.WATCH`` keeps ``dpd`` out of every index)
    "loans": 85,
}
"""Per table, the percentage of each heap page PostgreSQL fills on insert."""

UNLOGGED = ("eod_accrual_work",)
"""Scratch tables whose rows live and die inside one transaction: written without WAL
(an unlogged table is emptied after a server crash and not copied to standbys, which
such rows never need). The accrual step fills, applies and forgets its ~320k work rows
of a night at 1 M loans in one transaction. Not ``eod_work``: the snapshot step reads
the delinquency step's rows in a later transaction, so they must survive a crash."""


def apply(connection: Connection) -> None:
    """Set the fill factors and the unlogged scratch tables where they differ, on the
    tables that exist (PostgreSQL; nothing elsewhere): a schema already set is left
    alone, without a lock. Only new pages follow a new fill factor: an existing table
    keeps its pages. A table made unlogged is rewritten (scratch tables hold no rows
    between runs)."""
    if connection.dialect.name != "postgresql":
        return
    for table, percent in FILLFACTOR.items():
        found = _found(connection, table)
        if found is not None and f"fillfactor={percent}" not in (found[0] or []):
            connection.execute(text(_fill(table, percent)))
    for table in UNLOGGED:
        found = _found(connection, table)
        if found is not None and found[1] != "u":
            connection.execute(text(_unlogged(table)))


def statements() -> list[str]:
    """Every setting as DDL, for a migration script written offline for PostgreSQL
    (``alembic upgrade head --sql``, which a DBA may run instead of the online upgrade)."""
    return [_fill(t, p) for t, p in FILLFACTOR.items()] + [_unlogged(t) for t in UNLOGGED]


def _fill(table: str, percent: int) -> str:
    return f"ALTER TABLE {table} SET (fillfactor = {percent})"


def _unlogged(table: str) -> str:
    return f"ALTER TABLE {table} SET UNLOGGED"


def _found(connection: Connection, table: str) -> Any:
    """``(reloptions, relpersistence)`` of ``table`` on the search path, or None."""
    return connection.execute(
        text("SELECT reloptions, relpersistence FROM pg_class WHERE oid = to_regclass(:t)"),
        {"t": table},
    ).first()


def after_create(_metadata: Any, connection: Connection, **_kw: Any) -> None:
    """``metadata.create_all``'s ``after_create`` listener."""
    apply(connection)
