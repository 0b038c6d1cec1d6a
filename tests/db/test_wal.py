"""SQLite: ``background_checkpoints`` leaves the log to a second thread while a batch runs
and hands it back copied, with automatic checkpoints on again (``daihou.db.wal``)."""

from __future__ import annotations

import sqlite3
import struct
import time
from pathlib import Path

from sqlalchemy import Engine, text

from daihou.db.engine import make_engine
from daihou.db.wal import background_checkpoints


def _log_frames(path: Path) -> tuple[int, int]:
    """(frames in the log, frames copied back) from the wal-index (``-shm``): ``mxFrame``
    at byte 16 of its header, ``nBackfill`` at byte 96, native order (SQLite's file
    format document, "The WAL-Index Format")."""
    shm = Path(f"{path}-shm").read_bytes()
    return struct.unpack_from("=I", shm, 16)[0], struct.unpack_from("=I", shm, 96)[0]


def _autocheckpoint(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one())


def _write(engine: Engine, rows: int) -> None:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t (v) VALUES (:v)"), [{"v": "x" * 500} for _ in range(rows)])


def test_the_thread_copies_the_log_and_the_setting_comes_back(tmp_path: Path) -> None:
    path = tmp_path / "batch.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    assert _autocheckpoint(engine) == 1000  # SQLite's default
    # an idle connection kept open, so closing the pool's connections does not remove the
    # log (the last connection to close copies it back and deletes it)
    keeper = sqlite3.connect(path)
    keeper.execute("SELECT count(*) FROM t").fetchall()
    with background_checkpoints(engine, every=0.02):
        assert _autocheckpoint(engine) == 0
        # 2,000 pages or so: past the 1,000 at which a committing connection would copy
        # the log back itself; here only the thread does
        _write(engine, 8_000)
        frames, copied = _log_frames(path)
        assert frames > 1000
        deadline = time.monotonic() + 30
        while copied < frames and time.monotonic() < deadline:
            time.sleep(0.02)
            frames, copied = _log_frames(path)
        assert copied == frames  # copied while the block still runs
        _write(engine, 10)
    frames, copied = _log_frames(path)
    assert copied == frames  # the block's last commit copied back before it returned
    assert _autocheckpoint(engine) == 1000
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar_one() == 8_010
    engine.dispose()
    keeper.close()


def test_an_error_in_the_block_is_the_one_raised(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'batch.db'}")
    try:
        with background_checkpoints(engine):
            raise LookupError("the batch's own error")
    except LookupError as exc:
        assert str(exc) == "the batch's own error"
    else:  # pragma: no cover - the block raised
        raise AssertionError("the error was swallowed")
    assert _autocheckpoint(engine) == 1000
    engine.dispose()


def test_nothing_happens_off_a_sqlite_file() -> None:
    engine = make_engine("sqlite://")
    with background_checkpoints(engine), engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == 1000
