"""The bulk-load connection of ``daihou demo generate``: one transaction, work tables,
``COPY`` (PostgreSQL) or ``executemany`` (SQLite), and constraints paused while loading.

Only ever used on an empty book (the generator checks), so dropping and rebuilding the
loaded tables' secondary indexes (``loans.book._Writer.pause_indexes``, as a big import
does) and — on PostgreSQL — foreign keys is safe: it all happens inside the one
transaction, and rebuilding a foreign key checks every row.

On SQLite the load runs with load-time settings on its own connection (``SQLITE_LOAD``):
foreign keys unchecked while writing and checked once at the end (``PRAGMA
foreign_key_check`` of every loaded table, before the commit), the rollback journal in
memory, no ``fsync``, a large page cache, temporary tables and sorts in memory and an
exclusive lock. A failure rolls the whole load
back, but a *crash* (power loss, ``kill -9``) in the middle can leave the database file
damaged: a generated book is a throwaway benchmark fixture, so generate it again into a
new file. Afterwards the journal mode goes back to WAL and the connection is discarded,
so the engine's ordinary connections never see these settings.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import suppress
from datetime import date
from types import TracebackType
from typing import Any, cast

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from daihou.db import storage
from daihou.demo.copy_binary import SIGNATURE, TRAILER

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

SQLITE_LOAD = (
    ("foreign_keys", "OFF"),  # checked once, before the commit (``check_keys``)
    ("journal_mode", "MEMORY"),  # rollback still works; a crash may damage the file
    ("synchronous", "OFF"),
    ("cache_size", "-1000000"),  # 1 GB
    ("temp_store", "MEMORY"),
    ("locking_mode", "EXCLUSIVE"),
)
"""SQLite settings of the load's connection (set before its transaction begins)."""

SQLITE_SORT = (("cache_size", "-16000"), ("temp_store", "FILE"))
"""SQLite settings while the load builds indexes (``Loader.resume``): 16 MB sorter runs
in temporary files — small runs merged cost less CPU than one large in-memory sort,
and SQLite's in-memory temporary files cost more than files the OS caches."""


MAINTENANCE_WORK_MEM = "512MB"
"""PostgreSQL: the memory each index build of a load sorts in (the load's and the side
builds' alike)."""


def copy_blocks(
    raw: Any,
    table: str,
    columns: Sequence[str],
    blocks: Iterable[str | bytes],
    *,
    freeze: bool = False,
    binary: bool = False,
) -> int:
    """``COPY`` rows given as blocks of COPY text — or, with ``binary``, of rows in the
    binary format (``demo.copy_binary``; the stream's signature and trailer are added
    here) — into ``table`` on the psycopg connection ``raw``, sent by a thread of
    psycopg (``QueuedLibpqWriter``) so this process computes the next block while the
    server stores the last. ``freeze``: the table was created or truncated in this
    transaction. Returns the rows copied."""
    from psycopg.copy import QueuedLibpqWriter

    options = [o for o, on in (("FORMAT BINARY", binary), ("FREEZE", freeze)) if on]
    option = f" ({', '.join(options)})" if options else ""
    cursor = raw.cursor()
    try:
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN{option}"
        with cursor.copy(statement, writer=QueuedLibpqWriter(cursor)) as cp:
            if binary:
                cp.write(SIGNATURE)
            for block in blocks:
                cp.write(block)
            if binary:
                cp.write(TRAILER)
        return int(cursor.rowcount)
    finally:
        cursor.close()


class ForeignKeyViolation(RuntimeError):
    """The loaded rows break a foreign key (a bug of the generator: nothing is kept)."""


