"""Pause Python's cyclic garbage collector for a batch that allocates many objects, or
space its collections out over a long run.

A leaf module at the package root: the daily collections run and the payments batch
(each chunk of postings) pause it; the demo's simulated days space it out.

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


@contextmanager
def gc_spaced(young: int = 20_000) -> Iterator[None]:
    """Run a long job (the demo's simulated days) with the objects that exist now frozen —
    never walked again by a full collection — and a young collection every ``young``
    allocations instead of every 700; the thresholds and the frozen objects are given
    back afterwards. The collector stays on, so reference cycles are still freed.

    At 10k loans × 30 days the collector took 2.3 s CPU in 2,775 collections (13 full);
    spaced out, 0.8 s in 1,230 (4 full): see bench/README.md."""
    before = gc.get_threshold()
    # Python cannot unfreeze some objects only: if something was frozen already, what
    # this freezes stays frozen too
    was_frozen = gc.get_freeze_count() > 0
    gc.collect()
    gc.freeze()
    gc.set_threshold(young, max(before[1], 20), max(before[2], 20))
    try:
        yield
    finally:
        gc.set_threshold(*before)
        if not was_frozen:
            gc.unfreeze()
