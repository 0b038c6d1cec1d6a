"""PostgreSQL: the biggest tables of a generated book built beside the load, each by a
worker process on connections of its own, then swapped in by the load's transaction.

The load (``demo.bulk.Loader``) is one transaction on one connection, so one server
backend stores every row and builds every index in turn: at 1 M loans the
installments alone cost it about 70 s (``COPY`` of 23.5 M rows, then five index
builds, each reading the whole table), the other tables about as much again, while the
second core waited. Here a worker process computes a table's rows from the plan and
``COPY``s them into a table of their own, ``gen_side_<table>`` — an empty copy of the
book's table made before the load (``prepare``: its columns, defaults, checks and
storage settings, no index), loaded ``FREEZE`` and committed — then builds its indexes
under temporary names on ``INDEX_CONNECTIONS`` connections at once and takes its
statistics. Meanwhile the load writes the other tables. Then, inside the load's
transaction, ``swap_in`` puts it in place of the book's (empty) table: the id
sequence's ownership moved, the empty table dropped, the side one renamed, each index
renamed to the book's name (primary and unique keys attached with ``ADD CONSTRAINT …
USING INDEX``), and the foreign keys added back, which checks every row. Nothing is
copied twice.

The book itself still changes in one transaction: until the load commits, the book's
table is the empty one. If anything fails, the workers and their backends are stopped
and the side tables dropped (``SideBuild.discard``); one left by a killed run is
dropped by the next (``prepare``). The swap refuses a table that other tables refer
to, or that has triggers, rules, row-level policies, an identity column or views — it
would lose them; the book's installments and allocations have none, and a test holds
the swapped tables' catalog (columns, defaults, indexes, constraints, storage,
sequence) equal to the migrations'.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection as Pipe
from queue import Empty, SimpleQueue
from typing import Any, cast

from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

from daihou.db import storage
from daihou.demo.bulk import MAINTENANCE_WORK_MEM, copy_blocks

PREFIX = "gen_side_"


class SideBuildError(RuntimeError):
    """The side table could not be built or swapped in (nothing of it is kept)."""


@dataclass(frozen=True)
class SideIndex:
    name: str  # the book's index name
    side: str  # its name on the side table
    ddl: str  # CREATE INDEX on the side table
    constraint: str | None  # the primary or unique key it backs
    kind: str | None  # 'p' or 'u'


@dataclass(frozen=True)
class SideTable:
    table: str
    side: str
    indexes: tuple[SideIndex, ...]


def prepare(engine: Engine, table: str) -> SideTable:
    """Make ``gen_side_<table>``: an empty copy of ``table`` without indexes (committed,
    so a second connection can load it), dropping one left by an earlier run; and the
    DDL of each of ``table``'s indexes for it."""
    side = PREFIX + table
    with engine.begin() as c:
        storage.apply(c)  # the book's storage settings first: the copy takes them
        _refuse_what_a_swap_would_lose(c, table)
        # a killed run's backend may still hold its side table for a while: wait, not
        # forever
        c.execute(text("SET LOCAL lock_timeout = '60s'"))
        c.execute(text(f"DROP TABLE IF EXISTS {side}"))
        options = c.execute(
            text("SELECT reloptions FROM pg_class WHERE oid = CAST(:t AS regclass)"), {"t": table}
        ).scalar_one()
        with_ = f" WITH ({', '.join(options)})" if options else ""
        c.execute(
            text(f"CREATE TABLE {side} (LIKE {table} INCLUDING ALL EXCLUDING INDEXES){with_}")
        )
        rows = c.execute(
            text(
                "SELECT i.relname, pg_get_indexdef(i.oid), k.conname, k.contype,"
                " x.indisunique FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
                " LEFT JOIN pg_constraint k ON k.conindid = i.oid AND k.conrelid = x.indrelid"
                " WHERE x.indrelid = CAST(:t AS regclass)"
                # built in this order: an index of every row before a partial one,
                # the costlier first, so no long build is left to run alone at the end
                " ORDER BY x.indpred IS NOT NULL, x.indnatts DESC, i.relname"
            ),
            {"t": table},
        ).all()
    indexes = []
    for n, (name, definition, constraint, kind, unique) in enumerate(rows, 1):
        # pg_get_indexdef: CREATE [UNIQUE] INDEX name ON schema.table USING method (…)
        _, rest = definition.split(" USING ", 1)
        temporary = f"{side}_{n}"
        ddl = f"CREATE {'UNIQUE ' if unique else ''}INDEX {temporary} ON {side} USING {rest}"
        indexes.append(SideIndex(name, temporary, ddl, constraint, kind))
    return SideTable(table, side, tuple(indexes))


