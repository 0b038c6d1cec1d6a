"""The pure allocation rule: proportional to rank weights, within scope and capacity,
deterministic."""

from __future__ import annotations

import random
from collections import Counter

from daihou.collection.agencies.allocation import AgencySlot, CaseToPlace, allocate, rank_weights


def _cases(n: int, *, bucket: str = "M2", previous: str | None = None) -> list[CaseToPlace]:
    return [
        CaseToPlace(
            i,
            "consumer",
            bucket,
            "SH",
            overdue_fen=(i * 7919) % 100_000 + 1,
            previous_agency=previous,
        )
        for i in range(1, n + 1)
    ]


def test_shares_follow_rank_weights() -> None:
    weights = rank_weights(["B", "A", "D", "C"], [40, 30, 20, 10])
    assert weights == {"B": 40, "A": 30, "D": 20, "C": 10}
    assert rank_weights(["x", "y", "z"], [5, 1]) == {"x": 5, "y": 1, "z": 1}
    slots = [AgencySlot(a, w, capacity=1000) for a, w in weights.items()]
    counts = Counter(allocate(_cases(100), slots).values())
    assert counts == {"B": 40, "A": 30, "D": 20, "C": 10}


def test_the_largest_cases_go_to_the_best_agency_first() -> None:
    slots = [AgencySlot("top", 3, 100), AgencySlot("low", 1, 100)]
    cases = _cases(8)
    result = allocate(cases, slots)
    biggest = max(cases, key=lambda c: c.overdue_fen)
    assert result[biggest.case_id] == "top"


def test_capacity_overflow_goes_to_the_others() -> None:
    slots = [AgencySlot("A", 90, capacity=5), AgencySlot("B", 10, capacity=100)]
    counts = Counter(allocate(_cases(30), slots).values())
    assert counts == {"A": 5, "B": 25}


def test_capacity_and_limit_leave_cases_unplaced() -> None:
    slots = [AgencySlot("A", 1, capacity=3), AgencySlot("B", 1, capacity=2)]
    assert len(allocate(_cases(10), slots)) == 5
    assert len(allocate(_cases(10), [AgencySlot("A", 1, 100)], limit=4)) == 4


def test_scope_is_respected() -> None:
    slots = [
        AgencySlot("m2", 50, 100, buckets=frozenset({"M2"})),
        AgencySlot("sh", 1, 100, territories=frozenset({"SH"})),
        AgencySlot("card", 100, 100, products=frozenset({"card"})),
    ]
    cases = [
        *_cases(10),
        CaseToPlace(100, "consumer", "M3", "SH", 5),
        CaseToPlace(101, "consumer", "M3", "BJ", 5),
    ]
    result = allocate(cases, slots)
    assert result[100] == "sh"  # only sh covers M3 in SH
    assert 101 not in result  # nobody covers M3 in BJ
    assert "card" not in result.values()


def test_deterministic_whatever_the_input_order() -> None:
    slots = [AgencySlot("A", 40, 30), AgencySlot("B", 30, 30), AgencySlot("C", 30, 30)]
    cases = _cases(60)
    expected = allocate(cases, slots)
    rng = random.Random(7)
    for _ in range(5):
        shuffled = cases[:]
        rng.shuffle(shuffled)
        assert allocate(shuffled, list(reversed(slots))) == expected


def test_a_replaced_case_avoids_its_previous_agency() -> None:
    slots = [AgencySlot("A", 100, 100), AgencySlot("B", 1, 100)]
    result = allocate(_cases(5, previous="A"), slots)
    assert set(result.values()) == {"B"}
    assert set(allocate(_cases(5, previous="A"), slots, avoid_previous=False).values()) == {"A"}
    # the only agency that fits still takes it
    assert set(allocate(_cases(3, previous="A"), slots[:1]).values()) == {"A"}
