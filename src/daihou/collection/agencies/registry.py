"""The agency registry (委外机构名单): admission, contract scope, rates, status.

Every change needs ``agency.manage`` and is appended to the audit chain with its
authorisation basis and reason. Suspending or eliminating an agency recalls every case
placed with it (POLICY.md §8: bottom performers are eliminated and their case lists
recalled).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from daihou.auth.actor import Actor
from daihou.auth.permissions import authorize
from daihou.collection.agencies.models import AGENCY_STATUSES, Agency
from daihou.collection.agencies.settings import AgenciesLegalSettings, settings
from daihou.compliance.audit.service import record
from daihou.eod.calendar import business_date


@dataclass(frozen=True, slots=True)
class AgencyTerms:
    """What an agency's contract says; validated by ``add_agency``/``update_agency``."""

    name: str
    licence_no: str
    licence_expires_on: date
    contract_from: date
    contract_until: date
    max_cases: int
    products: Sequence[str] = ()
    buckets: Sequence[str] = ()
    territories: Sequence[str] = ()
    commission_rates: Mapping[str, str | Decimal] | None = None
    contacts: Sequence[Mapping[str, str]] = ()


def _rates(raw: Mapping[str, str | Decimal] | None, known_buckets: set[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for bucket, value in (raw or {}).items():
        if bucket not in known_buckets:
            raise ValueError(
                f"commission_rates: unknown bucket {bucket!r}; known: {sorted(known_buckets)}"
            )
        try:
            rate = Decimal(str(value).strip().rstrip("%"))
        except InvalidOperation:
            raise ValueError(f"commission_rates[{bucket}]: {value!r} is not a number") from None
        if str(value).strip().endswith("%"):
            rate = rate / 100
        if not Decimal(0) <= rate <= Decimal(1):
            raise ValueError(f"commission_rates[{bucket}]: {value!r} is not between 0 and 1")
        out[bucket] = str(rate.normalize())
    return out


def _known_buckets() -> set[str]:
    from daihou.policy.loader import load_pack

    return {b.name for b in load_pack().delinquency.buckets}


def _validated(terms: AgencyTerms) -> dict[str, Any]:
    problems = []
    for name in ("name", "licence_no"):
        if not str(getattr(terms, name) or "").strip():
            problems.append(f"{name}: required")
    if terms.contract_until < terms.contract_from:
        problems.append("contract_until: before contract_from")
    if terms.max_cases < 0:
        problems.append("max_cases: must not be negative")
    known = _known_buckets()
    unknown = sorted(set(terms.buckets) - known)
    if unknown:
        problems.append(f"buckets: unknown {unknown}; known: {sorted(known)}")
    for i, contact in enumerate(terms.contacts):
        if not str(contact.get("name", "")).strip():
            problems.append(f"contacts[{i}].name: required")
    if problems:
        raise ValueError("; ".join(problems))
    return {
        "name": terms.name.strip(),
        "licence_no": terms.licence_no.strip(),
        "licence_expires_on": terms.licence_expires_on,
        "contract_from": terms.contract_from,
        "contract_until": terms.contract_until,
        "max_cases": terms.max_cases,
        "products": sorted(set(terms.products)),
        "buckets": sorted(set(terms.buckets)),
        "territories": sorted(set(terms.territories)),
        "commission_rates": _rates(terms.commission_rates, known),
        "contacts": [dict(c) for c in terms.contacts],
    }


def snapshot(agency: Agency) -> dict[str, Any]:
    return {
        "id": agency.id,
        "name": agency.name,
        "licence_no": agency.licence_no,
        "licence_expires_on": agency.licence_expires_on,
        "status": agency.status,
        "status_reason": agency.status_reason,
        "contract_from": agency.contract_from,
        "contract_until": agency.contract_until,
        "products": list(agency.products or []),
        "buckets": list(agency.buckets or []),
        "territories": list(agency.territories or []),
        "max_cases": agency.max_cases,
        "commission_rates": dict(agency.commission_rates or {}),
        "contacts": list(agency.contacts or []),
    }


def get_agency(session: Session, agency_id: str) -> Agency:
    agency = session.get(Agency, agency_id)
    if agency is None:
        raise LookupError(f"no agency {agency_id!r}")
    return agency


def list_agencies(session: Session, *, actor: Actor, status: str | None = None) -> list[Agency]:
    authorize(actor, "agency.manage")
    query = select(Agency).order_by(Agency.id)
    if status is not None:
        query = query.where(Agency.status == status)
    return list(session.execute(query).scalars())


def add_agency(
    session: Session, *, actor: Actor, agency_id: str, terms: AgencyTerms, reason: str
) -> Agency:
    """Admit an agency to the whitelist (准入) with its contract."""
    basis = authorize(actor, "agency.manage")
    agency_id = agency_id.strip()
    if not agency_id or len(agency_id) > 64:
        raise ValueError("agency_id: required, at most 64 characters")
    if session.get(Agency, agency_id) is not None:
        raise ValueError(f"agency_id: {agency_id!r} already exists")
    agency = Agency(
        id=agency_id, status="whitelisted", created_by=actor.user_id, **_validated(terms)
    )
    session.add(agency)
    session.flush()
    record(
        session,
        actor=actor,
        action="agency.add",
        object_type="agency",
        object_id=agency_id,
        after=snapshot(agency),
        basis={**basis.as_dict(), "reason": reason},
    )
    return agency


def update_agency(
    session: Session, *, actor: Actor, agency_id: str, terms: AgencyTerms, reason: str
) -> Agency:
    """Replace an agency's contract terms (renewal, new scope, new rates)."""
    basis = authorize(actor, "agency.manage")
    agency = get_agency(session, agency_id)
    before = snapshot(agency)
    for key, value in _validated(terms).items():
        setattr(agency, key, value)
    session.flush()
    record(
        session,
        actor=actor,
        action="agency.update",
        object_type="agency",
        object_id=agency_id,
        before=before,
        after=snapshot(agency),
        basis={**basis.as_dict(), "reason": reason},
    )
    return agency


_STATUS_ACTIONS = {
    "whitelisted": "agency.admit",
    "suspended": "agency.suspend",
    "eliminated": "agency.eliminate",
}


def set_status(
    session: Session, *, actor: Actor, agency_id: str, status: str, reason: str
) -> tuple[Agency, int]:
    """Whitelist, suspend or eliminate an agency; the latter two recall its cases.

    Returns the agency and how many placements were recalled.
    """
    from daihou.collection.agencies.recall import recall_agency_cases

    if status not in AGENCY_STATUSES:
        raise ValueError(f"status: {status!r} is not one of {list(AGENCY_STATUSES)}")
    if not reason.strip():
        raise ValueError("reason: required")
    basis = authorize(actor, "agency.manage")
    agency = get_agency(session, agency_id)
    before = snapshot(agency)
    agency.status, agency.status_reason = status, reason.strip()
    session.flush()
    recalled = 0
    if status != "whitelisted":
        recalled = recall_agency_cases(
            session, agency_id=agency_id, actor=actor, on=business_date(session)
        )
    record(
        session,
        actor=actor,
        action=_STATUS_ACTIONS[status],
        object_type="agency",
        object_id=agency_id,
        before=before,
        after={**snapshot(agency), "recalled": recalled},
        basis={**basis.as_dict(), "reason": reason},
    )
    return agency, recalled


def commission_rate(
    agency: Agency, bucket: str, config: AgenciesLegalSettings | None = None
) -> Decimal:
    """The contract's rate for ``bucket``, else the pack's default."""
    override = (agency.commission_rates or {}).get(bucket)
    if override is not None:
        return Decimal(override)
    config = config or settings()
    try:
        return config.commission_rates[bucket]
    except KeyError:
        raise ValueError(
            f"no commission rate for bucket {bucket!r} (pack agencies_legal.commission_rates "
            f"or agency {agency.id}'s contract)"
        ) from None


def usable_on(agency: Agency, day: date) -> list[str]:
    """Why ``agency`` may not take new cases on ``day`` (empty: it may)."""
    reasons = []
    if agency.status != "whitelisted":
        reasons.append(f"status {agency.status}")
    if agency.licence_expires_on < day:
        reasons.append(f"licence expired on {agency.licence_expires_on}")
    if not agency.contract_from <= day <= agency.contract_until:
        reasons.append(f"outside contract {agency.contract_from}…{agency.contract_until}")
    return reasons
