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

The ORM's flush meets the same limit: new objects without ids go in one INSERT each on
SQLite. ``give_ids`` numbers them the same way before the flush, which then writes them
in one executemany (for a mapper that does not fetch server defaults back, see
``give_ids``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Insert, Select, Table, func, insert, inspect, select
from sqlalchemy.orm import Session

# Built once per table: building and keying a statement per call costs more than
# running it on the batch paths.
_MAX: dict[Table, Select[tuple[Any]]] = {}
_RETURNING: dict[Table, Insert] = {}
_PLAIN: dict[Table, Insert] = {}


def next_ids(session: Session, table: Table, count: int) -> list[int] | None:
    """The ids the next ``count`` rows of ``table`` get inserted one by one, on SQLite
    for a table without ``AUTOINCREMENT`` (max(id) + 1, …); None where the database
    must give them (PostgreSQL's sequences, which batch with RETURNING)."""
    if session.get_bind().dialect.name != "sqlite" or table.kwargs.get("sqlite_autoincrement"):
        return None
    top = _MAX.get(table)
    if top is None:
        top = _MAX[table] = select(func.max(table.c.id))
    first = (session.execute(top).scalar() or 0) + 1
    return list(range(first, first + count))


def insert_ids(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` (without ids) into ``table``, whose primary key is an integer
    ``id``; the new ids, in the order of ``rows``."""
    if not rows:
        return []
    ids = next_ids(session, table, len(rows))
    if ids is None:
        stmt = _RETURNING.get(table)
        if stmt is None:
            stmt = _RETURNING[table] = insert(table).returning(
                table.c.id, sort_by_parameter_order=True
            )
        return list(session.execute(stmt, list(rows)).scalars())
    plain = _PLAIN.get(table)
    if plain is None:
        plain = _PLAIN[table] = insert(table)
    session.execute(plain, [{**row, "id": i} for row, i in zip(rows, ids, strict=True)])
    return ids


def give_ids(session: Session, objects: Sequence[Any]) -> None:
    """Give new ORM objects of one mapped class (an integer ``id`` primary key, none
    set yet) the ids their flush in this order would give them, on SQLite; elsewhere
    nothing. ``objects`` must be every unflushed object of the class in the session,
    in the order they were added, and the flush must follow. The flush then writes
    them in one executemany when the mapper does not fetch server defaults back
    (``eager_defaults=False``); otherwise still one INSERT each, with the same ids."""
    if not objects:
        return
    cls = type(objects[0])
    mine = {id(o) for o in objects}
    if any(type(o) is not cls or o.id is not None for o in objects) or any(
        isinstance(o, cls) and id(o) not in mine for o in session.new
    ):
        raise ValueError(f"give_ids: every new {cls.__name__} of the session, without ids")
    with session.no_autoflush:  # the max read must not flush the objects one by one
        ids = next_ids(session, cast(Table, inspect(cls).local_table), len(objects))
    for obj, i in zip(objects, ids or (), strict=False):
        obj.id = i
