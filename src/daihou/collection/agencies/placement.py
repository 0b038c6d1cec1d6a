"""Placement batches (委外分案): which cases go out, and to whom.

Eligible (POLICY.md §5): an open case not placed, not in litigation (stage ``legal``
or a referred legal file), with no hold (停催) on the customer or the loan, whose loan
is at least ``min_dpd`` days past due — or, after ``early_failed_visits`` failed field
visits, at least ``early_min_dpd``. Usable agencies: whitelisted, licence and contract
valid on the date, capacity left (``max_cases`` − active placements). Agencies are
ranked by recovery rate over the pack's performance window and weighted by rank;
``allocation.allocate`` shares the batch out.

A placement fixes the bucket, days past due, overdue amount and commission rate of the
day; the case gets ``agency_id`` and stage ``agency`` with its history, and the
placement lasts ``period_days`` (``recall.expire_placements`` ends it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    and_,
    exists,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from daihou.auth.actor import Actor
from daihou.auth.permissions import authorize
from daihou.collection.agencies.allocation import AgencySlot, CaseToPlace, allocate, rank_weights
from daihou.collection.agencies.kpis import compute_kpis
from daihou.collection.agencies.models import Agency, Placement, PlacementBatch
from daihou.collection.agencies.recall import case_scope
from daihou.collection.agencies.registry import commission_rate, get_agency, usable_on
from daihou.collection.agencies.settings import AgenciesLegalSettings, settings
from daihou.collection.bulk import bulk_insert
from daihou.collection.case_lists import case_scope_filter
from daihou.collection.legal.models import LegalFile
from daihou.collection.models import CaseStatusChange, CollectionCase
from daihou.collection.overdue_amounts import overdue_fen_query
from daihou.compliance.audit.service import canonical_json, record
from daihou.compliance.gate.models import Hold
from daihou.kernel.money import from_fen
from daihou.loans.models import Loan


def eligible_cases(
    business_date: date, config: AgenciesLegalSettings, *, actor: Actor | None = None
) -> Any:
    """SELECT of ``CaseToPlace`` columns for the cases a batch may place."""
    rules = config.placement
    overdue = overdue_fen_query().subquery()
    previous = (
        select(Placement.agency_id)
        .where(Placement.case_id == CollectionCase.id)
        .order_by(Placement.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    hold = exists().where(
        Hold.customer_id == CollectionCase.customer_id,
        Hold.released_at.is_(None),
        or_(Hold.loan_id.is_(None), Hold.loan_id == CollectionCase.loan_id),
    )
    legal = exists().where(
        LegalFile.case_id == CollectionCase.id,
        LegalFile.referred_on.is_not(None),
        LegalFile.stage != "closed",
    )
    active = exists().where(Placement.case_id == CollectionCase.id, Placement.status == "active")
    query = (
        select(
            CollectionCase.id,
            CollectionCase.loan_id,
            Loan.product,
            Loan.bucket,
            Loan.dpd,
            CollectionCase.territory,
            CollectionCase.stage,
            func.coalesce(overdue.c.overdue_fen, 0).label("overdue_fen"),
            previous.label("previous_agency"),
        )
        .join(Loan, Loan.id == CollectionCase.loan_id)
        .outerjoin(overdue, overdue.c.loan_id == CollectionCase.loan_id)
        .where(
            CollectionCase.status == "open",
            CollectionCase.agency_id.is_(None),
            CollectionCase.stage != "legal",
            or_(
                Loan.dpd >= rules.min_dpd,
                and_(
                    CollectionCase.failed_visits >= rules.early_failed_visits,
                    Loan.dpd >= rules.early_min_dpd,
                ),
            ),
            ~hold,
            ~legal,
            ~active,
        )
        .order_by(CollectionCase.id)
    )
    if actor is not None:
        query = query.where(case_scope_filter(actor, "placement.create"))
    return query


def agency_slots(
    session: Session, business_date: date, config: AgenciesLegalSettings
) -> tuple[list[AgencySlot], dict[str, dict[str, Any]]]:
    """Usable agencies with their rank weight and free capacity, and a summary."""
    window = config.placement.performance_window_days
    ranked = compute_kpis(
        session,
        start=business_date - timedelta(days=window),
        end=business_date + timedelta(days=1),
        config=config,
    )
    agencies = {
        a.id: a
        for a in session.execute(select(Agency).order_by(Agency.id).with_for_update()).scalars()
    }
    usable = [k.agency_id for k in ranked if not usable_on(agencies[k.agency_id], business_date)]
    weights = rank_weights(usable, config.placement.rank_weights)
    active: dict[str, int] = {
        agency_id: int(n)
        for agency_id, n in session.execute(
            select(Placement.agency_id, func.count())
            .where(Placement.status == "active")
            .group_by(Placement.agency_id)
        )
    }
    slots, summary = [], {}
    for rank, agency_id in enumerate(usable, start=1):
        agency = agencies[agency_id]
        free = max(agency.max_cases - active.get(agency_id, 0), 0)
        slots.append(
            AgencySlot(
                agency_id=agency_id,
                weight=weights[agency_id],
                capacity=free,
                products=frozenset(agency.products or []),
                buckets=frozenset(agency.buckets or []),
                territories=frozenset(agency.territories or []),
            )
        )
        summary[agency_id] = {"rank": rank, "weight": weights[agency_id], "capacity": free}
    return slots, summary


def _place(
    session: Session,
    *,
    rows: Sequence[Any],
    chosen: dict[int, str],
    batch_id: int | None,
    actor: Actor,
    on: date,
    config: AgenciesLegalSettings,
) -> list[dict[str, Any]]:
    agencies = {a: get_agency(session, a) for a in sorted(set(chosen.values()))}
    due_back = on + timedelta(days=config.placement.period_days)
    placements = []
    for row in rows:
        agency_id = chosen.get(row.id)
        if agency_id is None:
            continue
        placements.append(
            {
                "batch_id": batch_id,
                "case_id": row.id,
                "loan_id": row.loan_id,
                "agency_id": agency_id,
                "status": "active",
                "placed_on": on,
                "due_back_on": due_back,
                "bucket": row.bucket,
                "dpd": row.dpd,
                "overdue_amount": from_fen(int(row.overdue_fen)),
                "commission_rate": commission_rate(agencies[agency_id], row.bucket, config),
                "stage_before": row.stage,
                "placed_by": actor.user_id,
            }
        )
    if placements:
        bulk_insert(session, Placement, placements)
        if batch_id is not None:
            marker = Placement.batch_id == batch_id
        else:
            marker = and_(Placement.case_id.in_(list(chosen)), Placement.status == "active")
        _mirror(session, marker, on=on, actor=actor, note=f"placed until {due_back}")
    return placements


def _mirror(
    session: Session, marker: ColumnElement[bool], *, on: date, actor: Actor, note: str
) -> None:
    """Set ``agency_id`` and stage ``agency`` on the cases of the new placements and
    write their history, set-based."""
    columns = ["case_id", "business_date", "field", "old_value", "new_value", "reason", "actor"]
    day, why, by = literal(on, Date()), literal(note), literal(actor.user_id)
    for field, old, new in (
        ("agency", null(), Placement.agency_id),
        ("stage", Placement.stage_before, literal("agency")),
    ):
        session.execute(
            insert(CaseStatusChange).from_select(
                columns,
                select(Placement.case_id, day, literal(field), old, new, why, by).where(marker),
            )
        )
    session.execute(  # UPDATE … FROM: a join, on both engines (SQLite ≥ 3.33)
        update(CollectionCase)
        .where(CollectionCase.id == Placement.case_id, marker)
        .values(agency_id=Placement.agency_id, stage="agency")
        .execution_options(synchronize_session=False)
    )
    session.expire_all()


def place_batch(
    session: Session,
    *,
    actor: Actor,
    business_date: date,
    limit: int | None = None,
    config: AgenciesLegalSettings | None = None,
) -> PlacementBatch:
    """Place every eligible case in the actor's scope (at most ``limit``) across the
    usable agencies; one batch row and one audit record."""
    basis = authorize(actor, "placement.create")
    config = config or settings()
    # Lock order: agencies (capacity), then the cases, so two batches at once neither
    # exceed a capacity nor place a case twice (PostgreSQL; SQLite's write lock).
    slots, summary = agency_slots(session, business_date, config)
    eligible = eligible_cases(business_date, config, actor=actor)
    rows = session.execute(eligible.with_for_update(of=CollectionCase)).all()
    chosen = allocate(
        [
            CaseToPlace(
                r.id, r.product, r.bucket, r.territory, int(r.overdue_fen), r.previous_agency
            )
            for r in rows
        ],
        slots,
        avoid_previous=config.placement.avoid_previous_agency,
        limit=limit,
    )
    for agency_id, info in summary.items():
        info["placed"] = sum(1 for a in chosen.values() if a == agency_id)
    reason = {**basis.as_dict(), "rule": "agencies_legal.placement", "eligible": len(rows)}
    batch = PlacementBatch(
        business_date=business_date,
        created_by=actor.user_id,
        cases=len(chosen),
        allocation=summary,
        basis=canonical_json(reason),
    )
    session.add(batch)
    session.flush()
    placed = _place(
        session,
        rows=rows,
        chosen=chosen,
        batch_id=batch.id,
        actor=actor,
        on=business_date,
        config=config,
    )
    record(
        session,
        actor=actor,
        action="placement.batch",
        object_type="placement-batch",
        object_id=str(batch.id),
        after={"allocation": summary, "cases": sorted(p["case_id"] for p in placed)},
        basis=reason,
    )
    return batch


def place_case(
    session: Session,
    *,
    actor: Actor,
    case_id: int,
    agency_id: str,
    business_date: date,
    reason: str,
    config: AgenciesLegalSettings | None = None,
) -> Placement:
    """Place one eligible case with a chosen agency (a supervisor's decision)."""
    config = config or settings()
    case = session.get(CollectionCase, case_id)
    if case is None:
        raise LookupError(f"no collection case {case_id}")
    basis = authorize(actor, "placement.create", resource=case_scope(case))
    if not reason.strip():
        raise ValueError("reason: required")
    agency = get_agency(session, agency_id)
    problems = usable_on(agency, business_date)
    rows = session.execute(
        eligible_cases(business_date, config).where(CollectionCase.id == case_id)
    ).all()
    if not rows:
        problems.append(
            f"case {case_id} is not eligible (open, not placed, not in litigation, no hold, "
            f"{config.placement.min_dpd}+ days past due or "
            f"{config.placement.early_failed_visits} failed visits)"
        )
    else:
        row = rows[0]
        slot = AgencySlot(
            agency_id,
            1,
            1,
            frozenset(agency.products or []),
            frozenset(agency.buckets or []),
            frozenset(agency.territories or []),
        )
        if not slot.covers(CaseToPlace(row.id, row.product, row.bucket, row.territory, 0)):
            problems.append(f"case {case_id} is outside agency {agency_id}'s contract scope")
        active = session.execute(
            select(func.count()).where(
                Placement.agency_id == agency_id, Placement.status == "active"
            )
        ).scalar_one()
        if active >= agency.max_cases:
            problems.append(f"agency {agency_id} is at capacity ({agency.max_cases} cases)")
    if problems:
        raise ValueError(f"cannot place case {case_id} with {agency_id}: {'; '.join(problems)}")
    _place(
        session,
        rows=rows,
        chosen={case_id: agency_id},
        batch_id=None,
        actor=actor,
        on=business_date,
        config=config,
    )
    placement = session.execute(
        select(Placement).where(Placement.case_id == case_id, Placement.status == "active")
    ).scalar_one()
    record(
        session,
        actor=actor,
        action="placement.create",
        object_type="placement",
        object_id=str(placement.id),
        after={"case_id": case_id, "agency_id": agency_id, "rate": placement.commission_rate},
        basis={**basis.as_dict(), "reason": reason},
    )
    return placement


def list_batches(session: Session, *, actor: Actor, limit: int = 100) -> list[PlacementBatch]:
    """Placement batches, newest first (``agency.manage``)."""
    authorize(actor, "agency.manage")
    return list(
        session.scalars(select(PlacementBatch).order_by(PlacementBatch.id.desc()).limit(limit))
    )
