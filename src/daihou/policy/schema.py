"""Pydantic schema of a policy pack. Code names the rule; the pack supplies the number."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from daihou.collection.agencies.settings import AgenciesLegalSettings
from daihou.collection.approval_policy import ApprovalsPolicy
from daihou.collection.contact_settings import ContactSettings
from daihou.collection.settings import CollectionsSettings
from daihou.kernel.money import ROUNDING_MODES

Component = Literal["fee", "penalty", "compound", "interest", "principal"]
Method = Literal["equal-installment", "equal-principal", "interest-only", "bullet"]
DayBasis = Literal["actual/360", "actual/365", "30/360"]

# Civil Code art. 561: costs → interest (penalty, compound, contractual) → principal.
DEFAULT_ORDER: list[Component] = ["fee", "penalty", "compound", "interest", "principal"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PrepaymentTier(Strict):
    """违约金 tier: ``rate`` of the prepaid principal while the loan is younger than
    ``until_month`` months (counted from disbursement)."""

    until_month: int = Field(gt=0)
    rate: Decimal = Field(ge=0, le=1)


class Allocation(Strict):
    """Order in which a payment pays what is due.

    ``by: installment`` pays each installment fully (components in ``components`` order)
    before the next, oldest first; ``by: component`` pays one component across all due
    installments (oldest first) before the next component.
    """

    components: list[Component] = Field(default_factory=lambda: list(DEFAULT_ORDER))
    by: Literal["installment", "component"] = "installment"
    installments: Literal["oldest-first", "newest-first"] = "oldest-first"

    @field_validator("components")
    @classmethod
    def _each_once(cls, value: list[Component]) -> list[Component]:
        if sorted(value) != sorted(DEFAULT_ORDER):
            raise ValueError(f"components must list each of {DEFAULT_ORDER} exactly once")
        return value


class FloatingRate(Strict):
    """Rate = LPR(tenor) + spread; repriced on the loan's anniversary or on 1 January."""

    tenor: Literal["1y", "5y"] = "5y"
    repricing: Literal["anniversary", "january-1"] = "january-1"


class Product(Strict):
    code: str
    name: str
    method: Method = "equal-installment"
    rounding: str = "half-up"
    odd_period_basis: DayBasis = "actual/360"
    annuity_factor_decimals: int | None = Field(default=None, ge=4, le=12)
    penalty_markup: Decimal = Field(default=Decimal("0.5"), ge=Decimal("0.3"), le=Decimal("0.5"))
    compound_interest: bool = True
    grace_days: int = Field(default=0, ge=0)
    overdue_tolerance: Decimal = Field(default=Decimal("0.00"), ge=0)
    allocation: Allocation = Field(default_factory=Allocation)
    prepayment_penalty: list[PrepaymentTier] = Field(default_factory=list)
    floating: FloatingRate | None = None
    max_term_months: int = Field(default=360, gt=0)

    @field_validator("rounding")
    @classmethod
    def _known_rounding(cls, value: str) -> str:
        if value not in ROUNDING_MODES:
            raise ValueError(f"rounding must be one of {sorted(ROUNDING_MODES)}")
        return value

    @field_validator("prepayment_penalty")
    @classmethod
    def _tiers_ascending(cls, value: list[PrepaymentTier]) -> list[PrepaymentTier]:
        months = [t.until_month for t in value]
        if months != sorted(set(months)):
            raise ValueError("prepayment_penalty tiers must have strictly increasing until_month")
        return value


class BucketRange(Strict):
    name: str
    min_dpd: int = Field(ge=0)
    max_dpd: int | None = Field(default=None, ge=0)


class ClassFloor(Strict):
    min_dpd: int = Field(ge=1)
    risk_class: Literal["special-mention", "substandard", "doubtful", "loss"]


