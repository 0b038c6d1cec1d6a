"""Engine and session factory from ``DAIHOU_DATABASE_URL`` or ``--db``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_URL = "sqlite:///daihou.db"


def database_url(override: str | None = None) -> str:
    """``--db`` wins, then ``DAIHOU_DATABASE_URL``, then ``sqlite:///daihou.db``.

    A bare path (``book.db``) is taken as a SQLite file; ``postgresql://`` URLs use
    psycopg 3.
    """
    url = override or os.environ.get("DAIHOU_DATABASE_URL") or DEFAULT_URL
    if "://" not in url:
        url = f"sqlite:///{url}"
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


# Each SQLite connection's page cache (SQLite's default is 2 MiB) and memory map. The
# cache stays valid across transactions only while no other connection has written (in
# WAL mode a connection drops it when the file changed), hence the pool hands back the
# connection used last (``pool_use_lifo``). The map lets reads of pages not in the cache
# come from the OS's file cache without a system call and a copy each; the usual SQLite
# build caps it at 2 GiB. Figures: bench/README.md, the demo simulator.
SQLITE_CACHE_KIB = 64 * 1024
SQLITE_MMAP_BYTES = 2 << 30


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy emit BEGIN itself so SAVEPOINTs work (pysqlite's own transaction
    # handling breaks them); see the SQLAlchemy pysqlite "serializable isolation" recipe.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # Every unit of work takes SQLite's single write lock up front (waiting up to
    # busy_timeout): a deferred transaction that reads and then writes can fail with
    # SQLITE_BUSY when another writer committed in between. SQLite is the embedded,
    # single-site engine; PostgreSQL is the one for concurrent users. Read-only work
    # (web GET requests) opts out with the ``sqlite_deferred`` execution option, so
    # readers do not queue behind each other (WAL lets them run beside one writer).
    if conn.get_execution_options().get("sqlite_deferred"):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    resolved = database_url(url)
    parsed = make_url(resolved)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        kwargs.setdefault("pool_use_lifo", True)  # the warm page cache: see SQLITE_CACHE_KIB
    engine = create_engine(resolved, future=True, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def session_factory(engine: Engine | Connection) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(engine: Engine | Connection) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error (on a connection
    outside a transaction, the unit is that connection's own transaction)."""
    with session_factory(engine)() as session, session.begin():
        yield session
