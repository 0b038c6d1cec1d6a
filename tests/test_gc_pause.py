"""The daily run's pause of the cyclic garbage collector, and the demo's spacing of its
collections, restore what they found."""

from __future__ import annotations

import gc

import pytest

from daihou.gc_pause import gc_paused, gc_spaced


def test_paused_inside_restored_after_even_on_error() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():  # nested: the inner end leaves it paused
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("step failed")
    assert gc.isenabled()


def test_left_off_when_it_was_off() -> None:
    gc.disable()
    try:
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_spaced_inside_given_back_after_even_on_error() -> None:
    before = gc.get_threshold()
    frozen = gc.get_freeze_count()
    kept = [object()]  # exists before: frozen inside
    with pytest.raises(RuntimeError), gc_spaced(young=12_345):
        assert gc.get_threshold()[0] == 12_345
        assert gc.get_freeze_count() > frozen
        assert gc.isenabled()
        raise RuntimeError("a simulated day failed")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == frozen
    assert kept
