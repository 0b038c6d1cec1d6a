"""Policy-pack settings of approvals, repayment plans, waivers and write-off.

The roles that may request or approve each kind are the permission matrix
(``daihou.auth.permissions``, POLICY.md §6); the pack adds the *amount* limits of each
approving role and the business numbers of plans (§7), waivers (§7) and write-off.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

KINDS = ("plan", "waiver", "writeoff", "placement", "legal", "classification")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlanSettings(_Strict):
    """分期还款 (POLICY.md §7): 3-6 fixed installments, each ≤ 30% of monthly income."""

    min_installments: int = Field(default=3, ge=1)
    max_installments: int = Field(default=6, ge=1)
    max_income_share: Decimal = Field(default=Decimal("0.30"), gt=0, le=1)
    interval_months: int = Field(default=1, ge=1)
    # A plan installment unpaid this many days after its due date breaks the plan.
    broken_after_days: int = Field(default=10, ge=0)
    on_missed: Literal["revert", "escalate"] = "revert"

    @model_validator(mode="after")
    def _range(self) -> PlanSettings:
        if self.max_installments < self.min_installments:
            raise ValueError("max_installments must not be below min_installments")
        return self


class WaiverSettings(_Strict):
    """减免罚息 (POLICY.md §7): first overdue, customer made contact, DPD ≤ 30, ≤ 20%."""

    max_share: Decimal = Field(default=Decimal("0.20"), gt=0, le=1)
    max_dpd: int = Field(default=30, ge=0)
    first_overdue_only: bool = True
    require_contact: bool = True


WriteoffClass = Literal["substandard", "doubtful", "loss"]


def _loss_only() -> list[WriteoffClass]:
    return ["loss"]


def _default_limits() -> dict[str, dict[str, Decimal | None]]:
    return {
        "plan": {"supervisor": Decimal("50000.00"), "manager": None},
        "waiver": {"supervisor": Decimal("2000.00"), "manager": None},
        "writeoff": {"manager": None},
        # placements and litigation referrals proposed by collectors (委外, 诉讼): the
        # amount is the case's overdue amount when proposed
        "placement": {"supervisor": None, "manager": None},
        "legal": {"supervisor": None, "manager": None},
    }


class WriteoffSettings(_Strict):
    """核销: which loans may be proposed."""

    eligible_classes: list[WriteoffClass] = Field(default_factory=_loss_only)
    min_dpd: int | None = Field(default=None, ge=0)  # or: this many days past due


class ApprovalsPolicy(_Strict):
    """``limits[kind][role]``: the largest amount a role may approve (``None``: no
    limit); a role missing from a kind's limits may not approve it at all, whatever the
    permission matrix says."""

    expire_after_days: int = Field(default=30, ge=1)
    limits: dict[str, dict[str, Decimal | None]] = Field(default_factory=_default_limits)
    plans: PlanSettings = Field(default_factory=PlanSettings)
    waivers: WaiverSettings = Field(default_factory=WaiverSettings)
    writeoff: WriteoffSettings = Field(default_factory=WriteoffSettings)

    @field_validator("limits")
    @classmethod
    def _known(
        cls, value: dict[str, dict[str, Decimal | None]]
    ) -> dict[str, dict[str, Decimal | None]]:
        unknown = sorted(set(value) - set(KINDS))
        if unknown:
            raise ValueError(f"limits name unknown kinds {unknown}; known: {list(KINDS)}")
        for kind, roles in value.items():
            for role, amount in roles.items():
                if amount is not None and amount < 0:
                    raise ValueError(f"limits.{kind}.{role} must not be negative")
        return value
