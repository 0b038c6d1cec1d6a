"""The packaged Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Engine, event, inspect, select, text
from sqlalchemy.dialects import postgresql

from daihou.db import storage
from daihou.db.engine import make_engine, transaction
from daihou.db.models import Base, JournalEntry, JournalLine, LprRate
from daihou.db.schema import (
    alembic_config,
    current_revision,
    head_revision,
    init_database,
    upgrade,
)
from daihou.eod.calendar import business_date


@pytest.fixture
def empty_engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


def schema_diff(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def test_head_revision_is_shipped() -> None:
    assert head_revision() == "0001"


def test_upgrade_head_matches_models(empty_engine: Engine) -> None:
    assert current_revision(empty_engine) is None

    upgrade(empty_engine)

    assert current_revision(empty_engine) == head_revision()
    tables = set(inspect(empty_engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert schema_diff(empty_engine) == []


def test_upgrade_twice_is_a_no_op(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    with transaction(empty_engine) as session:
        session.add(LprRate(tenor="1y", effective_on=date(2024, 7, 22), rate=Decimal("0.0335")))

    upgrade(empty_engine)

    assert current_revision(empty_engine) == head_revision()
    assert schema_diff(empty_engine) == []
    with transaction(empty_engine) as session:
        assert session.execute(select(LprRate.rate)).scalar_one() == Decimal("0.0335")


def test_big_id_columns_autoincrement(empty_engine: Engine) -> None:
    """BigId is INTEGER PRIMARY KEY (the rowid) on SQLite and BIGSERIAL on PostgreSQL."""
    upgrade(empty_engine)
    with transaction(empty_engine) as session:
        entries = [
            JournalEntry(
                kind="test",
                entry_date=date(2025, 1, 2),
                booked_on=date(2025, 1, 2),
                lines=[JournalLine(account="funding", debit=Decimal("1.00"))],
            )
            for _ in range(3)
        ]
        session.add_all(entries)
        session.flush()
        ids = [entry.id for entry in entries]
        line_ids = [entry.lines[0].id for entry in entries]
    assert all(isinstance(i, int) for i in ids + line_ids)
    assert len(set(ids)) == 3 and len(set(line_ids)) == 3
    if empty_engine.dialect.name == "sqlite":
        with empty_engine.connect() as conn:
            ddl = conn.execute(
                text("SELECT sql FROM sqlite_master WHERE name = 'journal_entries'")
            ).scalar_one()
        assert "id INTEGER NOT NULL" in ddl


def test_init_database_sets_business_date_once(empty_engine: Engine) -> None:
    init_database(engine=empty_engine, business_date=date(2025, 3, 3))
    init_database(engine=empty_engine, business_date=date(2026, 1, 1))

    assert current_revision(empty_engine) == head_revision()
    with transaction(empty_engine) as session:
        assert business_date(session) == date(2025, 3, 3)


def _collation(column: Column[Any]) -> str | None:
    """The collation ``column`` gets on PostgreSQL (its type's variant there, if any)."""
    kind = column.type.dialect_impl(postgresql.dialect())
    return getattr(kind, "collation", None)


def test_loan_and_customer_ids_compare_bytewise_on_postgresql() -> None:
    """Every column holding loan or customer ids (foreign key or not) is ``Code``:
    PostgreSQL reads an index only for comparisons in the index's collation, so a join
    of ``installments.loan_id`` with, say, ``collection_cases.loan_id`` needs both in
    "C". People's text keeps the database's collation."""
    holders = [
        column
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if column.name in ("loan_id", "customer_id")
        or any(fk.target_fullname in ("loans.id", "customers.id") for fk in column.foreign_keys)
    ]
    assert len(holders) > 20
    assert [str(c) for c in holders if _collation(c) != "C"] == []
    tables = Base.metadata.tables
    for key in ("loans.id", "customers.id", "installments.status", "customers.phone_hash"):
        table, name = key.split(".")
        assert _collation(tables[table].c[name]) == "C", key
    for key in ("customers.name", "customers.address", "journal_entries.memo"):
        table, name = key.split(".")
        assert _collation(tables[table].c[name]) is None, key


# PostgreSQL only (SQLite has no collations here): parametrized on that backend alone,
# so no SQLite case is collected and skipped (CI refuses skipped PostgreSQL-named tests)
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_upgrade_gives_postgresql_the_models_collations(empty_engine: Engine) -> None:
    """The migration declares ``COLLATE "C"`` exactly where the models do (autogenerate's
    comparison does not look at collations)."""
    upgrade(empty_engine)
    with empty_engine.connect() as conn:
        found = {
            (r[0], r[1]): r[2]
            for r in conn.execute(
                text(
                    "SELECT table_name, column_name, collation_name FROM"
                    " information_schema.columns WHERE table_schema = current_schema()"
                )
            )
        }
    expected = {
        (table.name, column.name): _collation(column)
        for table in Base.metadata.sorted_tables
        for column in table.columns
    }
    assert {k: found[k] for k in expected} == expected
    assert found["installments", "status"] == "C"


def _fill_factors(engine: Engine) -> dict[str, str | None]:
    with engine.connect() as conn:
        return {
            table: conn.scalar(
                text(
                    "SELECT option_value FROM pg_options_to_table("
                    "(SELECT reloptions FROM pg_class WHERE oid = to_regclass(:t)))"
                    " WHERE option_name = 'fillfactor'"
                ),
                {"t": table},
            )
            for table in ("installment_accruals", "installments", "loans", "customers")
        }


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_postgresql_storage_settings_on_every_schema(empty_engine: Engine) -> None:
    """An imported book gets the fill factors a generated one has, and the accrual's
    scratch table is unlogged (``db.storage``): from the migrations and from
    ``create_all`` alike."""
    upgrade(empty_engine)
    assert _fill_factors(empty_engine) == {
        "installment_accruals": "50",
        "installments": "80",
        "loans": "85",
        "customers": None,
    }
    assert _persistence(empty_engine) == {"eod_accrual_work": "u", "eod_work": "p"}
    # a schema already set is left alone: no ALTER (whose lock would wait on a running
    # end of day) when the next upgrade finds nothing to do
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        seen.append(statement)

    event.listen(empty_engine, "before_cursor_execute", record)
    upgrade(empty_engine)
    event.remove(empty_engine, "before_cursor_execute", record)
    assert any("reloptions" in s for s in seen), seen  # the settings were looked at
    assert not [s for s in seen if s.lstrip().upper().startswith("ALTER")], seen
    with empty_engine.begin() as conn:
        conn.execute(text("DROP TABLE installments"))
        conn.execute(text("DROP TABLE eod_accrual_work"))
    tables = [Base.metadata.tables[t] for t in ("installments", "eod_accrual_work")]
    Base.metadata.create_all(empty_engine, tables=tables)
    assert _fill_factors(empty_engine)["installments"] == "80"
    assert _persistence(empty_engine)["eod_accrual_work"] == "u"


def _persistence(engine: Engine) -> dict[str, str]:
    """End of day's scratch tables: unlogged (u) or not (p)."""
    with engine.connect() as conn:
        return {
            t: conn.scalar(
                text("SELECT relpersistence FROM pg_class WHERE oid = to_regclass(:t)"),
                {"t": t},
            )
            for t in ("eod_accrual_work", "eod_work")
        }


def test_an_offline_postgresql_script_carries_the_storage_settings() -> None:
    """``alembic upgrade head --sql`` for PostgreSQL (a script a DBA runs) sets what an
    online upgrade sets, after the tables are created."""
    out = io.StringIO()
    config = alembic_config()
    config.output_buffer = out
    config.set_main_option("sqlalchemy.url", "postgresql://offline@localhost/none")
    command.upgrade(config, "head", sql=True)
    script = out.getvalue()
    for statement in storage.statements():
        assert statement in script, statement
        table = statement.split()[2]
        assert script.index(f"CREATE TABLE {table} ") < script.index(statement), statement
