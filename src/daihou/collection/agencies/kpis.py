"""Agency KPIs, ranking and the elimination flag (POLICY.md §8: recovery rate,
complaint rate, compliance rate; bottom performers are eliminated, 末位淘汰).

For a period ``[start, end)`` the cohort is the agency's placements made in it:

- recovery rate = recovered / placed overdue amount, recoveries as in
  ``commission.recovered_fen_query`` with value dates before ``end``;
- complaint rate = complaints about the agency's cases while placed (a complaint on the
  case's loan received between placement and recall, or one naming the agency) /
  placements;
- compliance rate = 1 − (gate denials + failed language checks) / (contact attempts +
  denials + language checks) of the agency's own contacts and notes in the period;
  no activity: none.

Ranking: recovery rate (highest first; agencies without placements last), then
compliance rate, then complaint rate, then id — deterministic. An agency with at least
``min_placements`` placements below any threshold of the pack is flagged; acting on the
flag (``set_status`` eliminated, which recalls its cases) is a person's decision.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, func, select, type_coerce
from sqlalchemy.orm import Session

from daihou.auth.actor import Actor
from daihou.auth.permissions import authorize
from daihou.collection.agencies.commission import recovered_fen_query
from daihou.collection.agencies.models import Agency, Placement
from daihou.collection.agencies.settings import AgenciesLegalSettings, settings
from daihou.compliance.complaints.models import Complaint
from daihou.compliance.gate.models import ContactAttempt, ContactDenial
from daihou.compliance.language.models import LanguageCheck
from daihou.kernel.money import ZERO, from_fen

ZONE = ZoneInfo("Asia/Shanghai")
SIX = Decimal("0.000001")


def _ratio(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(SIX, rounding=ROUND_HALF_UP)


def _utc(day: date) -> datetime:
    """Start of ``day`` in China, as naive UTC (how contact and check times are kept)."""
    return datetime.combine(day, time(), ZONE).astimezone(UTC).replace(tzinfo=None)


@dataclass(slots=True)
class AgencyKpis:
    agency_id: str
    name: str
    status: str
    placements: int = 0
    placed_amount: Decimal = ZERO
    recovered: Decimal = ZERO
    complaints: int = 0
    contacts: int = 0
    violations: int = 0
    rank: int = 0
    flags: list[str] = field(default_factory=list)

    @property
    def recovery_rate(self) -> Decimal | None:
        return _ratio(self.recovered, self.placed_amount)

    @property
    def complaint_rate(self) -> Decimal | None:
        return _ratio(self.complaints, self.placements)

    @property
    def compliance_rate(self) -> Decimal | None:
        rate = _ratio(self.violations, self.contacts)
        return None if rate is None else Decimal(1) - rate

    @property
    def eliminate(self) -> bool:
        return bool(self.flags)


def _sort_key(k: AgencyKpis) -> tuple[bool, Decimal, Decimal, Decimal, str]:
    return (
        k.recovery_rate is None,
        -(k.recovery_rate or ZERO),
        -(k.compliance_rate if k.compliance_rate is not None else Decimal(1)),
        k.complaint_rate or ZERO,
        k.agency_id,
    )


def compute_kpis(
    session: Session, *, start: date, end: date, config: AgenciesLegalSettings | None = None
) -> list[AgencyKpis]:
    """KPIs of every agency for placements made in ``[start, end)``, ranked."""
    if end <= start:
        raise ValueError(f"period: end {end} must be after start {start}")
    thresholds = (config or settings()).kpis
    kpis = {
        a.id: AgencyKpis(a.id, a.name, a.status)
        for a in session.execute(select(Agency).order_by(Agency.id)).scalars()
    }
    cohort = (Placement.placed_on >= start, Placement.placed_on < end)
    for agency_id, n, fen in session.execute(
        select(
            Placement.agency_id,
            func.count(),
            func.sum(type_coerce(Placement.overdue_amount, BigInteger)),
        )
        .where(*cohort)
        .group_by(Placement.agency_id)
    ):
        kpis[agency_id].placements = int(n)
        kpis[agency_id].placed_amount = from_fen(int(fen or 0))
    recovered = recovered_fen_query(end=end, by=Placement.agency_id).where(*cohort)
    for agency_id, fen in session.execute(recovered):
        kpis[agency_id].recovered = from_fen(int(fen or 0))
    for agency_id, count in _complaints(session, start=start, end=end).items():
        if agency_id in kpis:
            kpis[agency_id].complaints = count
    _compliance(session, kpis, start=start, end=end)
    ranked = sorted(kpis.values(), key=_sort_key)
    for rank, k in enumerate(ranked, start=1):
        k.rank = rank
        if k.placements < thresholds.min_placements:
            continue
        if k.recovery_rate is not None and k.recovery_rate < thresholds.min_recovery_rate:
            k.flags.append(f"recovery rate {k.recovery_rate} < {thresholds.min_recovery_rate}")
        if k.complaint_rate is not None and k.complaint_rate > thresholds.max_complaint_rate:
            k.flags.append(f"complaint rate {k.complaint_rate} > {thresholds.max_complaint_rate}")
        if k.compliance_rate is not None and k.compliance_rate < thresholds.min_compliance_rate:
            k.flags.append(
                f"compliance rate {k.compliance_rate} < {thresholds.min_compliance_rate}"
            )
    return ranked


def _complaints(session: Session, *, start: date, end: date) -> dict[str, int]:
    """Distinct complaints per agency: on a placed loan during the placement, or naming
    the agency, for the cohort placed in ``[start, end)``."""
    found: dict[str, set[int]] = defaultdict(set)
    since = datetime.combine(start, time(), ZONE)
    until = datetime.combine(end, time(), ZONE)
    placements = session.execute(
        select(
            Placement.agency_id, Placement.loan_id, Placement.placed_on, Placement.ended_on
        ).where(Placement.placed_on >= start, Placement.placed_on < end)
    ).all()
    windows: dict[str, list[tuple[str, date, date | None]]] = defaultdict(list)
    for agency_id, loan_id, placed_on, ended_on in placements:
        windows[loan_id].append((agency_id, placed_on, ended_on))
    loan_ids = sorted(windows)
    for i in range(0, len(loan_ids), 500):
        rows = session.execute(
            select(Complaint.id, Complaint.loan_id, Complaint.received_at).where(
                Complaint.loan_id.in_(loan_ids[i : i + 500]), Complaint.received_at >= since
            )
        )
        for complaint_id, loan_id, received_at in rows:
            day = received_at.astimezone(ZONE).date()
            for agency_id, placed_on, ended_on in windows[loan_id]:
                if placed_on <= day and (ended_on is None or day < ended_on):
                    found[agency_id].add(complaint_id)
    for complaint_id, agency_id in session.execute(
        select(Complaint.id, Complaint.agency_id).where(
            Complaint.agency_id.is_not(None),
            Complaint.received_at >= since,
            Complaint.received_at < until,
        )
    ):
        found[agency_id].add(complaint_id)
    return {agency_id: len(ids) for agency_id, ids in found.items()}


def _compliance(session: Session, kpis: dict[str, AgencyKpis], *, start: date, end: date) -> None:
    lo, hi = _utc(start), _utc(end)
    ids = list(kpis)
    for model in (ContactAttempt, ContactDenial):
        for org, n in session.execute(
            select(model.organisation, func.count())
            .where(model.organisation.in_(ids), model.at_utc >= lo, model.at_utc < hi)
            .group_by(model.organisation)
        ):
            kpis[org].contacts += int(n)
            if model is ContactDenial:
                kpis[org].violations += int(n)
    for agency_id, passed, n in session.execute(
        select(LanguageCheck.agency_id, LanguageCheck.passed, func.count())
        .where(
            LanguageCheck.agency_id.in_(ids),
            LanguageCheck.checked_at >= lo,
            LanguageCheck.checked_at < hi,
        )
        .group_by(LanguageCheck.agency_id, LanguageCheck.passed)
    ):
        kpis[agency_id].contacts += int(n)
        if not passed:
            kpis[agency_id].violations += int(n)


def agency_kpis(
    session: Session,
    *,
    actor: Actor,
    start: date,
    end: date,
    config: AgenciesLegalSettings | None = None,
) -> list[AgencyKpis]:
    """``compute_kpis`` for a person with ``kpi.view`` (aggregates, no personal data)."""
    authorize(actor, "kpi.view")
    return compute_kpis(session, start=start, end=end, config=config)
