"""SQLite connections: a bigger page cache, reads through a memory map, and the pool
handing back the connection used last, whose cache is still warm (``daihou.db.engine``)."""

from __future__ import annotations

from pathlib import Path

from daihou.db.engine import SQLITE_CACHE_KIB, make_engine


def test_each_connection_has_the_cache_and_the_map(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar_one() == -SQLITE_CACHE_KIB
        assert conn.exec_driver_sql("PRAGMA mmap_size").scalar_one() > 0
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
    engine.dispose()


def test_the_pool_hands_back_the_connection_used_last(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    first, second = engine.connect(), engine.connect()
    a, b = first.connection.dbapi_connection, second.connection.dbapi_connection
    assert a is not b
    first.close()
    second.close()  # returned last
    with engine.connect() as conn:
        assert conn.connection.dbapi_connection is b
    engine.dispose()
