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
