"""SQLite: the two biggest tables of a generated book built beside the load, in worker
processes, each in a scratch file of its own, then copied into the book whole.

A SQLite file has one writer, so on 2 cores the load's own process was the whole wall
time. Here the plan's work tables go into a scratch file first (``WorkFile``, committed,
so other processes can read it); a worker process per side table (``SideTables``)
attaches it and runs the same ``INSERT … SELECT`` as the in-process path into an empty
copy of the table — the same ``CREATE TABLE`` and ``CREATE INDEX`` text, read from the
book's ``sqlite_master`` — then builds its indexes. Meanwhile the load writes the other
tables. At the end the load attaches the side file and runs ``INSERT INTO t SELECT *
FROM side.t``: with identical schemas, an empty destination, foreign keys off and no
``WHERE``/``ORDER BY``, SQLite copies the stored records and every index's entries
(already sorted) as they are — SQLite's "transfer optimisation", the copy ``VACUUM``
uses — instead of decoding rows and sorting index keys again. The copy is part of the
load's one transaction, and the foreign keys are checked afterwards as before.

The scratch files (``journal_mode = OFF``: nothing there needs a rollback) live in a
temporary directory next to the book and are deleted at the end. Where ``fork`` is not
available the tables are built in this process, one after the other.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import time
from collections.abc import Collection, Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

SIDE_PRAGMAS = (
    ("journal_mode", "OFF"),  # a scratch file: nothing to roll back
    ("synchronous", "OFF"),
    # 16 MB: also the sorter's in-memory run size for CREATE INDEX; small runs merged
    # cost less CPU than big ones (the 4.7 M-key (status, due_date) build at 200k: 3.9–4.9
    # s with 4–16 MB runs, 6.2 s with 50 MB, 8–9 s with 200 MB) — the inserts only append
    ("cache_size", "-16000"),
    # the sorter's runs in temporary files (unlinked at once; the OS page cache holds
    # them), not in memory: SQLite's in-memory temporary files cost the same build
    # 9.5–10.5 s of CPU against 6.2 s (50 MB runs, side by side)
    ("temp_store", "FILE"),
    ("locking_mode", "EXCLUSIVE"),
)


SIDE_PAGE = 16384
"""Page size of the side tables' files (``build``)."""


def book_file(engine: Engine) -> Path | None:
    """The SQLite file of ``engine`` (None on PostgreSQL or an in-memory database)."""
    if engine.dialect.name != "sqlite":
        return None
    name = engine.url.database
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name).resolve()


def connect(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(path, isolation_level=None)
    for name, value in SIDE_PRAGMAS:
        con.execute(f"PRAGMA {name}={value}")
    return con


class WorkFile:
    """The generator's work tables in a scratch file (``Loader.copy``'s SQLite half)."""

    def __init__(self, path: Path, tables: dict[str, str]) -> None:
        self.path = path
        self.con = connect(path)
        self.con.execute("BEGIN")
        for name, columns in tables.items():
            # a composite key: the rows stored in its order, so each join of the
            # installments statement (23 M rows at 1 M loans) is one lookup, not two
            clustered = " WITHOUT ROWID" if "PRIMARY KEY (" in columns else ""
            self.con.execute(f"CREATE TABLE {name} ({columns}){clustered}")

    @staticmethod
    def day(value: Any) -> Any:
        return None if value is None else value.isoformat()

    def copy(self, table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> None:
        marks = ", ".join("?" * len(columns))
        self.con.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)

    def close(self) -> None:
        self.con.execute("COMMIT")
        self.con.close()


def schema_of(engine: Engine, table: str) -> list[str]:
    """``table``'s ``CREATE TABLE`` then its ``CREATE INDEX`` statements, as stored."""
    with engine.connect() as c:
        rows = c.exec_driver_sql(
            "SELECT type, sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL",
            (table,),
        ).all()
    return [sql for kind, sql in rows if kind == "table"] + [
        sql for kind, sql in rows if kind == "index"
    ]


def index_name(statement: str) -> str:
    """The name in a ``CREATE [UNIQUE] INDEX name ON …`` statement."""
    words = statement.split()
    return words[words.index("INDEX") + 1]


def build(
    work: str,
    path: str,
    schema: Sequence[str],
    sql: str,
    params: dict[str, Any],
    first: Collection[str] = (),
) -> tuple[float, float]:
    """Create the table (``schema[0]``) in the file ``path``, fill it with ``sql`` reading
    the work tables of ``work``, then create its indexes; returns the CPU seconds of the
    insert and of the indexes. The indexes named in ``first`` are created before the
    insert instead (their cost counted in it): ``sql`` writes their keys in order, so
    each entry is appended at the end of its b-tree, which costs less than sorting them
    all afterwards (two 3.9 M-key allocation indexes: 2.8–4.3 s for the insert with
    them against 4.6–5.2 s for the insert and the builds)."""
    unknown = set(first) - {index_name(s) for s in schema[1:]}
    if unknown:
        raise ValueError(f"first: no index {sorted(unknown)} in the schema")
    before = [s for s in schema[1:] if index_name(s) in first]
    after = [s for s in schema[1:] if index_name(s) not in first]
    t0 = time.process_time()
    con = connect(Path(path))
    try:
        # 16 KB pages (the book's are 4 KB; the copy moves records, not pages): the
        # installments insert at 200k loans 6.2–6.7 s CPU against 7.4–7.5 s
        con.execute(f"PRAGMA page_size={SIDE_PAGE}")
        con.execute(schema[0])
        con.execute("ATTACH DATABASE ? AS gen_work", (work,))
        con.execute("BEGIN")
        for statement in before:
            con.execute(statement)
        con.execute(sql, params)
        t1 = time.process_time()
        for statement in after:
            con.execute(statement)
        con.execute("COMMIT")
    finally:
        con.close()
    return t1 - t0, time.process_time() - t1


class SideTables:
    """The side tables being built: one worker process each (``fork``), else in turn
    in this process when ``wait`` is called."""

    def __init__(self, directory: Path, work: Path) -> None:
        self.directory = directory
        self.work = work
        self.jobs: dict[str, tuple[str, Future[tuple[float, float]] | None, tuple[Any, ...]]] = {}
        self.pool: ProcessPoolExecutor | None = None
        if "fork" in multiprocessing.get_all_start_methods():
            self.pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork"))

    def start(
        self,
        table: str,
        schema: Sequence[str],
        sql: str,
        params: dict[str, Any],
        first: Collection[str] = (),
    ) -> None:
        path = str(self.directory / f"{table}.db")
        args = (str(self.work), path, list(schema), sql, params, tuple(first))
        future = self.pool.submit(build, *args) if self.pool is not None else None
        self.jobs[table] = (path, future, args)

    def wait(self, table: str) -> tuple[str, tuple[float, float]]:
        """The file holding ``table`` once built, and the CPU seconds of its insert and
        of its indexes."""
        path, future, args = self.jobs[table]
        return path, (future.result() if future is not None else build(*args))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)
