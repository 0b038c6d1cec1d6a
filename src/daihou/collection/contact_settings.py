"""Policy-pack settings of contacts, promises to pay, lost contact and field visits.

The pack section is ``contacts:`` (``PolicyPack.contacts``); every number here is a
default taken from POLICY.md (rule numbers in the comments) or, where POLICY.md gives
none, a house default said to be one.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from daihou.compliance.gate.schema import HOLD_KINDS

HOLDABLE_OUTCOMES = ("dispute", "complaint", "hardship", "deceased", "bankruptcy")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PromiseSettings(_Strict):
    """承诺还款. Kept when the payments since the promise reach
    ``amount - tolerance`` by ``promised_on + grace_days``, where
    ``tolerance = max(tolerance_amount, tolerance_rate × amount)``."""

    max_horizon_days: int = Field(default=30, ge=1)  # house default: no POLICY number
    grace_days: int = Field(default=2, ge=0)  # house default
    tolerance_amount: Decimal = Field(default=Decimal("10.00"), ge=0)  # house default
    tolerance_rate: Decimal = Field(default=Decimal("0.01"), ge=0, lt=1)  # house default


class VisitSettings(_Strict):
    """外访 / 下户催收 (POLICY.md §5)."""

    home_visit_threshold: Decimal = Field(default=Decimal("50000.00"), ge=0)  # §5: > 50,000
    early_placement_failed_visits: int = Field(default=2, ge=1)  # §5: after 2 failed visits
    max_photo_bytes: int = Field(default=20 * 1024 * 1024, gt=0)  # house default


class ContactSettings(_Strict):
    """Lost contact (失联) has one setting, ``collections.lost_contact_after_days`` (the
    rule is ``collection.lost_contact``); a ``lost_contact_days`` here is refused.
    ``hold_on_outcome``: which contact outcome places which hold (停催).
    ``refuse_note_severity``: a note whose prohibited-language hit is at least this
    severe is refused; milder hits are accepted and flagged to the supervisor
    (``never``: every note is accepted and flagged)."""

    hold_on_outcome: dict[str, str] = Field(
        default_factory=lambda: {
            "dispute": "dispute",
            "complaint": "complaint",
            "hardship": "hardship",
            "deceased": "deceased",
            "bankruptcy": "bankruptcy",
        }
    )
    refuse_note_severity: Literal["low", "medium", "high", "never"] = "high"
    borrower_tz: str = "Asia/Shanghai"
    promise: PromiseSettings = Field(default_factory=PromiseSettings)
    visit: VisitSettings = Field(default_factory=VisitSettings)

    @model_validator(mode="before")
    @classmethod
    def _one_lost_contact_setting(cls, value: Any) -> Any:
        if isinstance(value, dict) and "lost_contact_days" in value:
            raise ValueError(
                "contacts.lost_contact_days was merged into collections.lost_contact_after_days "
                "(one lost-contact rule); set the days there and remove this key"
            )
        return value

    @field_validator("hold_on_outcome")
    @classmethod
    def _known(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [
            f"{outcome}: {kind}"
            for outcome, kind in value.items()
            if outcome not in HOLDABLE_OUTCOMES or kind not in HOLD_KINDS
        ]
        if bad:
            raise ValueError(
                f"hold_on_outcome maps outcomes {list(HOLDABLE_OUTCOMES)} to hold kinds "
                f"{list(HOLD_KINDS)}; bad entries: {bad}"
            )
        return value
