"""The few SQL expressions that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, cast, func
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement


def days_between(session: Session, earlier: Any, later: Any) -> ColumnElement[int]:
    """Whole days from ``earlier`` to ``later`` (dates)."""
    if session.get_bind().dialect.name == "sqlite":
        return cast(func.julianday(later) - func.julianday(earlier), Integer)
    return cast(later - earlier, Integer)


def greatest(session: Session, *values: Any) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "sqlite":
        return func.max(*values)
    return func.greatest(*values)
