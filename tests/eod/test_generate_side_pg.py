"""PostgreSQL: the generator's biggest tables are built beside the load by worker
processes on connections of their own and swapped in (``demo.side_pg``). The swapped
tables must be the migrations' tables in every respect, and a failure anywhere must
leave the book as it was, with no side table behind."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text

from daihou.db.engine import transaction
from daihou.demo import generate, side_pg
from daihou.demo.generate import LOADED, generate_book
from daihou.eod.calendar import initialise_business_date
from daihou.loans.models import Installment, Loan
from daihou.payments.models import Allocation

TODAY = date(2026, 3, 31)

# the side build is PostgreSQL's (a SQLite file has demo.side)
pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


@pytest.fixture
def pg(engine: Engine) -> Engine:
    with transaction(engine) as s:
        initialise_business_date(s, TODAY)
    return engine


def _catalog(engine: Engine) -> dict[str, Any]:
    """What the schema says of each loaded table: columns (type, default, null,
    collation), indexes (name and definition), constraints (name, definition,
    validated), storage options, persistence, the sequences its columns own."""
    out: dict[str, Any] = {}
    with engine.connect() as c:
        for table in LOADED:
            t = {"t": table}
            out[table] = {
                "columns": c.execute(
                    text(
                        "SELECT column_name, data_type, column_default, is_nullable,"
                        " collation_name FROM information_schema.columns"
                        " WHERE table_schema = current_schema() AND table_name = :t"
                        " ORDER BY ordinal_position"
                    ),
                    t,
                ).all(),
                "indexes": c.execute(
                    text(
                        "SELECT indexname, indexdef FROM pg_indexes"
                        " WHERE schemaname = current_schema() AND tablename = :t"
                        " ORDER BY indexname"
                    ),
                    t,
                ).all(),
                "constraints": c.execute(
                    text(
                        "SELECT conname, pg_get_constraintdef(oid), convalidated"
                        " FROM pg_constraint WHERE conrelid = CAST(:t AS regclass)"
                        " ORDER BY conname"
                    ),
                    t,
                ).all(),
                "storage": c.execute(
                    text(
                        "SELECT reloptions, relpersistence FROM pg_class"
                        " WHERE oid = CAST(:t AS regclass)"
                    ),
                    t,
                ).one(),
                "sequence": c.execute(text("SELECT pg_get_serial_sequence(:t, 'id')"), t).scalar(),
            }
        out["side tables"] = c.execute(
            text(
                "SELECT relname FROM pg_class WHERE relname LIKE 'gen\\_side\\_%'"
                " AND relnamespace = current_schema()::regnamespace"
            )
        ).all()
    return out


def _empty(engine: Engine) -> None:
    with transaction(engine) as s:
        for model in (Loan, Installment, Allocation):
            assert s.scalar(select(func.count()).select_from(model)) == 0


def test_swapped_tables_are_the_migrations_tables(pg: Engine) -> None:
    # the tables built beside are the book's own afterwards: same columns, defaults,
    # index and constraint names and definitions, fill factor, id sequence — and the
    # foreign keys were checked (validated), and the sequences follow the rows
    before = _catalog(pg)
    assert before["installments"]["sequence"] and before["installments"]["storage"][0]
    result = generate_book(pg, loans=120, seed=3)
    after = _catalog(pg)
    for table in LOADED:
        assert after[table] == before[table], table
    assert after["side tables"] == []
    with pg.connect() as c:
        for table in ("installments", "allocations"):
            last = c.execute(text(f"SELECT max(id) FROM {table}")).scalar_one()
            following = c.execute(
                text(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id'))")
            ).scalar_one()
            assert following == last + 1, table
        count = c.execute(text("SELECT count(*) FROM installments")).scalar_one()
        assert count == result.installments > 120


def test_a_failing_worker_leaves_the_book_as_it_was(
    pg: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _catalog(pg)

    real = generate._blocks

    def broken(table: str, *args: Any) -> Iterator[str | bytes]:
        yield from real(table, *args)
        if table == "allocations":
            raise RuntimeError("the row source broke")

    monkeypatch.setattr(generate, "_blocks", broken)
    with pytest.raises(side_pg.SideBuildError, match=r"gen_side_allocations.*row source broke"):
        generate_book(pg, loans=60, seed=3)
    assert _catalog(pg) == before
    _empty(pg)
    monkeypatch.undo()
    generate_book(pg, loans=60, seed=3)  # and the next run works
    assert _catalog(pg) == before


def test_a_failing_load_stops_the_workers_and_drops_their_tables(
    pg: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the load fails while the workers are still writing (their row source sleeps inside
    # the COPY): the workers and their backends are stopped — else dropping their tables
    # would wait for the COPY's lock and fail after discard's lock timeout — the tables
    # are dropped and the book is untouched
    before = _catalog(pg)

    def slow(table: str, *args: Any) -> Iterator[str | bytes]:
        time.sleep(600)
        yield b""

    def fail(self: Any, *args: Any, **kwargs: Any) -> None:
        for _ in range(600):  # until both workers hold their tables (in their COPY)
            with pg.connect() as c:
                held = c.execute(
                    text(
                        "SELECT count(DISTINCT c.relname) FROM pg_locks l"
                        " JOIN pg_class c ON c.oid = l.relation"
                        " WHERE c.relname LIKE 'gen\\_side\\_%' AND l.granted"
                        " AND c.relnamespace = current_schema()::regnamespace"
                        " AND l.mode = 'AccessExclusiveLock'"
                    )
                ).scalar_one()
            if held == 2:
                break
            time.sleep(0.05)
        raise RuntimeError("the load broke")

    monkeypatch.setattr(generate, "_blocks", slow)
    monkeypatch.setattr(generate.Loader, "resume", fail)
    with pytest.raises(RuntimeError, match="the load broke"):
        generate_book(pg, loans=60, seed=3)
    assert _catalog(pg) == before  # no side table left
    _empty(pg)


def test_a_side_table_left_by_a_killed_run_is_replaced(pg: Engine) -> None:
    with pg.begin() as c:
        c.execute(text("CREATE TABLE gen_side_installments (stale INTEGER)"))
    generate_book(pg, loans=40, seed=3)
    assert _catalog(pg)["side tables"] == []
    with transaction(pg) as s:
        assert s.scalar(select(func.count()).select_from(Loan)) == 40


def test_what_a_swap_would_lose_is_refused(pg: Engine) -> None:
    before = _catalog(pg)
    with pg.begin() as c:
        c.execute(
            text(
                "CREATE FUNCTION keep_me() RETURNS trigger LANGUAGE plpgsql"
                " AS $$ BEGIN RETURN NEW; END $$"
            )
        )
        c.execute(
            text(
                "CREATE TRIGGER keep_me BEFORE INSERT ON allocations"
                " FOR EACH ROW EXECUTE FUNCTION keep_me()"
            )
        )
    with pytest.raises(side_pg.SideBuildError, match=r"allocations .* it has triggers"):
        generate_book(pg, loans=20, seed=3)
    _empty(pg)
    after = _catalog(pg)
    assert after["side tables"] == [] and after == before


def test_without_fork_the_side_tables_are_built_first_in_this_process(
    pg: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(side_pg.multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    before = _catalog(pg)
    result = generate_book(pg, loans=50, seed=3)
    assert _catalog(pg) == before
    with transaction(pg) as s:
        assert s.scalar(select(func.count()).select_from(Installment)) == result.installments
