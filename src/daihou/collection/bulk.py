"""Batched writes for set-based collection steps: one executemany per statement.

The ORM's bulk modes compile and send one statement per row on SQLite; Core
statements against the table go to the driver as a single executemany (and
PostgreSQL's insertmanyvalues), which is what a batch of thousands of cases needs.
Column types still apply (money in fen, rates scaled).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, bindparam
from sqlalchemy.orm import Session


def _table(model: Any) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def bulk_insert(session: Session, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.execute(_table(model).insert(), list(rows))


def bulk_update_by_id(session: Session, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    """UPDATE … WHERE id = :id for each row; every row has the same keys."""
    if not rows:
        return
    table = _table(model)
    keys = [k for k in rows[0] if k != "id"]
    statement = (
        table.update()
        .where(table.c.id == bindparam("b_id"))
        .values({k: bindparam(f"b_{k}") for k in keys})
    )
    session.execute(statement, [{f"b_{k}": v for k, v in row.items()} for row in rows])
