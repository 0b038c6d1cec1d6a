"""Complaint lifecycle: intake, response, investigation, resolution, extension, close,
reopen (overdue alerts and the monthly analysis are in ``sla``).

States: received → responded → investigating → resolved (result fed back) → closed;
a resolved or closed complaint can be reopened (back to investigating). Every step
is authorised (``complaint.create`` / ``complaint.handle``), kept as a
``ComplaintEvent`` with its authorisation basis, and appended to the audit trail.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from daihou.auth.actor import Actor
from daihou.auth.models import User
from daihou.auth.permissions import AuthorizationBasis, authorize
from daihou.compliance.audit.service import record as audit_record
from daihou.compliance.complaints.models import Complaint, ComplaintEvent
from daihou.compliance.complaints.sla import (
    CATEGORIES,
    CHANNELS,
    DEFAULT_SETTINGS,
    PRIORITIES,
    Category,
    Channel,
    ComplaintSettings,
    Priority,
    deadlines,
    priority_for,
    regulatory_due_at,
)
from daihou.compliance.gate.holds import place_hold, release_hold
from daihou.loans.models import Customer, Loan

OPEN_STATES = ("received", "responded", "investigating")
STATES = (*OPEN_STATES, "resolved", "closed")

# action -> (states it may start from, state it leads to; None keeps the state)
TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "respond": (frozenset({"received"}), "responded"),
    "investigate": (frozenset({"responded", "investigating"}), "investigating"),
    "resolve": (frozenset({"investigating"}), "resolved"),
    "close": (frozenset({"resolved"}), "closed"),
    "reopen": (frozenset({"resolved", "closed"}), "investigating"),
    "extend": (frozenset(OPEN_STATES), None),
}


class ComplaintError(ValueError):
    """Bad complaint data; the message lists every problem."""


class IllegalTransition(ComplaintError):
    """The action is not allowed in the complaint's current state."""


class UnknownComplaint(LookupError):
    """No complaint with that id."""


def _require_aware(value: datetime, name: str, problems: list[str]) -> None:
    if value.tzinfo is None:
        problems.append(f"{name} must include a time zone (e.g. 2026-03-02T10:00+08:00)")


def _check(problems: list[str], what: str) -> None:
    if problems:
        raise ComplaintError(f"{what}: " + "; ".join(problems))


def _snapshot(complaint: Complaint) -> dict[str, Any]:
    """What the audit digest covers."""
    return {
        column.key: getattr(complaint, column.key)
        for column in Complaint.__table__.columns
        if column.key != "created_at"
    }


def _record(
    session: Session,
    complaint: Complaint,
    *,
    actor: Actor,
    action: str,
    basis: AuthorizationBasis,
    at: datetime,
    before: dict[str, Any] | None,
    note: str | None = None,
) -> None:
    """Keep the step in the complaint's history and in the audit trail."""
    session.add(
        ComplaintEvent(
            complaint=complaint,
            action=action,
            from_state=before["state"] if before else None,
            to_state=complaint.state,
            at=at,
            actor_id=basis.user_id,
            role=basis.role,
            rule_id=basis.rule_id,
            note=note,
        )
    )
    session.flush()
    audit_record(
        session,
        actor=actor,
        action=f"complaint.{action}",
        object_type="complaint",
        object_id=str(complaint.id),
        before=before,
        after=_snapshot(complaint),
        basis=basis.as_dict(),
    )


def place_complaint_hold(
    session: Session,
    *,
    complaint: Complaint,
    actor: Actor,
    settings: ComplaintSettings = DEFAULT_SETTINGS,
) -> int | None:
    """Stop collection (停催) on the complaint's customer (or only its loan, by
    setting) with a ``complaint`` hold of the contact gate; returns the hold id."""
    if complaint.customer_id is None:
        return None
    hold = place_hold(
        session,
        customer_id=complaint.customer_id,
        loan_id=complaint.loan_id if settings.hold_scope == "loan" else None,
        kind="complaint",
        reason=f"complaint {complaint.id} ({complaint.category}) open",
        actor=actor,
    )
    return int(hold.id)


