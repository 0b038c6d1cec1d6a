"""SQLite: end of day leaves checkpoints to a second thread and still leaves the log copied
back, with the connection's own setting restored (``daihou.eod.wal``)."""

from __future__ import annotations

import sqlite3
import struct
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine

from daihou.db.engine import make_engine
from daihou.db.models import Base
from daihou.db.wal import Checkpointer
from daihou.eod.runner import run_eod
from tests.eod.helpers import loan_row
from tests.factories import add_loans, init_book
from tests.factories import loan_row as csv_row


def _book(tmp_path: Path) -> tuple[Engine, Path]:
    path = tmp_path / "book.db"
    engine = make_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    init_book(engine, date(2024, 1, 15))
    add_loans(engine, tmp_path, [csv_row("W1"), csv_row("W2")])
    return engine, path


def _log_frames(path: Path) -> tuple[int, int]:
    """(frames in the log, frames copied back) from the wal-index (the ``-shm`` file):
    ``mxFrame`` at byte 16 of its header, ``nBackfill`` at byte 96, native order (see
    "The WAL-Index Format" in SQLite's file-format document)."""
    shm = Path(f"{path}-shm").read_bytes()
    return struct.unpack_from("=I", shm, 16)[0], struct.unpack_from("=I", shm, 96)[0]


def test_the_log_is_copied_back_and_the_setting_restored(tmp_path: Path) -> None:
    engine, path = _book(tmp_path)
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        raw.execute("PRAGMA wal_autocheckpoint=100000")  # the setup's frames stay in the log
    frames, copied = _log_frames(path)
    assert frames > copied
    run_eod(engine, through=date(2024, 3, 20))
    assert loan_row(engine, "W1").dpd == 34  # the run did its work (first due 2024-02-15)
    # the steps committed on a connection that does not checkpoint; the thread copied
    # the whole log back before the run returned
    frames, copied = _log_frames(path)
    assert frames > 0
    assert copied == frames
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        assert raw.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 100000
    engine.dispose()


def test_a_failed_checkpoint_is_reported(tmp_path: Path) -> None:
    checkpointer = Checkpointer(str(tmp_path / "missing" / "book.db"))
    checkpointer.poke()
    with pytest.raises(sqlite3.OperationalError):
        checkpointer.close()
