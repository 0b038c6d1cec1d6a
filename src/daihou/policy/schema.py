"""Pydantic schema of a policy pack. Code names the rule; the pack supplies the number."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

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
