"""Multi-row inserts that give back the new rows' ids in parameter order.

SQLAlchemy's ``insert().returning(id, sort_by_parameter_order=True)`` batches the rows
on PostgreSQL (insertmanyvalues, which can match RETURNING rows to parameter sets), but
SQLite's dialect cannot match them and sends one INSERT per row: a repayment file's
transactions and journal entries went in one statement each. On SQLite the ids are
given explicitly instead: the unit of work holds the database write lock (``BEGIN
IMMEDIATE``, see ``db.engine``), and a table without ``AUTOINCREMENT`` gives a new row
max(id) + 1, so each row gets the id SQLite would have given it inserted one by one. A
writer that slipped in between (a deferred transaction) would make the insert fail on
the primary key, never take another row's id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Insert, Select, Table, func, insert, select
from sqlalchemy.orm import Session

# Built once per table: building and keying a statement per call costs more than
# running it on the batch paths.
_MAX: dict[Table, Select[tuple[Any]]] = {}
_RETURNING: dict[Table, Insert] = {}
_PLAIN: dict[Table, Insert] = {}


def insert_ids(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` (without ids) into ``table``, whose primary key is an integer
    ``id``; the new ids, in the order of ``rows``."""
    if not rows:
        return []
    explicit = session.get_bind().dialect.name == "sqlite" and not table.kwargs.get(
        "sqlite_autoincrement"
    )
    if not explicit:
        stmt = _RETURNING.get(table)
        if stmt is None:
            stmt = _RETURNING[table] = insert(table).returning(
                table.c.id, sort_by_parameter_order=True
            )
        return list(session.execute(stmt, list(rows)).scalars())
    top = _MAX.get(table)
    if top is None:
        top = _MAX[table] = select(func.max(table.c.id))
    plain = _PLAIN.get(table)
    if plain is None:
        plain = _PLAIN[table] = insert(table)
    first = (session.execute(top).scalar() or 0) + 1
    ids = list(range(first, first + len(rows)))
    session.execute(plain, [{**row, "id": i} for row, i in zip(rows, ids, strict=True)])
    return ids
