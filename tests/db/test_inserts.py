"""``insert_ids`` gives each row the id it is stored under, in the rows' order, and on
SQLite the ids one INSERT per row would have given."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar, cast

import pytest
from sqlalchemy import DateTime, Engine, Integer, String, Table, delete, event, func, insert, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from daihou.db.engine import transaction
from daihou.db.inserts import give_ids, insert_ids
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


def _entries(memos: list[str]) -> list[JournalEntry]:
    return [JournalEntry(**row) for row in _rows(memos)]


def test_given_ids_are_those_the_flush_gives(tmp_path: Any) -> None:
    """``give_ids`` numbers new ORM objects as their flush would (SQLite)."""
    from daihou.db.engine import make_engine
    from daihou.db.models import Base

    engines = [make_engine(f"sqlite:///{tmp_path}/{name}.db") for name in ("flush", "given")]
    for eng in engines:
        Base.metadata.create_all(eng)
        with transaction(eng) as s:  # some history, the newest row deleted
            s.add_all(_entries(["x", "y", "z"]))
            s.flush()
            s.execute(delete(ENTRIES).where(ENTRIES.c.memo == "z"))
    memos = ["p", "q", "r", "s"]
    ids = []
    for eng, given in zip(engines, (False, True), strict=True):
        with transaction(eng) as s:
            s.add(JournalEntry(**_rows(["flushed first"])[0]))
            s.flush()
            objects = _entries(memos)
            if given:
                give_ids(s, objects)
                assert all(o.id is not None for o in objects)
            s.add_all(objects)
            s.flush()
            ids.append([o.id for o in objects])
    assert ids[0] == ids[1]
    assert _stored(engines[0]) == _stored(engines[1])
    for eng in engines:
        eng.dispose()


def test_give_ids_needs_every_new_object_of_the_class(engine: Engine) -> None:
    with transaction(engine) as s:
        left_out = _entries(["pending"])
        s.add_all(left_out)
        with pytest.raises(ValueError, match="every new JournalEntry"):
            give_ids(s, _entries(["a", "b"]))
        assert left_out[0].id is None  # nothing was flushed by the check
        s.flush()
        done = _entries(["c"])
        s.add_all(done)
        s.flush()
        with pytest.raises(ValueError, match="without ids"):
            give_ids(s, done)
    with transaction(engine) as s:
        objects = _entries(["d", "e"])
        give_ids(s, objects)  # on PostgreSQL nothing: the flush numbers them
        s.add_all(objects)
        s.flush()
        assert len({o.id for o in objects}) == 2
    assert _stored(engine)[objects[1].id] == "e"


class _Base(DeclarativeBase):
    pass


class _Row(_Base):
    """A table like the contact log: an autoincrement id, a server default not fetched
    back."""

    __tablename__ = "rows"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    memo: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
    __mapper_args__: ClassVar[dict[str, Any]] = {"eager_defaults": False}


def test_given_ids_flush_in_one_statement_on_sqlite(tmp_path: Any) -> None:
    from daihou.db.engine import make_engine

    eng = make_engine(f"sqlite:///{tmp_path}/rows.db")
    _Base.metadata.create_all(eng)
    inserts: list[int] = []

    @event.listens_for(eng, "before_cursor_execute")
    def count(_c: Any, _cur: Any, statement: str, params: Any, _x: Any, many: bool) -> None:
        if statement.startswith("INSERT"):
            inserts.append(len(params) if many else 1)

    for given in (False, True):
        inserts.clear()
        with transaction(eng) as s:
            objects = [_Row(memo=m) for m in "abcd"]
            if given:
                give_ids(s, objects)
            s.add_all(objects)
            s.flush()
            assert [o.id for o in objects] == list(range(objects[0].id, objects[0].id + 4))
        assert inserts == ([4] if given else [1, 1, 1, 1])
    eng.dispose()
