"""The borrower behaviour model: validation, counter-based draws, the hazard."""

from __future__ import annotations

from pathlib import Path

import pytest

from daihou.demo.behaviour import draw, load_behaviour
from daihou.demo.simulate import cure_probability


def test_default_model_loads_and_shares_add_up() -> None:
    model = load_behaviour()
    assert abs(sum(s.share for s in model.segments.values()) - 1) < 1e-9
    assert {"never-late", "forgetful", "short-liquidity", "unwilling", "lost-contact"} <= set(
        model.segments
    )


def test_draws_are_fixed_by_their_arguments_and_uniform() -> None:
    assert draw(42, "L1", 3, "cure") == draw(42, "L1", 3, "cure")
    assert draw(42, "L1", 3, "cure") != draw(42, "L1", 4, "cure")
    assert draw(42, "L1", 3, "cure") != draw(43, "L1", 3, "cure")
    values = [draw(7, f"L{n}", 1, "x") for n in range(20_000)]
    assert all(0 <= v < 1 for v in values)
    assert abs(sum(values) / len(values) - 0.5) < 0.01
    assert abs(sum(v < 0.1 for v in values) / len(values) - 0.1) < 0.01


def test_segment_assignment_follows_the_shares() -> None:
    model = load_behaviour()
    n = 20_000
    seen: dict[str, int] = {}
    for k in range(n):
        seg = model.segment_of(42, f"L{k:09d}")
        seen[seg] = seen.get(seg, 0) + 1
    for name, seg in model.segments.items():
        assert abs(seen.get(name, 0) / n - seg.share) < 0.01, name
    assert model.segment_of(42, "L000000001") == model.segment_of(42, "L000000001")


def test_hazard_decays_with_dpd_rises_with_treatments_and_is_capped() -> None:
    model = load_behaviour()
    assert model.hazard("short-liquidity", 1, set()) > model.hazard("short-liquidity", 60, set())
    assert model.hazard("short-liquidity", 10, {"call"}) > model.hazard(
        "short-liquidity", 10, set()
    )
    assert model.hazard("never-late", 1, {"call", "visit", "sms", "letter"}) <= 0.95


def test_segments_are_ordered_by_how_fast_they_cure() -> None:
    model = load_behaviour()
    order = ["never-late", "forgetful", "short-liquidity", "unwilling", "lost-contact"]
    cures = [cure_probability(model, seg, 30) for seg in order]
    assert cures == sorted(cures, reverse=True)
    assert cures[0] > 0.99 and cures[-1] < 0.05


def test_bad_model_names_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "b.yaml"
    bad.write_text(
        "segments:\n  a: {share: 0.5, on_time: 0.9, cure_hazard: 0.1, decay_days: 10,"
        " reachable: 1, promise_keep: 1}\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="add up to 1"):
        load_behaviour(bad)
    bad.write_text(
        "segments:\n  a: {share: 1, on_time: 1.5, cure_hazard: 0.1, decay_days: 10,"
        " reachable: 1, promise_keep: 1}\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match=r"segments\.a\.on_time"):
        load_behaviour(bad)
    with pytest.raises(ValueError, match=r"behaviour model .*nope"):
        load_behaviour(tmp_path / "nope.yaml")
