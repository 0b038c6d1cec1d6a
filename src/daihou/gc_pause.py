"""Pause Python's cyclic garbage collector for a batch that allocates many objects.

A leaf module at the package root: the daily collections run and the payments batch
(each chunk of postings) both use it.

A first daily run builds about a million small objects (100,000 facts, 412,772 planned
treatments, their rows and tasks) and keeps them until the run ends. Each 700 new
objects start a young collection and, as the heap grows, full collections walk every
live object again: on that day the collector costs about 1.5 s CPU of the run's ~9 s
of strategy and task generation (strategy 0.8 → 0.3 s, measured in bench/README.md),
while it finds almost nothing (these objects hold no reference cycles; reference
counting frees them). Cycles made while paused are freed by the first collection after
it. Nesting is safe: only the outermost pause turns the collector back on.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Run the block with the cyclic collector off (as it was, afterwards)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
