"""SQLite: end of day's write-ahead log copied back to the database file on a second thread.

Each step commits into the WAL. By default the committing connection then copies the log
back into the database file itself (an automatic checkpoint once the log holds 1,000
pages), on end of day's own thread and with its fsyncs: at 1 M loans a step dirties some
100k pages, and those copies cost an ordinary day about 2 s. While a date closes, the
steps' connection does not checkpoint; a second connection on its own thread copies each
committed step back while the next step runs (Python's ``sqlite3`` releases the GIL while
SQLite works, so this uses the second core), and :func:`steps_connection` waits for the
last copy before it returns, so the run leaves the log copied back as before.

Nothing about durability changes: a checkpoint is one of SQLite's atomic operations and
the log keeps every committed step until it is copied, so a crash (even ``kill -9``) at
any point leaves the committed steps in the database.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from sqlalchemy import Connection, Engine


class Checkpointer:
    """A thread that runs a passive checkpoint each time it is poked."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._wake = threading.Event()
        self._stop = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="eod-checkpoint", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        try:
            con = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        except BaseException as exc:  # reported by close()
            self._error = exc
            return
        try:
            con.execute("PRAGMA busy_timeout=30000")
            while True:
                self._wake.wait()
                self._wake.clear()
                # read before the copy: a stop asked before this wake-up comes after every
                # commit the caller made, so this copy covers them all
                last = self._stop
                con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                if last:
                    return
        except BaseException as exc:  # reported by close()
            self._error = exc
        finally:
            con.close()

    def poke(self) -> None:
        """A step committed: copy the log back while the caller goes on."""
        self._wake.set()

    def close(self) -> None:
        """Copy what is left and wait for it; raise what the thread met, if anything."""
        self._stop = True
        self._wake.set()
        self._thread.join()
        if self._error is not None:
            raise self._error


def _database_file(engine: Engine) -> str | None:
    if engine.dialect.name != "sqlite":
        return None
    name = engine.url.database
    return None if not name or name == ":memory:" or name.startswith("file:") else name


@contextmanager
def steps_connection(engine: Engine) -> Iterator[tuple[Connection | Engine, Checkpointer | None]]:
    """What a date's steps run on: on a SQLite file, one connection that leaves
    checkpoints to a :class:`Checkpointer`; elsewhere the engine itself."""
    path = _database_file(engine)
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
