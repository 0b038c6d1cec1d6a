"""Outsourcing (委外) and litigation settings: the ``agencies_legal`` pack section.

Kept free of imports from ``daihou.policy`` so the pack schema can import it. POLICY.md
§5 (placement from 31 DPD, early after two failed visits), §8 (KPIs, elimination).
Commission rates are not in the source documents: the shipped numbers are an
illustration a lender replaces with its contracts.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from daihou.collection.legal.settings import LegalSettings


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlacementSettings(_Strict):
    """Which cases go to agencies, for how long, and how a batch is shared out."""

    min_dpd: int = Field(default=31, ge=1)  # §5: 31+ place with an agency
    early_failed_visits: int = Field(default=2, ge=1)  # §5: after 2 failed visits, early
    early_min_dpd: int = Field(default=1, ge=1)  # early placement still needs an overdue loan
    period_days: int = Field(default=90, ge=1)  # placement period, then recall on expiry
    # Allocation weights by performance rank (1st, 2nd, …; the last repeats). Ranks
    # come from the recovery rate over ``performance_window_days``.
    rank_weights: list[int] = Field(default_factory=lambda: [40, 30, 20, 10])
    performance_window_days: int = Field(default=90, ge=1)
    avoid_previous_agency: bool = True  # a re-placed case goes to another agency if any

    @field_validator("rank_weights")
    @classmethod
    def _positive(cls, value: list[int]) -> list[int]:
        if not value or any(w <= 0 for w in value):
            raise ValueError("rank_weights must be a non-empty list of positive integers")
        return value


class KpiThresholds(_Strict):
    """末位淘汰: an agency below any threshold is flagged for elimination (§8)."""

    min_recovery_rate: Decimal = Field(default=Decimal("0.10"), ge=0, le=1)
    max_complaint_rate: Decimal = Field(default=Decimal("0.02"), ge=0, le=1)
    min_compliance_rate: Decimal = Field(default=Decimal("0.95"), ge=0, le=1)
    min_placements: int = Field(default=20, ge=0)  # fewer placed cases: too few to judge


class AgenciesLegalSettings(_Strict):
    placement: PlacementSettings = Field(default_factory=PlacementSettings)
    # Commission (佣金) on recoveries, by the loan's bucket at placement; an agency's
    # contract may override single buckets.
    commission_rates: dict[str, Decimal] = Field(
        default_factory=lambda: {
            "M1": Decimal("0.08"),
            "M2": Decimal("0.15"),
            "M3": Decimal("0.22"),
            "M4": Decimal("0.30"),
            "M5": Decimal("0.35"),
            "M6": Decimal("0.40"),
            "M7": Decimal("0.45"),
        }
    )
    commission_rounding: str = "half-up"  # per statement line, to the fen
    kpis: KpiThresholds = Field(default_factory=KpiThresholds)
    legal: LegalSettings = Field(default_factory=LegalSettings)

    @field_validator("commission_rates")
    @classmethod
    def _rates(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        bad = [k for k, v in value.items() if not Decimal(0) <= v <= Decimal(1)]
        if bad:
            raise ValueError(f"commission rates must lie in [0, 1]: {bad}")
        return value


def settings() -> AgenciesLegalSettings:
    """The active pack's section."""
    from daihou.policy.loader import load_pack

    return load_pack().agencies_legal