def release_complaint_hold(session: Session, *, complaint: Complaint, actor: Actor) -> None:
    """Release the hold placed by ``place_complaint_hold``."""
    if complaint.hold_id is not None:
        release_hold(
            session,
            hold_id=complaint.hold_id,
            reason=f"complaint {complaint.id} closed",
            actor=actor,
        )


def get_complaint(session: Session, complaint_id: int, *, lock: bool = False) -> Complaint:
    complaint = session.get(Complaint, complaint_id, with_for_update=lock or None)
    if complaint is None:
        raise UnknownComplaint(f"no complaint {complaint_id}")
    return complaint


def create_complaint(
    session: Session,
    *,
    actor: Actor,
    channel: Channel,
    category: Category,
    description: str,
    received_at: datetime,
    priority: Priority | None = None,
    customer_id: str | None = None,
    loan_id: str | None = None,
    collector_user_id: str | None = None,
    agency_id: str | None = None,
    regulator_ref: str | None = None,
    settings: ComplaintSettings = DEFAULT_SETTINGS,
) -> Complaint:
    """Take a complaint (投诉受理) and start its SLA timers.

    A complaint about a loan is linked to the loan's customer. In a category listed in
    ``settings.hold_categories`` it stops collection on the customer (hold).
    """
    basis = authorize(actor, "complaint.create")
    problems: list[str] = []
    if channel not in CHANNELS:
        problems.append(f"channel {channel!r} is not one of {list(CHANNELS)}")
    if category not in CATEGORIES:
        problems.append(f"category {category!r} is not one of {list(CATEGORIES)}")
    if priority is not None and priority not in PRIORITIES:
        problems.append(f"priority {priority!r} is not one of {list(PRIORITIES)}")
    if not description.strip():
        problems.append("description is empty")
    _require_aware(received_at, "received_at", problems)
    if loan_id is not None:
        loan = session.get(Loan, loan_id)
        if loan is None:
            problems.append(f"no loan {loan_id!r}")
        elif customer_id is None:
            customer_id = loan.customer_id
        elif loan.customer_id != customer_id:
            problems.append(f"loan {loan_id!r} belongs to customer {loan.customer_id!r}")
    if customer_id is not None and session.get(Customer, customer_id) is None:
        problems.append(f"no customer {customer_id!r}")
    if collector_user_id is not None and session.get(User, collector_user_id) is None:
        problems.append(f"no user {collector_user_id!r}")
    _check(problems, "complaint refused")

    due = deadlines(received_at, settings)
    complaint = Complaint(
        channel=channel,
        category=category,
        priority=priority_for(channel, priority, settings),
        state="received",
        customer_id=customer_id,
        loan_id=loan_id,
        collector_user_id=collector_user_id,
        agency_id=agency_id,
        regulator_ref=regulator_ref,
        description=description.strip(),
        received_at=received_at,
        response_due_at=due.response_due_at,
        investigation_due_at=due.investigation_due_at,
        regulatory_due_at=due.regulatory_due_at,
        extensions=0,
        reopened=0,
        created_by=actor.user_id,
    )
    session.add(complaint)
    session.flush()
    if customer_id is not None and category in settings.hold_categories:
        complaint.hold_id = place_complaint_hold(
            session, complaint=complaint, actor=actor, settings=settings
        )
    _record(
        session, complaint, action="create", actor=actor, basis=basis, at=received_at, before=None
    )
    return complaint


