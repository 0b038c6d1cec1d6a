"""Ending placements (召回): on expiry, on demand, at referral, agency suspension, case
closure.

Recoveries are attributed to a placement for value dates in ``[placed_on, ended_on)``:
on expiry ``ended_on`` is the due-back date (so a late or caught-up run ends it on the
right day), on demand or suspension the business date of the recall (payments from that
day on are the lender's), and for a closed case the day after it closed (the closing
payment counts for the agency). The case's ``agency_id`` is cleared and its stage goes
back to what it was before placement, unless it has moved on (e.g. to ``legal``).

Each recall is one SELECT of the placements concerned and batched UPDATE/INSERT
statements, never a per-case ORM loop; one audit record covers the whole recall.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from daihou.auth.actor import SYSTEM, Actor
from daihou.auth.permissions import authorize
from daihou.auth.scopes import ResourceScope
from daihou.collection.agencies.models import Placement
from daihou.collection.bulk import bulk_insert, bulk_update_by_id
from daihou.collection.models import CaseStatusChange, CollectionCase
from daihou.compliance.audit.service import record
from daihou.eod.calendar import business_date


def case_scope(case: CollectionCase) -> ResourceScope:
    return ResourceScope(
        owner_user_id=case.owner_user_id,
        team=case.team,
        agency_id=case.agency_id,
        territory=case.territory,
    )


def end_placements(
    session: Session,
    *,
    where: ColumnElement[bool],
    reason: str,
    actor: Actor,
    on: date,
) -> list[int]:
    """End the active placements matching ``where``; returns their ids."""
    session.flush()
    rows = session.execute(
        select(
            Placement.id,
            Placement.case_id,
            Placement.agency_id,
            Placement.stage_before,
            Placement.due_back_on,
            CollectionCase.stage,
            CollectionCase.status,
            CollectionCase.closed_on,
        )
        .join(CollectionCase, CollectionCase.id == Placement.case_id)
        .where(Placement.status == "active", where)
        .order_by(Placement.id)
        .with_for_update(of=Placement)
    ).all()
    if not rows:
        return []
    placements: list[dict[str, Any]] = []
    cases: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    for row in rows:
        if reason == "expired":
            ended = row.due_back_on
        elif reason == "case-closed" and row.closed_on is not None:
            ended = row.closed_on + timedelta(days=1)
        else:
            ended = on
        placements.append(
            {
                "id": row.id,
                "status": "recalled",
                "ended_on": ended,
                "recall_reason": reason,
                "recalled_by": actor.user_id,
            }
        )
        stage = row.stage_before if row.stage == "agency" else row.stage
        cases.append({"id": row.case_id, "agency_id": None, "stage": stage})
        note = f"recalled from {row.agency_id}: {reason}"
        history.append(_change(row.case_id, on, "agency", row.agency_id, None, note, actor))
        if stage != row.stage:
            history.append(_change(row.case_id, on, "stage", row.stage, stage, note, actor))
    bulk_update_by_id(session, Placement, placements)
    bulk_update_by_id(session, CollectionCase, cases)
    bulk_insert(session, CaseStatusChange, history)
    session.expire_all()
    return [row.id for row in rows]


def _change(
    case_id: int, on: date, field: str, old: str | None, new: str | None, reason: str, actor: Actor
) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "business_date": on,
        "field": field,
        "old_value": old,
        "new_value": new,
        "reason": reason,
        "actor": actor.user_id,
    }


def _audit(
    session: Session, *, actor: Actor, object_id: str, ids: list[int], basis: dict[str, Any]
) -> None:
    record(
        session,
        actor=actor,
        action="placement.recall",
        object_type="placements",
        object_id=object_id,
        after={"placements": ids},
        basis=basis,
    )


def expire_placements(session: Session, business_date: date, *, actor: Actor = SYSTEM) -> int:
    """Daily (collections run): recall placements whose period ended on or before
    ``business_date`` and placements of cases that have closed. Idempotent."""
    closed = select(CollectionCase.id).where(CollectionCase.status == "closed")
    rule = "agencies_legal.placement.period_days"
    ids = end_placements(
        session,
        where=Placement.case_id.in_(closed),
        reason="case-closed",
        actor=actor,
        on=business_date,
    )
    expired = end_placements(
        session,
        where=Placement.due_back_on <= business_date,
        reason="expired",
        actor=actor,
        on=business_date,
    )
    if ids or expired:
        _audit(
            session,
            actor=actor,
            object_id=f"expire:{business_date.isoformat()}",
            ids=sorted(ids + expired),
            basis={"rule": rule, "batch": "collections.run", "closed": ids, "expired": expired},
        )
    return len(ids) + len(expired)


def recall_case(session: Session, *, actor: Actor, case_id: int, reason: str) -> int:
    """Recall one case from its agency now (``placement.recall``); returns the
    placement id."""
    if not reason.strip():
        raise ValueError("reason: required")
    case = session.get(CollectionCase, case_id)
    if case is None:
        raise LookupError(f"no collection case {case_id}")
    basis = authorize(actor, "placement.recall", resource=case_scope(case))
    ids = end_placements(
        session,
        where=Placement.case_id == case_id,
        reason="on-demand",
        actor=actor,
        on=business_date(session),
    )
    if not ids:
        raise ValueError(f"case {case_id} is not placed with an agency")
    _audit(
        session,
        actor=actor,
        object_id=f"case:{case_id}",
        ids=ids,
        basis={**basis.as_dict(), "reason": reason},
    )
    return ids[0]


def recall_agency_cases(session: Session, *, agency_id: str, actor: Actor, on: date) -> int:
    """Every active placement of an agency (suspension, elimination); the caller audits."""
    return len(
        end_placements(
            session,
            where=Placement.agency_id == agency_id,
            reason="agency-status",
            actor=actor,
            on=on,
        )
    )