def _refuse_what_a_swap_would_lose(c: Connection, table: str) -> None:
    checks = {
        "other tables refer to it": "SELECT 1 FROM pg_constraint WHERE contype = 'f'"
        " AND confrelid = CAST(:t AS regclass) AND conrelid <> confrelid",
        "it has triggers": "SELECT 1 FROM pg_trigger WHERE tgrelid = CAST(:t AS regclass)"
        " AND NOT tgisinternal",
        "it has rules": "SELECT 1 FROM pg_rewrite WHERE ev_class = CAST(:t AS regclass)",
        "it has row-level policies": "SELECT 1 FROM pg_policy"
        " WHERE polrelid = CAST(:t AS regclass)",
        "it has an identity column": "SELECT 1 FROM pg_attribute"
        " WHERE attrelid = CAST(:t AS regclass) AND attidentity <> ''",
        "views depend on it": "SELECT 1 FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid"
        " WHERE d.refobjid = CAST(:t AS regclass) AND d.classid = 'pg_rewrite'::regclass",
    }
    for why, sql in checks.items():
        if c.execute(text(sql + " LIMIT 1"), {"t": table}).first() is not None:
            raise SideBuildError(f"{table} cannot be built beside the load: {why}")


INDEX_CONNECTIONS = 3
"""Connections on which the side table's indexes are built, each index in a transaction
of its own (``CREATE INDEX`` takes a share lock: builds on one table run side by side),
each connection taking the next index as it is free. One more than the two cores the
targets are set on: the builds differ in cost, and a last long one alone would leave a
core idle."""


def build(
    engine: Engine,
    plan: SideTable,
    columns: Sequence[str],
    blocks: Callable[[], Iterable[str | bytes]],
    binary: bool,
    started: Callable[[int], None] = lambda _pid: None,
) -> tuple[int, float]:
    """Load the side table in one transaction of its own (``blocks()`` gives its rows
    as COPY text or, with ``binary``, in COPY's binary format), commit, then build its
    indexes on ``INDEX_CONNECTIONS`` connections at once: at the end of a load nothing
    else is left to keep the second core busy; then its statistics, which follow it
    when it is renamed. Returns the rows written and the CPU seconds of this process
    spent computing them. ``started`` is told each backend's process id (so a failed load can stop
    them)."""
    c0 = time.process_time()
    with engine.connect() as c:
        started(int(c.execute(text("SELECT pg_backend_pid()")).scalar_one()))
        c.execute(text(f"TRUNCATE {plan.side}"))  # this transaction's: loaded FREEZE
        raw = cast(Any, c.connection.dbapi_connection)
        rows = copy_blocks(raw, plan.side, columns, blocks(), freeze=True, binary=binary)
        c.commit()
    cpu = time.process_time() - c0
    queue: SimpleQueue[SideIndex] = SimpleQueue()
    for index in plan.indexes:
        queue.put(index)
    threads = min(INDEX_CONNECTIONS, len(plan.indexes))
    with ThreadPoolExecutor(max(threads, 1)) as pool:
        for done in [pool.submit(_indexes, engine, queue, started) for _ in range(threads)]:
            done.result()
    with engine.connect() as c:
        c.execute(text(f"ANALYZE {plan.side}"))
        c.commit()
    return rows, cpu


def _indexes(engine: Engine, queue: SimpleQueue[SideIndex], started: Callable[[int], None]) -> None:
    """Build indexes taken from ``queue`` until it is empty, on a connection of this
    thread's own."""
    with engine.connect() as c:
        started(int(c.execute(text("SELECT pg_backend_pid()")).scalar_one()))
        c.commit()
        while True:
            try:
                index = queue.get_nowait()
            except Empty:
                return
            try:
                c.execute(text(f"SET LOCAL maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'"))
                # the other connections and the load keep the cores busy: parallel
                # workers would only add the cost of merging their sorts
                c.execute(text("SET LOCAL max_parallel_maintenance_workers = 0"))
                c.execute(text(index.ddl))
                c.commit()
            except BaseException:
                while not queue.empty():  # the other threads stop after their build
                    queue.get_nowait()
                raise


