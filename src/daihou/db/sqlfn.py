"""The few SQL expressions that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Integer, cast, func
from sqlalchemy.dialects.sqlite.base import SQLiteCompiler
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

SelectT = TypeVar("SelectT", bound=Any)


def days_between(session: Session, earlier: Any, later: Any) -> ColumnElement[int]:
    """Whole days from ``earlier`` to ``later`` (dates)."""
    if session.get_bind().dialect.name == "sqlite":
        return cast(func.julianday(later) - func.julianday(earlier), Integer)
    return cast(later - earlier, Integer)


def greatest(session: Session, *values: Any) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "sqlite":
        return func.max(*values)
    return func.greatest(*values)


def _sqlite_from_hint(self: Any, table: Any, text: str | None) -> str | None:
    return text


# SQLAlchemy renders ``Select.with_hint(table, text, "sqlite")`` only where the dialect's
# compiler implements ``get_from_hint_text``; SQLite's does not (it returns None). This
# makes it render the text after the table name, which is where SQLite's ``INDEXED BY``
# goes; hints for other dialects are not affected.
SQLiteCompiler.get_from_hint_text = _sqlite_from_hint  # type: ignore[method-assign]


def indexed_by(stmt: SelectT, table: Any, index: str) -> SelectT:
    """``stmt`` reads ``table`` through ``index`` on SQLite (``INDEXED BY``: an error,
    not a silent table scan, if the statement's WHERE cannot use it); unchanged on
    other databases."""
    hinted: SelectT = stmt.with_hint(table, f"INDEXED BY {index}", "sqlite")
    return hinted


def no_statement_journal(stmt: SelectT) -> SelectT:
    """``stmt`` — an ``UPDATE`` or ``INSERT … SELECT`` of many rows, run inside a
    transaction that is rolled back whole on any error — as ``UPDATE OR FAIL`` / ``INSERT
    OR FAIL`` on SQLite; unchanged on other databases.

    Inside a transaction SQLite gives every statement that may write several rows and
    may stop on a constraint (``OR ABORT``, the default) a statement journal: the
    original of each page it changes, copied to a temporary file so that the statement
    alone can be undone. End of day's ``UPDATE``s change a few hundred thousand rows
    spread over 100k+ pages, so that copy was as large as the pages themselves (520 MB
    for the 1 M book's accrual, besides its 314 MB of WAL). ``OR FAIL`` stops on a
    violation without undoing the statement's earlier rows, so SQLite needs no journal;
    the caller's rollback undoes them, so the outcome is the same. Foreign keys still
    make SQLite keep one for rows whose key columns are written (it checks them when the
    statement ends), so this helps statements that write none."""
    failing: SelectT = stmt.prefix_with("OR FAIL", dialect="sqlite")
    return failing