def _step(
    session: Session,
    *,
    actor: Actor,
    complaint_id: int,
    action: str,
    at: datetime,
    problems: list[str],
) -> tuple[Complaint, AuthorizationBasis, dict[str, Any]]:
    """Authorise, lock the complaint, check the transition; returns the state before."""
    basis = authorize(actor, "complaint.handle")
    _require_aware(at, "the time", problems)
    complaint = get_complaint(session, complaint_id, lock=True)
    allowed, _ = TRANSITIONS[action]
    if complaint.state not in allowed:
        raise IllegalTransition(
            f"complaint {complaint_id} is {complaint.state}; cannot {action} it "
            f"(only when {' or '.join(sorted(allowed))})"
        )
    if not problems and at < complaint.received_at:
        problems.append(f"{at.isoformat()} is before the complaint was received")
    _check(problems, f"cannot {action} complaint {complaint_id}")
    return complaint, basis, _snapshot(complaint)


def _advance(complaint: Complaint, action: str) -> None:
    target = TRANSITIONS[action][1]
    if target is not None:
        complaint.state = target


def _text(value: str, what: str, problems: list[str]) -> str:
    text = value.strip()
    if not text:
        problems.append(f"{what} is empty")
    return text


def respond(
    session: Session, *, actor: Actor, complaint_id: int, note: str, at: datetime
) -> Complaint:
    """First response to the complainant (stops the 24-hour timer)."""
    problems: list[str] = []
    text = _text(note, "the response note", problems)
    complaint, basis, before = _step(
        session, actor=actor, complaint_id=complaint_id, action="respond", at=at, problems=problems
    )
    complaint.responded_at = at
    complaint.response_note = text
    _advance(complaint, "respond")
    _record(
        session,
        complaint,
        action="respond",
        actor=actor,
        basis=basis,
        at=at,
        before=before,
        note=text,
    )
    return complaint


def record_investigation(
    session: Session,
    *,
    actor: Actor,
    complaint_id: int,
    findings: str,
    at: datetime,
    complete: bool = True,
) -> Complaint:
    """Record investigation findings (appended); ``complete`` stops the working-day
    timer, ``complete=False`` records progress only."""
    problems: list[str] = []
    text = _text(findings, "the findings", problems)
    complaint, basis, before = _step(
        session,
        actor=actor,
        complaint_id=complaint_id,
        action="investigate",
        at=at,
        problems=problems,
    )
    complaint.findings = f"{complaint.findings}\n{text}" if complaint.findings else text
    if complete and complaint.investigation_completed_at is None:
        complaint.investigation_completed_at = at
    _advance(complaint, "investigate")
    _record(
        session,
        complaint,
        action="investigate",
        actor=actor,
        basis=basis,
        at=at,
        before=before,
        note=text,
    )
    return complaint


def resolve(
    session: Session,
    *,
    actor: Actor,
    complaint_id: int,
    result: str,
    fed_back_at: datetime,
    upheld: bool | None = None,
) -> Complaint:
    """Record the result and when it was fed back to the complainant (stops the
    regulatory timer); completes the investigation if that was not yet recorded.
    ``upheld``: the complaint was justified (有责), for agency and collector KPIs."""
    problems: list[str] = []
    text = _text(result, "the result", problems)
    complaint, basis, before = _step(
        session,
        actor=actor,
        complaint_id=complaint_id,
        action="resolve",
        at=fed_back_at,
        problems=problems,
    )
    complaint.result = text
    complaint.upheld = upheld
    complaint.fed_back_at = fed_back_at
    complaint.resolved_at = fed_back_at
    if complaint.investigation_completed_at is None:
        complaint.investigation_completed_at = fed_back_at
    _advance(complaint, "resolve")
    _record(
        session,
        complaint,
        action="resolve",
        actor=actor,
        basis=basis,
        at=fed_back_at,
        before=before,
        note=text,
    )
    return complaint


