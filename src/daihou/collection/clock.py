"""Step timings of the daily collections run (wall and CPU seconds)."""

from __future__ import annotations

import time


class Clock:
    """Wall and CPU seconds of consecutive steps (the CPU seconds of this process: on
    SQLite they include the database's work, on PostgreSQL not the server's)."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._t, self._c = time.perf_counter(), time.process_time()

    def lap(self, name: str) -> None:
        now, cpu = time.perf_counter(), time.process_time()
        self.laps[name] = round(now - self._t, 3)
        self.cpu[name] = round(cpu - self._c, 3)
        self._t, self._c = now, cpu
