"""When a case goes to litigation (POLICY.md §5), as a pure function of the case.

File preparation: ``prepare_file_dpd`` (60) days past due. Referral: at least
``refer_min_dpd`` (90) days past due and an overdue amount over
``refer_min_overdue_amount`` (50,000), and at least one trigger — repeated failure
(``repeated_failures`` broken promises), refusal to pay, or lost contact for more than
``lost_contact_days`` (30) days.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from daihou.collection.legal.settings import LegalSettings


@dataclass(frozen=True, slots=True)
class LegalEligibility:
    prepare_file: bool
    refer: bool
    met: list[str] = field(default_factory=list)  # rules satisfied (the referral basis)
    unmet: list[str] = field(default_factory=list)  # why not (for a refusal message)


def assess(
    *,
    dpd: int,
    overdue_amount: Decimal,
    broken_promises: int,
    refused: bool,
    lost_contact_since: date | None,
    business_date: date,
    config: LegalSettings,
) -> LegalEligibility:
    met: list[str] = []
    unmet: list[str] = []
    if dpd >= config.refer_min_dpd:
        met.append(f"dpd {dpd} >= {config.refer_min_dpd}")
    else:
        unmet.append(f"dpd {dpd} < {config.refer_min_dpd}")
    if overdue_amount > config.refer_min_overdue_amount:
        met.append(f"overdue amount {overdue_amount} > {config.refer_min_overdue_amount}")
    else:
        unmet.append(f"overdue amount {overdue_amount} <= {config.refer_min_overdue_amount}")
    triggers: list[str] = []
    if broken_promises >= config.repeated_failures:
        triggers.append(f"repeated failure: {broken_promises} broken promises")
    if refused and config.refer_on_refusal:
        triggers.append("refusal to pay")
    if lost_contact_since is not None:
        days = (business_date - lost_contact_since).days
        if days > config.lost_contact_days:
            triggers.append(f"lost contact for {days} days > {config.lost_contact_days}")
    if triggers:
        met.extend(triggers)
    else:
        unmet.append(
            f"no trigger: fewer than {config.repeated_failures} broken promises, no refusal, "
            f"not lost contact for more than {config.lost_contact_days} days"
        )
    return LegalEligibility(
        prepare_file=dpd >= config.prepare_file_dpd,
        refer=not unmet,
        met=met,
        unmet=unmet,
    )
