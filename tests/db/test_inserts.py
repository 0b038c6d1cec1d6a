"""``insert_ids`` gives each row the id it is stored under, in the rows' order, and on
SQLite the ids one INSERT per row would have given."""

from __future__ import annotations

from datetime import date
from typing import Any, cast

from sqlalchemy import Engine, Table, delete, insert, select

from daihou.db.engine import transaction
from daihou.db.inserts import insert_ids
from daihou.ledger.models import JournalEntry

ENTRIES = cast(Table, JournalEntry.__table__)


def _rows(memos: list[str]) -> list[dict[str, Any]]:
    day = date(2026, 3, 1)
    return [
        {
            "kind": "test",
            "entry_date": day,
            "booked_on": day,
            "loan_id": None,
            "transaction_id": None,
            "memo": memo,
        }
        for memo in memos
    ]


def _stored(engine: Engine) -> dict[int, str]:
    with transaction(engine) as s:
        return {i: m for i, m in s.execute(select(ENTRIES.c.id, ENTRIES.c.memo))}


def test_ids_name_the_rows_in_order_and_continue_after_the_table(engine: Engine) -> None:
    memos = [f"row {n}" for n in (5, 1, 4, 2, 3)]  # not in any sorted order
    with transaction(engine) as s:
        first = insert_ids(s, ENTRIES, _rows(memos))
        assert insert_ids(s, ENTRIES, []) == []
    assert len(set(first)) == len(memos)
    assert _stored(engine) == dict(zip(first, memos, strict=True))

    # a row inserted one at a time the usual way, then the newest rows deleted: new ids
    # follow whatever the table holds, and no stored row is touched
    with transaction(engine) as s:
        single = s.execute(insert(ENTRIES).returning(ENTRIES.c.id), _rows(["single"])[0])
        single_id = single.scalar_one()
        s.execute(delete(ENTRIES).where(ENTRIES.c.id == single_id))
    more = ["a", "b", "c"]
    with transaction(engine) as s:
        second = insert_ids(s, ENTRIES, _rows(more))
    assert min(second) > max(first)
    expected = {**dict(zip(first, memos, strict=True)), **dict(zip(second, more, strict=True))}
    assert _stored(engine) == expected


def test_sqlite_ids_are_those_one_insert_per_row_gives(tmp_path: Any) -> None:
    from daihou.db.engine import make_engine
    from daihou.db.models import Base

    engines = [make_engine(f"sqlite:///{tmp_path}/{name}.db") for name in ("one", "many")]
    for eng in engines:
        Base.metadata.create_all(eng)
        with transaction(eng) as s:  # some history, the newest row deleted
            for memo in ("x", "y", "z"):
                s.execute(insert(ENTRIES), _rows([memo])[0])
            s.execute(delete(ENTRIES).where(ENTRIES.c.memo == "z"))
    memos = ["p", "q", "r", "s"]
    one, many = engines
    with transaction(one) as s:
        expected = [
            s.execute(insert(ENTRIES).returning(ENTRIES.c.id), row).scalar_one()
            for row in _rows(memos)
        ]
    with transaction(many) as s:
        got = insert_ids(s, ENTRIES, _rows(memos))
    assert got == expected
    assert _stored(one) == _stored(many)
    for eng in engines:
        eng.dispose()
