"""Litigation (诉讼) settings of the policy pack: every number of POLICY.md §5 here.

Kept free of imports from ``daihou.policy`` so the pack schema can import it.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

EVIDENCE_KINDS = ("contract", "repayment-records", "overdue-proof", "collection-records")


class LegalSettings(BaseModel):
    """When a case may go to litigation and what its file must hold.

    POLICY.md §5: prepare the litigation file at T+60 (contract, repayment records,
    collection records); refer at 90+ days past due after repeated failure, on
    refusal, or after more than 30 days of lost contact, when the overdue amount is
    over 50,000.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    prepare_file_dpd: int = Field(default=60, ge=1)  # §5 T+60: prepare the file
    refer_min_dpd: int = Field(default=90, ge=1)  # §5 90+
    refer_min_overdue_amount: Decimal = Field(default=Decimal("50000.00"), ge=0)  # §5 > 50,000
    repeated_failures: int = Field(default=2, ge=1)  # §5 "repeated failure": broken promises
    lost_contact_days: int = Field(default=30, ge=1)  # §5 lost contact > 30 days
    refer_on_refusal: bool = True  # §5 refusal to pay
    evidence: list[str] = Field(default_factory=lambda: list(EVIDENCE_KINDS))  # §5 T+60 file
    evidence_required_to_file: bool = True  # no court filing with an incomplete file
