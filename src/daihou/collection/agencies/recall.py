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

from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    case,
    func,
    insert,
    literal,
    literal_column,
    null,
    select,
    update,
)
from sqlalchemy.orm import Session

from daihou.auth.actor import SYSTEM, Actor
from daihou.auth.permissions import authorize
from daihou.auth.scopes import ResourceScope
from daihou.collection.agencies.models import Agency, Placement
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
    """End the active placements matching ``where`` (a condition on ``placements``;
    subqueries in it must not correlate); returns their ids."""
    session.flush()
    ending = (Placement.status == "active", where)
    ids = list(
        session.execute(
            select(Placement.id).where(*ending).order_by(Placement.id).with_for_update()
        ).scalars()
    )
    if not ids:
        return []
    by = literal(actor.user_id)
    note = literal(f"recalled: {reason}")
    stage = CollectionCase.stage
    columns = ["case_id", "business_date", "field", "old_value", "new_value", "reason", "actor"]
    session.execute(
        insert(CaseStatusChange).from_select(
            columns,
            select(
                Placement.case_id,
                literal(on, Date()),
                literal("agency"),
                Placement.agency_id,
                null(),
                note,
                by,
            ).where(*ending),
        )
    )
    session.execute(
        insert(CaseStatusChange).from_select(
            columns,
            select(
                Placement.case_id,
                literal(on, Date()),
                literal("stage"),
                stage,
                Placement.stage_before,
                note,
                by,
            )
            .join(CollectionCase, CollectionCase.id == Placement.case_id)
            .where(*ending, stage == "agency"),
        )
    )
    session.execute(  # UPDATE … FROM: a join, on both engines (SQLite ≥ 3.33)
        update(CollectionCase)
        .where(CollectionCase.id == Placement.case_id, *ending)
        .values(
            agency_id=None,
            stage=case((stage == "agency", Placement.stage_before), else_=stage),
        )
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Placement)
        .where(*ending)
        .values(
            status="recalled",
            ended_on=_ended_on(session, reason, on),
            recall_reason=reason,
            recalled_by=actor.user_id,
        )
        .execution_options(synchronize_session=False)
    )
    session.expire_all()
    return ids


def _ended_on(session: Session, reason: str, on: date) -> Any:
    """On expiry the due-back date; for a closed case the day after it closed."""
    if reason == "expired":
        return Placement.due_back_on
    if reason != "case-closed":
        return literal(on, Date())
    closed = (
        select(CollectionCase.closed_on)
        .where(CollectionCase.id == Placement.case_id)
        .scalar_subquery()
    )
    if session.get_bind().dialect.name == "sqlite":
        next_day: Any = func.date(closed, "+1 day")
    else:
        next_day = closed + literal_column("1")
    return func.coalesce(next_day, literal(on, Date()))


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
    """Daily (collections run): recall placements of cases that have closed, placements
    whose period ended on or before ``business_date``, and placements with an agency
    whose licence or contract has lapsed (no longer admitted). Idempotent."""
    closed = select(CollectionCase.id).where(CollectionCase.status == "closed").correlate(None)
    lapsed = (
        select(Agency.id)
        .where(
            (Agency.licence_expires_on < business_date) | (Agency.contract_until < business_date)
        )
        .correlate(None)
    )
    ended: dict[str, list[int]] = {}
    for key, where, reason in (
        ("closed", Placement.case_id.in_(closed), "case-closed"),
        ("expired", Placement.due_back_on <= business_date, "expired"),
        ("agency_lapsed", Placement.agency_id.in_(lapsed), "agency-status"),
    ):
        ended[key] = end_placements(
            session, where=where, reason=reason, actor=actor, on=business_date
        )
    ids = sorted(i for group in ended.values() for i in group)
    if ids:
        _audit(
            session,
            actor=actor,
            object_id=f"expire:{business_date.isoformat()}",
            ids=ids,
            basis={
                "rule": "agencies_legal.placement.period_days; agency licence and contract",
                "batch": "collections.run",
                **ended,
            },
        )
    return len(ids)


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
