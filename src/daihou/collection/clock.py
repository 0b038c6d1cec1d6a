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
        """End the current lap and add it to ``name`` (a step may be timed in parts)."""
        now, cpu = time.perf_counter(), time.process_time()
        self.laps[name] = round(self.laps.get(name, 0.0) + now - self._t, 3)
        self.cpu[name] = round(self.cpu.get(name, 0.0) + cpu - self._c, 3)
        self._t, self._c = now, cpu
