"""Batched inserts for set-based collection steps.

A Core ``INSERT`` with a list of rows goes to the driver as one executemany (SQLite's
native executemany; psycopg's pipeline), where the ORM's bulk mode compiled and sent
one statement per row, and a multi-row ``VALUES`` of thousands of parameters spent
longer compiling than the database spent inserting. Column types still apply (money in
fen, rates scaled).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session


def bulk_insert(session: Session, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``model``'s table."""
    if rows:
        table = model.__table__
        assert isinstance(table, Table)
        session.execute(table.insert(), list(rows))