def swap_in(c: Connection, plan: SideTable) -> None:
    """In the load's transaction, after the other tables' keys are back (the foreign
    keys added here refer to them): put the built side table in place of the book's
    empty ``plan.table``, under the book's index and constraint names."""
    table, side = plan.table, plan.side
    run = c.execute
    found = {
        r[0]
        for r in run(
            text(
                "SELECT indexrelid::regclass::text FROM pg_index"
                " WHERE indrelid = CAST(:t AS regclass)"
            ),
            {"t": table},
        )
    }
    if found != {i.name for i in plan.indexes}:
        raise SideBuildError(f"the indexes of {table} changed during the load: {sorted(found)}")
    if run(text(f"SELECT 1 FROM {table} LIMIT 1")).first() is not None:
        raise SideBuildError(f"{table} is not empty; generate into an empty book")
    keys = run(
        text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE contype = 'f' AND conrelid = CAST(:t AS regclass) ORDER BY conname"
        ),
        {"t": table},
    ).all()
    owned = run(
        text(
            "SELECT d.objid::regclass::text, a.attname FROM pg_depend d"
            " JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'"
            " JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid"
            " WHERE d.classid = 'pg_class'::regclass AND d.refobjid = CAST(:t AS regclass)"
            " AND d.deptype = 'a'"
        ),
        {"t": table},
    ).all()
    for sequence, _ in owned:  # else dropping the empty table drops its sequences too
        run(text(f"ALTER SEQUENCE {sequence} OWNED BY NONE"))
    run(text(f"DROP TABLE {table}"))
    run(text(f"ALTER TABLE {side} RENAME TO {table}"))
    for sequence, column in owned:
        run(text(f'ALTER SEQUENCE {sequence} OWNED BY {table}."{column}"'))
    for index in plan.indexes:
        if index.constraint is None:
            run(text(f'ALTER INDEX {index.side} RENAME TO "{index.name}"'))
        else:  # the index takes the constraint's name
            kind = "PRIMARY KEY" if index.kind == "p" else "UNIQUE"
            run(
                text(
                    f'ALTER TABLE {table} ADD CONSTRAINT "{index.constraint}" {kind}'
                    f" USING INDEX {index.side}"
                )
            )
    if keys:  # checked by merging the key indexes (as ``Loader._add_keys``)
        hashjoin = run(text("SHOW enable_hashjoin")).scalar_one()
        run(text("SET LOCAL enable_hashjoin = off"))
        for name, definition in keys:
            run(text(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'))
        run(text(f"SET LOCAL enable_hashjoin = {hashjoin}"))


class SideBuild:
    """``build`` running in a worker process (``fork``: it inherits the engine and the
    row source; the engine's pooled connections are left to this process), else in
    this process at once. ``wait`` gives its result or raises its error; ``discard``
    stops it and drops the side table."""

    def __init__(
        self,
        engine: Engine,
        plan: SideTable,
        columns: Sequence[str],
        blocks: Callable[[], Iterable[str | bytes]],
        *,
        binary: bool,
    ) -> None:
        self.engine, self.plan = engine, plan
        self.result: tuple[int, float] | None = None
        self.process: Any = None
        self.backends: list[int] = []
        if "fork" not in multiprocessing.get_all_start_methods():
            self.result = build(engine, plan, columns, blocks, binary)
            return
        context = multiprocessing.get_context("fork")
        self.pipe, child = context.Pipe(duplex=False)
        self.process = context.Process(
            target=_child, args=(engine, plan, columns, blocks, binary, child), daemon=True
        )
        self.process.start()
        child.close()

    def wait(self) -> tuple[int, float]:
        if self.result is not None:
            return self.result
        while True:
            try:
                kind, value = self.pipe.recv()
            except EOFError:
                self.process.join()
                raise SideBuildError(
                    f"the worker building {self.plan.side} stopped"
                    f" (exit code {self.process.exitcode})"
                ) from None
            if kind == "backend":
                self.backends.append(value)
                continue
            self.process.join()  # done or failed: nothing more will come
            self.pipe.close()
            if kind == "error":
                raise SideBuildError(f"building {self.plan.side} failed: {value}")
            self.result = cast(tuple[int, float], value)
            return self.result

    def discard(self) -> None:
        """Stop the worker (and its backends, which would otherwise go on building an
        index for a client that has gone) and drop the side table."""
        if self.process is not None and not self.pipe.closed:
            if self.process.is_alive():
                self.process.terminate()
                self.process.join()
            while self.pipe.poll(0):  # the backends it reported
                try:
                    kind, value = self.pipe.recv()
                except EOFError:
                    break
                if kind == "backend":
                    self.backends.append(value)
            self.pipe.close()
        with self.engine.begin() as c:
            for backend in self.backends:  # still at work on the side table, if at all
                c.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE pid = :p AND strpos(query, :side) > 0"
                    ),
                    {"p": backend, "side": self.plan.side},
                )
            c.execute(text("SET LOCAL lock_timeout = '60s'"))
            c.execute(text(f"DROP TABLE IF EXISTS {self.plan.side}"))


def _child(
    engine: Engine,
    plan: SideTable,
    columns: Sequence[str],
    blocks: Callable[[], Iterable[str | bytes]],
    binary: bool,
    pipe: Pipe,
) -> None:
    engine.dispose(close=False)  # the parent's pooled connections stay the parent's
    lock = threading.Lock()  # index builds report their backends from threads

    def started(pid: int) -> None:
        with lock:
            pipe.send(("backend", pid))

    try:
        result = build(engine, plan, columns, blocks, binary, started)
    except BaseException as exc:  # reported to the load, which raises it
        pipe.send(("error", f"{type(exc).__name__}: {exc}"))
        raise
    pipe.send(("done", result))
