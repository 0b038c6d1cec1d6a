"""SQLite: end of day's steps on one connection whose log is copied back by a
:class:`~daihou.db.wal.Checkpointer`.

Each step commits into the write-ahead log. By default the committing connection then
copies the log back itself (an automatic checkpoint once the log holds 1,000 pages), on
end of day's own thread and with its fsyncs: at 1 M loans a step dirties some 100k
pages, and those copies cost an ordinary day about 2 s. While a date closes, the steps'
connection does not checkpoint; the checkpointer copies each committed step back while
the next step runs, and :func:`steps_connection` waits for the last copy before it
returns, so the run leaves the log copied back as before. Durability: see
:mod:`daihou.db.wal`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress

from sqlalchemy import Connection, Engine

from daihou.db.wal import Checkpointer, database_file


@contextmanager
def steps_connection(engine: Engine) -> Iterator[tuple[Connection | Engine, Checkpointer | None]]:
    """What a date's steps run on: on a SQLite file, one connection that leaves
    checkpoints to a :class:`Checkpointer`; elsewhere the engine itself."""
    path = database_file(engine)
    if path is None:
        yield engine, None
        return
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        before = raw.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        raw.execute("PRAGMA wal_autocheckpoint=0")
        checkpointer = Checkpointer(path)
        ok = False
        try:
            yield conn, checkpointer
            ok = True
        finally:
            try:
                raw.execute(f"PRAGMA wal_autocheckpoint={int(before)}")
            finally:
                if ok:
                    checkpointer.close()
                else:  # the run's own error is the one to report
                    with suppress(Exception):
                        checkpointer.close()