class Loader:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self._restore: list[str] = []
        self._loaded: list[str] = []
        self.analysed: set[str] = set()
        """Loaded tables whose statistics are already made (``demo.side_pg``): left out
        of the ``ANALYZE`` after the commit."""
        self._attached: list[str] = []

    # -- lifecycle ---------------------------------------------------------------------
    def __enter__(self) -> Loader:
        self.conn = self.engine.connect()
        self.raw: Any = cast(Any, self.conn.connection.dbapi_connection)
        if not self.postgres:
            self._pragmas(SQLITE_LOAD)
        self.session = Session(bind=self.conn)
        self.session.execute(text("SELECT 1"))  # begins (BEGIN IMMEDIATE on SQLite)
        if self.postgres:
            self.execute(f"SET LOCAL maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'")
            self.execute("SET LOCAL work_mem = '256MB'")  # the ORDER BY of the inserts
            # each slice's plan costs more than jit_above_cost: compiling it is wasted
            self.execute("SET LOCAL jit = off")
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
            for alias in self._attached:  # before WAL is set back: it would apply to them
                with suppress(Exception):  # the connection is discarded anyway
                    self.raw.execute(f"DETACH DATABASE {alias}")
            if not self.postgres:
                self._sqlite_normal(analyse=kind is None)
            self.conn.close()
        analyse = [t for t in self._loaded if t not in self.analysed]
        if kind is None and self.postgres and analyse:
            # the loaded tables only: a bare ANALYZE reads every table of the database,
            # other schemas' included
            with self.engine.connect() as c:
                c.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                    f"ANALYZE {', '.join(analyse)}"
                )

    def _sqlite_normal(self, *, analyse: bool) -> None:
        """Leave the file as the engine's connections expect it (WAL) and drop this
        connection from the pool, so no load-time setting is ever reused."""
        try:
            self.raw.execute("PRAGMA locking_mode=NORMAL")
            self.raw.execute("SELECT 1 FROM sqlite_master LIMIT 1")  # releases the lock
            self.raw.execute("PRAGMA journal_mode=WAL")
            if analyse:  # planner statistics from a sample: seconds, not minutes
                self.raw.execute("PRAGMA analysis_limit=2000")
                self.raw.execute("ANALYZE")
        finally:
            self.conn.invalidate()

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

    def analyse(self, tables: Sequence[str]) -> None:
        """PostgreSQL: planner statistics of ``tables`` now, inside the load's
        transaction (its own rows count as live), instead of after the commit."""
        if self.postgres and tables:
            self.execute(f"ANALYZE {', '.join(tables)}")
            self.analysed.update(tables)

    def attach(self, alias: str, path: str) -> None:
        """SQLite: attach a scratch file (``demo.side``) to the load's connection; its
        tables are found by their bare names. Detached at the end."""
        self.raw.execute("ATTACH DATABASE ? AS " + alias, (path,))
        self._attached.append(alias)

    def copy_table(self, table: str, alias: str) -> None:
        """SQLite: copy the whole ``alias.table`` (same schema, built by ``demo.side``)
        into the empty ``table``: stored records and index entries as they are."""
        self.execute(f"INSERT INTO {table} SELECT * FROM {alias}.{table}")

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
    def pause(self, tables: Sequence[str], *, unique: bool = False) -> None:
        """Drop the secondary (non-unique) indexes of ``tables`` (``_Writer.
        pause_indexes``) and, on PostgreSQL, their foreign keys; ``resume`` recreates
        them exactly. ``unique`` (PostgreSQL): also their primary keys, unique
        constraints and unique indexes that no remaining foreign key depends on
        (``_pause_unique``) — built once at the end instead of one entry per row."""
        from daihou.loans.book import PAUSE_INDEXES_FROM, _Writer

        self._loaded = list(tables)
        self._restore = []
        writer = _Writer(self.session.connection())
        fks: list[tuple[str, str, str]] = []
        if self.postgres:
            # room on every page for end of day's nightly rewrites (heap-only updates);
            # a schema made by the migrations or create_all has it already
            storage.apply(self.session.connection())
            names = ", ".join(f"'{t}'" for t in tables)
            fks = [
                (r[0], r[1], r[2])
                for r in self.session.execute(
                    text(
                        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
                        " FROM pg_constraint WHERE contype = 'f'"
                        f" AND conrelid::regclass::text IN ({names})"
                    )
                )
            ]
            for table, name, _ in fks:
                self.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            if unique:
                self._restore += self._pause_unique(tables)
        # the tables are empty (the generator checked): always worth rebuilding
        self._restore += [
            sql for table in tables for sql in writer.pause_indexes(table, PAUSE_INDEXES_FROM)
        ]
        self._restore += self._add_keys(fks)

    def _add_keys(self, fks: Sequence[tuple[str, str, str]]) -> list[str]:
        """PostgreSQL: the SQL that adds ``fks`` back, each checking every row, run after
        the indexes. The check (one anti-join per key) is planned with hash joins off:
        both sides then come from the indexes just rebuilt, read in key order and merged
        (index-only for the tables loaded ``FREEZE``, whose pages are all-visible),
        instead of a scan of the whole table and a hash of every key (200k loans: 2.0
        against 3.0–3.9 s of backend CPU for the nine keys; bench/README.md)."""
        if not fks:
            return []
        hashjoin = self.session.execute(text("SHOW enable_hashjoin")).scalar_one()
        return [
            "SET LOCAL enable_hashjoin = off",
            *(
                f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
                for table, name, definition in fks
            ),
            f"SET LOCAL enable_hashjoin = {hashjoin}",
        ]

    def _pause_unique(self, tables: Sequence[str]) -> list[str]:
        """PostgreSQL: drop the unique keys of ``tables`` that no foreign key refers to
        (those of the loaded tables were dropped first); return the SQL that recreates
        them, keys first (a foreign key added back may need one)."""
        run = self.session.execute
        referred = {
            r[0]
            for r in run(
                text("SELECT confrelid::regclass::text FROM pg_constraint WHERE contype = 'f'")
            )
        }
        free = [t for t in tables if t not in referred]
        if not free:
            return []
        among = ", ".join(f"'{t}'" for t in free)
        keys = run(
            text(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
                " FROM pg_constraint WHERE contype IN ('p', 'u')"
                f" AND conrelid::regclass::text IN ({among})"
            )
        ).all()
        indexes = run(
            text(
                "SELECT c.relname, pg_get_indexdef(c.oid) FROM pg_index x"
                " JOIN pg_class c ON c.oid = x.indexrelid"
                f" WHERE x.indrelid::regclass::text IN ({among}) AND x.indisunique"
                " AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = c.oid)"
            )
        ).all()
        for table, name, _ in keys:
            self.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            self.execute(f'DROP INDEX "{name}"')
        return [f'ALTER TABLE {t} ADD CONSTRAINT "{n}" {d}' for t, n, d in keys] + [
            sql for _, sql in indexes
        ]

    def truncate(self, tables: Sequence[str]) -> list[str]:
        """PostgreSQL: empty those of ``tables`` that no foreign key refers to (after
        ``pause``) with ``TRUNCATE``, which lets ``copy_blocks`` load them ``FREEZE``:
        rows stored frozen and pages marked all-visible, so the book's first readers
        (end of day) neither set hint bits on every page nor wait for a vacuum to get
        index-only scans. Only empty tables are touched (checked here); a rollback
        brings the old (empty) storage back. Returns the tables truncated."""
        if not self.postgres:
            return []
        referred = {
            r[0]
            for r in self.session.execute(
                text("SELECT confrelid::regclass::text FROM pg_constraint WHERE contype = 'f'")
            )
        }
        free = []
        for table in tables:
            if table in referred:
                continue
            if self.session.execute(text(f"SELECT 1 FROM {table} LIMIT 1")).first() is not None:
                raise ValueError(f"{table} is not empty; generate into an empty book")
            free.append(table)
        if free:
            self.execute(f"TRUNCATE {', '.join(free)}")
        return free

    def resume(self, *, sort_in_files: bool = False) -> None:
        """Recreate what ``pause`` dropped. ``sort_in_files`` (SQLite, no temporary
        tables on this connection — changing ``temp_store`` drops them): the index
        builds sort in 16 MB runs kept in temporary files (``SQLITE_SORT``) instead of
        one run as large as the 1 GB page cache, in memory — about half the CPU (the
        other five tables' 13 indexes at 200k: 1.9–2.1 s against 4.1–4.7 s); the load's
        settings are restored afterwards."""
        from daihou.loans.book import _Writer

        sorting = sort_in_files and not self.postgres
        if sorting:
            self._pragmas(SQLITE_SORT)
        try:
            _Writer(self.session.connection()).restore_indexes(self._restore)
        finally:
            if sorting:
                self._pragmas(tuple((n, v) for n, v in SQLITE_LOAD if n in dict(SQLITE_SORT)))
        self._restore = []

    def _pragmas(self, settings: Sequence[tuple[str, str]]) -> None:
        for name, value in settings:
            self.raw.execute(f"PRAGMA {name}={value}")

    def check_keys(self, tables: Sequence[str] | None = None, *, by_value: bool = False) -> None:
        """SQLite: the foreign keys of the loaded tables (or of ``tables``) hold (they
        were not checked row by row). PostgreSQL checked them when ``resume`` added them
        back.

        ``by_value`` (tables with many rows per key value): a key whose column leads an
        index of its table is checked by reading that index for its distinct values,
        each looked up once in the parent (``_missing_parent``) — 23.5 M installments
        hold 1 M distinct loan ids, and ``PRAGMA foreign_key_check`` looks the parent up
        once per row (13 s of the 1 M-loan load, after the copy of installments; where
        keys are nearly unique the pragma is cheaper). Any other key, and any table where
        a missing parent is found, goes through ``PRAGMA foreign_key_check``: the error
        names the row either way."""
        if self.postgres:
            return
        for table in self._loaded if tables is None else tables:
            if by_value and not self._missing_parent(table):
                continue
            bad = self.session.execute(text(f"PRAGMA foreign_key_check({table})")).first()
            if bad is not None:
                raise ForeignKeyViolation(
                    f"{table} row {bad[1]} refers to a missing {bad[2]} row (key {bad[3]})"
                )

    def _missing_parent(self, table: str) -> bool:
        """SQLite: whether ``table`` may hold a key with no parent row — False only when
        every foreign key was checked here by its distinct values (one column, leading
        an index of ``table``: read in order, no sort)."""
        run = self.session.execute
        led = set()  # the first column of each index of the table
        for index in run(text(f"PRAGMA index_list('{table}')")).all():
            first = run(text(f"PRAGMA index_info('{index[1]}')")).first()
            led.add(None if first is None else first[2])
        keys: dict[int, list[tuple[Any, ...]]] = {}
        for fk in run(text(f"PRAGMA foreign_key_list('{table}')")).all():
            keys.setdefault(fk[0], []).append(tuple(fk))
        for key, *more in keys.values():
            parent, column, target = key[2], key[3], key[4]
            if more or column not in led or target is None:
                return True  # composite, unindexed or to an implicit key: the pragma
            orphan = run(
                text(
                    f"SELECT 1 FROM (SELECT DISTINCT {column} AS k FROM {table}"
                    f" WHERE {column} IS NOT NULL) WHERE NOT EXISTS"
                    f" (SELECT 1 FROM {parent} WHERE {target} = k) LIMIT 1"
                )
            ).first()
            if orphan is not None:
                return True
        return False
