"""The bulk-load connection of ``daihou demo generate``: one transaction, work tables,
``COPY`` (PostgreSQL) or ``executemany`` (SQLite), and constraints paused while loading.

Only ever used on an empty book (the generator checks), so dropping and rebuilding the
loaded tables' secondary indexes and — on PostgreSQL — foreign keys is safe: it all
happens inside the one transaction, and rebuilding a foreign key checks every row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from types import TracebackType
from typing import Any, cast

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

WORK_TABLES = {
    "gen_templates": "template INTEGER, period INTEGER, principal BIGINT, interest BIGINT,"
    " rate BIGINT, PRIMARY KEY (template, period)",
    "gen_dates": "start DATE, period INTEGER, start_date DATE, due_date DATE,"
    " PRIMARY KEY (start, period)",
    "gen_products": "template INTEGER PRIMARY KEY, product TEXT, method TEXT, term INTEGER,"
    " principal BIGINT, rate BIGINT",
    "gen_loans": "n INTEGER PRIMARY KEY, loan_id TEXT, customer_id TEXT, template INTEGER,"
    " start DATE, paid INTEGER, partial BIGINT, pay_on DATE, paid_principal BIGINT,"
    " paid_interest BIGINT",
}


INSTALLMENTS_FILL = 80
"""PostgreSQL fill factor of ``installments`` in a generated book (percent)."""


class Loader:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self._restore: list[str] = []

    # -- lifecycle ---------------------------------------------------------------------
    def __enter__(self) -> Loader:
        self.conn = self.engine.connect()
        self.raw: Any = cast(Any, self.conn.connection.dbapi_connection)
        if not self.postgres:
            # A fresh file: with the rollback journal, pages appended to the database
            # need no journal copy (WAL would write every page twice). Still atomic.
            self.raw.execute("PRAGMA journal_mode=DELETE")
            self.raw.execute("PRAGMA cache_size=-500000")
            self.raw.execute("PRAGMA temp_store=MEMORY")
        self.session = Session(bind=self.conn)
        self.session.execute(text("SELECT 1"))  # begins (BEGIN IMMEDIATE on SQLite)
        if self.postgres:
            self.execute("SET LOCAL maintenance_work_mem = '512MB'")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if kind is None:
                self.session.commit()
            else:
                self.session.rollback()
        finally:
            self.session.close()
            if not self.postgres:
                self.raw.execute("PRAGMA journal_mode=WAL")
                if kind is None:  # planner statistics from a sample: seconds, not minutes
                    self.raw.execute("PRAGMA analysis_limit=2000")
                    self.raw.execute("ANALYZE")
            self.conn.close()
        if kind is None and self.postgres:
            with self.engine.connect() as c:
                c.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")

    # -- statements --------------------------------------------------------------------
    def day(self, value: date | None) -> Any:
        if value is None or self.postgres:
            return value
        return value.isoformat()

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        self.session.execute(text(sql), params or {})

    def scalar(self, sql: str) -> int:
        return int(self.session.execute(text(sql)).scalar_one())

    def work_tables(self, today: date) -> None:
        temp = "TEMPORARY " if self.postgres else "TEMP "
        for name, columns in WORK_TABLES.items():
            self.execute(f"DROP TABLE IF EXISTS {name}")
            self.execute(f"CREATE {temp}TABLE {name} ({columns})")

    def drop_work_tables(self) -> None:
        for name in WORK_TABLES:
            self.execute(f"DROP TABLE {name}")

    def copy(self, table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> None:
        cursor = self.raw.cursor()
        try:
            if self.postgres:
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
                    for row in rows:
                        cp.write_row(row)
            else:
                marks = ", ".join("?" * len(columns))
                cursor.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows
                )
        finally:
            cursor.close()
        if self.postgres:
            self.execute(f"ANALYZE {table}")

    def insert_customers(self, rows: Sequence[tuple[Any, ...]]) -> None:
        from daihou.loans.book import _Personal, _Writer

        _Writer(self.session.connection()).insert("customers", _Personal().columns, rows)

    def advance_sequences(self, tables: Sequence[str]) -> None:
        """PostgreSQL: move the id sequences past the ids written explicitly."""
        if not self.postgres:
            return
        for table in tables:
            self.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" (SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
            )

    # -- constraints -------------------------------------------------------------------
    def pause(self, tables: Sequence[str]) -> None:
        """Drop the secondary (non-unique) indexes of ``tables`` and, on PostgreSQL,
        their foreign keys; ``resume`` recreates them exactly."""
        names = ", ".join(f"'{t}'" for t in tables)
        if self.postgres:
            # room on every page for end of day's nightly rewrite of overdue rows as
            # heap-only (HOT) updates: no new index entries for them
            self.execute(f"ALTER TABLE installments SET (fillfactor = {INSTALLMENTS_FILL})")
            fks = self.session.execute(
                text(
                    "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
                    " FROM pg_constraint WHERE contype = 'f'"
                    f" AND conrelid::regclass::text IN ({names})"
                )
            ).all()
            for table, name, _ in fks:
                self.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            indexes = self.session.execute(
                text(
                    "SELECT c.relname, pg_get_indexdef(c.oid) FROM pg_index x"
                    " JOIN pg_class c ON c.oid = x.indexrelid"
                    f" WHERE x.indrelid::regclass::text IN ({names}) AND NOT x.indisunique"
                )
            ).all()
            for name, _ in indexes:
                self.execute(f'DROP INDEX "{name}"')
            self._restore = [sql for _, sql in indexes] + [
                f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
                for table, name, definition in fks
            ]
        else:
            indexes = self.session.execute(
                text(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
                    f" AND tbl_name IN ({names}) AND sql IS NOT NULL"
                    " AND upper(sql) NOT LIKE 'CREATE UNIQUE%'"
                )
            ).all()
            for name, _ in indexes:
                self.execute(f'DROP INDEX "{name}"')
            self._restore = [sql for _, sql in indexes]

    def resume(self) -> None:
        for sql in self._restore:
            self.execute(sql)
        self._restore = []
