"""SQLite: the write-ahead log copied back to the database file on a second thread.

Each commit appends the transaction's pages to the log (``-wal`` file). By default the
committing connection then copies the log back into the database file itself (an
automatic checkpoint once the log holds 1,000 pages), on the caller's thread and with
its fsyncs. A long batch — end of day, the demo's simulated days — pays for every copy
on its own thread. :class:`Checkpointer` instead runs passive checkpoints on a second
connection on its own thread, each time it is poked (and, with ``every``, on a timer):
Python's ``sqlite3`` releases the GIL while SQLite works, so the copies use the second
core while the batch goes on.

Nothing about durability changes: a checkpoint is one of SQLite's atomic operations and
the log keeps every committed transaction until it is copied, so a crash (even ``kill
-9``) at any point leaves the committed work in the database. A passive checkpoint never
waits for, or blocks, a writer or a reader.

End of day uses one connection that does not checkpoint (:mod:`daihou.eod.wal`);
:func:`background_checkpoints` turns automatic checkpoints off for every connection an
engine opens while it is active.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event


class Checkpointer:
    """A thread that runs a passive checkpoint each time it is poked (and every
    ``every`` seconds, if given)."""

    def __init__(self, path: str, *, every: float | None = None) -> None:
        self._path = path
        self._every = every
        self._wake = threading.Event()
        self._stop = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="wal-checkpoint", daemon=True)
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
                self._wake.wait(self._every)
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
        """Something committed: copy the log back while the caller goes on."""
        self._wake.set()

    def close(self) -> None:
        """Copy what is left and wait for it; raise what the thread met, if anything."""
        self._stop = True
        self._wake.set()
        self._thread.join()
        if self._error is not None:
            raise self._error


def database_file(engine: Engine) -> str | None:
    """The path of the engine's SQLite file; None for PostgreSQL or an in-memory database."""
    if engine.dialect.name != "sqlite":
        return None
    name = engine.url.database
    return None if not name or name == ":memory:" or name.startswith("file:") else name


def _no_autocheckpoint(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")


@contextmanager
def background_checkpoints(engine: Engine, *, every: float = 0.25) -> Iterator[None]:
    """For the block, the engine's connections leave checkpoints to a
    :class:`Checkpointer` that copies the log back every ``every`` seconds; the log is
    copied back in full before the block returns. The pool is emptied on the way in and
    out, so every connection used inside has automatic checkpoints off and every one
    used after has them back. Nothing happens off a SQLite file.

    The engine must not be in use on another thread meanwhile (the pool is emptied)."""
    path = database_file(engine)
    if path is None:
        yield
        return
    engine.dispose()
    event.listen(engine, "connect", _no_autocheckpoint)
    checkpointer = Checkpointer(path, every=every)
    ok = False
    try:
        yield
        ok = True
    finally:
        event.remove(engine, "connect", _no_autocheckpoint)
        engine.dispose()
        try:
            checkpointer.close()
        except Exception:
            if ok:  # otherwise the block's own error is the one to report
                raise