def extend(
    session: Session,
    *,
    actor: Actor,
    complaint_id: int,
    reason: str,
    at: datetime,
    settings: ComplaintSettings = DEFAULT_SETTINGS,
) -> Complaint:
    """Extend the regulatory deadline by ``settings.extension_days`` (a reason is
    required and kept)."""
    problems: list[str] = []
    text = _text(reason, "the reason for the extension", problems)
    complaint, basis, before = _step(
        session, actor=actor, complaint_id=complaint_id, action="extend", at=at, problems=problems
    )
    if complaint.extensions >= settings.max_extensions:
        raise ComplaintError(
            f"complaint {complaint_id} was already extended {complaint.extensions} time(s); "
            f"at most {settings.max_extensions} allowed"
        )
    complaint.extensions += 1
    complaint.regulatory_due_at = regulatory_due_at(
        complaint.received_at, complaint.extensions, settings
    )
    note = f"{text} (result now due by {complaint.regulatory_due_at.isoformat()})"
    _record(
        session,
        complaint,
        action="extend",
        actor=actor,
        basis=basis,
        at=at,
        before=before,
        note=note,
    )
    return complaint


def close(
    session: Session,
    *,
    actor: Actor,
    complaint_id: int,
    at: datetime,
    note: str | None = None,
    settings: ComplaintSettings = DEFAULT_SETTINGS,
) -> Complaint:
    """Close a resolved complaint; releases its hold on the case (setting)."""
    complaint, basis, before = _step(
        session, actor=actor, complaint_id=complaint_id, action="close", at=at, problems=[]
    )
    complaint.closed_at = at
    _advance(complaint, "close")
    if complaint.hold_id is not None and settings.release_hold_on_close:
        release_complaint_hold(session, complaint=complaint, actor=actor)
        complaint.hold_id = None
    _record(
        session,
        complaint,
        action="close",
        actor=actor,
        basis=basis,
        at=at,
        before=before,
        note=note,
    )
    return complaint


def reopen(
    session: Session,
    *,
    actor: Actor,
    complaint_id: int,
    reason: str,
    at: datetime,
    settings: ComplaintSettings = DEFAULT_SETTINGS,
) -> Complaint:
    """Reopen (e.g. the complainant disputes the result): back to investigating. The
    result timer runs again against the same regulatory deadline (extend it if
    allowed); a released hold is placed again."""
    problems: list[str] = []
    text = _text(reason, "the reason for reopening", problems)
    complaint, basis, before = _step(
        session, actor=actor, complaint_id=complaint_id, action="reopen", at=at, problems=problems
    )
    complaint.result = None
    complaint.upheld = None
    complaint.fed_back_at = None
    complaint.resolved_at = None
    complaint.closed_at = None
    complaint.reopened += 1
    _advance(complaint, "reopen")
    if (
        complaint.hold_id is None
        and complaint.customer_id is not None
        and complaint.category in settings.hold_categories
    ):
        complaint.hold_id = place_complaint_hold(
            session, complaint=complaint, actor=actor, settings=settings
        )
    _record(
        session,
        complaint,
        action="reopen",
        actor=actor,
        basis=basis,
        at=at,
        before=before,
        note=text,
    )
    return complaint


def list_complaints(
    session: Session,
    *,
    actor: Actor,
    state: str | None = None,
    open_only: bool = False,
    limit: int | None = None,
) -> list[Complaint]:
    """Complaints, urgent first, then oldest first."""
    authorize(actor, "complaint.view")
    query = select(Complaint)
    if state is not None:
        if state not in STATES:
            raise ComplaintError(f"state {state!r} is not one of {list(STATES)}")
        query = query.where(Complaint.state == state)
    if open_only:
        query = query.where(Complaint.state.in_(OPEN_STATES))
    query = query.order_by(
        case((Complaint.priority == "urgent", 0), else_=1), Complaint.received_at, Complaint.id
    )
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def history(session: Session, *, actor: Actor, complaint_id: int) -> list[ComplaintEvent]:
    authorize(actor, "complaint.view")
    get_complaint(session, complaint_id)
    query = select(ComplaintEvent).where(ComplaintEvent.complaint_id == complaint_id)
    return list(session.scalars(query.order_by(ComplaintEvent.id)))
