"""Sharing a placement batch across agencies (分案): pure and deterministic.

Cases are dealt out largest overdue amount first (ties: case id). Each case goes to
the agency, among those whose contract scope covers it (product, bucket, territory)
and that have capacity left, with the highest ``weight / (assigned + 1)`` — the
D'Hondt rule, so each agency's share of the batch tends to its share of the weights
while scope and capacity are respected. Ties go to the higher weight, then the agency
id. A re-placed case skips the agency it was last with when another one fits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True, slots=True)
class CaseToPlace:
    case_id: int
    product: str
    bucket: str
    territory: str | None
    overdue_fen: int
    previous_agency: str | None = None


@dataclass(frozen=True, slots=True)
class AgencySlot:
    agency_id: str
    weight: int
    capacity: int
    products: frozenset[str] = frozenset()  # empty: any
    buckets: frozenset[str] = frozenset()
    territories: frozenset[str] = frozenset()

    def covers(self, case: CaseToPlace) -> bool:
        return (
            (not self.products or case.product in self.products)
            and (not self.buckets or case.bucket in self.buckets)
            and (not self.territories or case.territory in self.territories)
        )


def rank_weights(ranked_ids: Sequence[str], weights: Sequence[int]) -> dict[str, int]:
    """Weight of each agency by its rank (1st gets ``weights[0]``; the last repeats)."""
    return {agency_id: weights[min(i, len(weights) - 1)] for i, agency_id in enumerate(ranked_ids)}


def allocate(
    cases: Sequence[CaseToPlace],
    agencies: Sequence[AgencySlot],
    *,
    avoid_previous: bool = True,
    limit: int | None = None,
) -> dict[int, str]:
    """``{case_id: agency_id}`` for the cases that could be placed."""
    left = {a.agency_id: a.capacity for a in agencies}
    assigned = dict.fromkeys(left, 0)
    result: dict[int, str] = {}
    for case in sorted(cases, key=lambda c: (-c.overdue_fen, c.case_id)):
        if limit is not None and len(result) >= limit:
            break
        fits = [a for a in agencies if left[a.agency_id] > 0 and a.weight > 0 and a.covers(case)]
        if avoid_previous and case.previous_agency is not None:
            others = [a for a in fits if a.agency_id != case.previous_agency]
            fits = others or fits
        if not fits:
            continue
        best = min(
            fits,
            key=lambda a: (
                -Fraction(a.weight, assigned[a.agency_id] + 1),
                -a.weight,
                a.agency_id,
            ),
        )
        result[case.case_id] = best.agency_id
        left[best.agency_id] -= 1
        assigned[best.agency_id] += 1
    return result