DEFAULT_BUCKETS = [
    BucketRange(name="M0", min_dpd=0, max_dpd=0),
    BucketRange(name="M1", min_dpd=1, max_dpd=30),
    BucketRange(name="M2", min_dpd=31, max_dpd=60),
    BucketRange(name="M3", min_dpd=61, max_dpd=90),
    BucketRange(name="M4", min_dpd=91, max_dpd=120),
    BucketRange(name="M5", min_dpd=121, max_dpd=150),
    BucketRange(name="M6", min_dpd=151, max_dpd=180),
    BucketRange(name="M7", min_dpd=181, max_dpd=None),
]
# 2023 risk classification rules (金融资产风险分类办法): floors by days past due.
FLOORS_CN_2023 = [
    ClassFloor(min_dpd=1, risk_class="special-mention"),
    ClassFloor(min_dpd=91, risk_class="substandard"),
    ClassFloor(min_dpd=271, risk_class="doubtful"),
    ClassFloor(min_dpd=361, risk_class="loss"),
]
FLOORS_CARD = [
    ClassFloor(min_dpd=1, risk_class="special-mention"),
    ClassFloor(min_dpd=91, risk_class="substandard"),
    ClassFloor(min_dpd=121, risk_class="doubtful"),
    ClassFloor(min_dpd=181, risk_class="loss"),
]
EOD_STEPS = ["due", "delinquency", "accrual", "snapshot", "kpis"]


class Delinquency(Strict):
    """Buckets (M0–M7+) and five-tier classification floors (五级分类)."""

    buckets: list[BucketRange] = Field(default_factory=lambda: list(DEFAULT_BUCKETS))
    classification: Literal["cn-2023", "card"] = "cn-2023"
    floors: list[ClassFloor] | None = None  # explicit floors replace the variant's
    restructured_observation_months: int = Field(default=6, ge=0)

    @model_validator(mode="after")
    def _contiguous(self) -> Delinquency:
        expect = 0
        for i, b in enumerate(self.buckets):
            if b.min_dpd != expect:
                raise ValueError(f"bucket {b.name} must start at {expect} days past due")
            if b.max_dpd is None:
                if i != len(self.buckets) - 1:
                    raise ValueError(f"only the last bucket may be open-ended ({b.name})")
                return self
            if b.max_dpd < b.min_dpd:
                raise ValueError(f"bucket {b.name} ends before it starts")
            expect = b.max_dpd + 1
        raise ValueError("the last bucket must be open-ended (no max_dpd)")

    @model_validator(mode="after")
    def _floors_from_one_day(self) -> Delinquency:
        # 2023 rules (金融资产风险分类办法): any overdue asset is at least 关注; end of day
        # relies on it too (``loans.models.WATCH`` finds delinquent loans by their class)
        if self.floors is not None and min((f.min_dpd for f in self.floors), default=0) != 1:
            raise ValueError(
                "floors must include one from min_dpd 1 (any overdue loan is at least "
                "special-mention, 2023 rules)"
            )
        return self

    def effective_floors(self) -> list[ClassFloor]:
        if self.floors is not None:
            return self.floors
        return FLOORS_CARD if self.classification == "card" else FLOORS_CN_2023


class EodSettings(Strict):
    steps: list[str] = Field(default_factory=lambda: list(EOD_STEPS))

    @field_validator("steps")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [s for s in value if s not in EOD_STEPS]
        if unknown or len(set(value)) != len(value):
            raise ValueError(f"steps must be distinct names from {EOD_STEPS}; got {value}")
        return value


class LprPoint(Strict):
    tenor: Literal["1y", "5y"]
    effective_on: date
    rate: Decimal = Field(gt=0, lt=1)


class PolicyPack(Strict):
    name: str
    version: str
    effective_on: date
    currency: str = "CNY"
    products: list[Product]
    lpr_history: list[LprPoint] = Field(default_factory=list)
    delinquency: Delinquency = Field(default_factory=Delinquency)
    eod: EodSettings = Field(default_factory=EodSettings)
    collections: CollectionsSettings = Field(default_factory=CollectionsSettings)
    agencies_legal: AgenciesLegalSettings = Field(default_factory=AgenciesLegalSettings)
    approvals: ApprovalsPolicy = Field(default_factory=ApprovalsPolicy)
    contacts: ContactSettings = Field(default_factory=ContactSettings)

    @model_validator(mode="after")
    def _unique_codes(self) -> PolicyPack:
        codes = [p.code for p in self.products]
        dupes = sorted({c for c in codes if codes.count(c) > 1})
        if dupes:
            raise ValueError(f"duplicate product codes: {dupes}")
        return self

    def product(self, code: str) -> Product:
        for p in self.products:
            if p.code == code:
                return p
        raise KeyError(f"unknown product {code!r}; known: {[p.code for p in self.products]}")
