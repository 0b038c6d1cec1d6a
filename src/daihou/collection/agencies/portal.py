"""What an agency user (agency-user role) may do: list, view and work the cases
placed with their agency — nothing else, and never personal data in full.

Every function checks the permission matrix with the case's data scope, so a case not
placed with the user's agency (never placed, placed elsewhere, or recalled) is refused
with ``PermissionDenied``; the list uses the same rule as a SQL filter. Customer data is
the masked agency view (``privacy.service.agency_view``) whatever the user's roles.
Notes pass the prohibited-language check (a failing note is kept and flagged for the
supervisor, and counts against the agency's compliance rate).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from daihou.auth.actor import Actor
from daihou.auth.permissions import PermissionDenied, authorize
from daihou.collection.agencies.models import AgencyNote, Placement
from daihou.collection.agencies.recall import case_scope
from daihou.collection.case_lists import case_scope_filter
from daihou.collection.models import CollectionCase
from daihou.collection.overdue_amounts import overdue_amounts
from daihou.compliance.audit.service import record
from daihou.compliance.language.service import review_note
from daihou.compliance.privacy.service import CustomerProfile, agency_view
from daihou.eod.calendar import business_date
from daihou.loans.models import Loan

NOTE_KINDS = ("note", "call", "visit", "letter", "repair")


@dataclass(frozen=True, slots=True)
class PlacedCase:
    case_id: int
    loan_id: str
    placement_id: int
    placed_on: date
    due_back_on: date
    dpd: int
    bucket: str
    overdue_amount: Decimal
    customer: CustomerProfile  # masked


def _agency_only(actor: Actor, action: str) -> None:
    if actor.agency_id is None:
        raise PermissionDenied(
            f"{actor.user_id} belongs to no agency", action=action, roles=actor.roles
        )


def _placed_case(session: Session, actor: Actor, case_id: int, action: str) -> CollectionCase:
    _agency_only(actor, action)
    case = session.get(CollectionCase, case_id)
    if case is None:
        raise LookupError(f"no collection case {case_id}")
    authorize(actor, action, resource=case_scope(case))
    if case.agency_id != actor.agency_id:  # a wider role must not open the agency door
        raise PermissionDenied(
            f"case {case_id} is not placed with agency {actor.agency_id}",
            action=action,
            roles=actor.roles,
        )
    return case


def _views(
    session: Session, actor: Actor, rows: list[tuple[CollectionCase, Placement, Loan]]
) -> list[PlacedCase]:
    overdue = overdue_amounts(session, [loan.id for _, _, loan in rows])
    profiles = agency_view(
        session,
        customer_ids=[case.customer_id for case, _, _ in rows],
        actor=actor,
    )
    return [
        PlacedCase(
            case_id=case.id,
            loan_id=case.loan_id,
            placement_id=placement.id,
            placed_on=placement.placed_on,
            due_back_on=placement.due_back_on,
            dpd=loan.dpd,
            bucket=loan.bucket,
            overdue_amount=overdue[loan.id],
            customer=profile,
        )
        for (case, placement, loan), profile in zip(rows, profiles, strict=True)
    ]


def my_cases(session: Session, *, actor: Actor) -> list[PlacedCase]:
    """The cases currently placed with the actor's agency, masked."""
    _agency_only(actor, "case.view")
    authorize(actor, "case.view")
    query = (
        select(CollectionCase, Placement, Loan)
        .join(Placement, (Placement.case_id == CollectionCase.id) & (Placement.status == "active"))
        .join(Loan, Loan.id == CollectionCase.loan_id)
        .where(
            CollectionCase.agency_id == actor.agency_id,
            Placement.agency_id == actor.agency_id,
            case_scope_filter(actor, "case.view"),
        )
        .order_by(CollectionCase.id)
    )
    rows = [(c, p, loan) for c, p, loan in session.execute(query).all()]
    return _views(session, actor, rows)


def view_case(session: Session, *, actor: Actor, case_id: int) -> PlacedCase:
    """One case placed with the actor's agency, masked."""
    case = _placed_case(session, actor, case_id, "case.view")
    placement = session.execute(
        select(Placement).where(Placement.case_id == case.id, Placement.status == "active")
    ).scalar_one()
    loan = session.get(Loan, case.loan_id)
    assert loan is not None
    return _views(session, actor, [(case, placement, loan)])[0]


def log_note(session: Session, *, actor: Actor, case_id: int, kind: str, note: str) -> AgencyNote:
    """Record an action or note on a placed case (checked for prohibited language)."""
    if kind not in NOTE_KINDS:
        raise ValueError(f"kind: {kind!r} is not one of {list(NOTE_KINDS)}")
    if not note.strip():
        raise ValueError("note: required")
    case = _placed_case(session, actor, case_id, "contact.log")
    basis = authorize(actor, "contact.log", resource=case_scope(case))
    placement = session.execute(
        select(Placement).where(Placement.case_id == case.id, Placement.status == "active")
    ).scalar_one()
    row = AgencyNote(
        placement_id=placement.id,
        case_id=case.id,
        agency_id=placement.agency_id,
        user_id=actor.user_id,
        kind=kind,
        note=note.strip(),
        business_date=business_date(session),
    )
    session.add(row)
    session.flush()
    result = review_note(
        session,
        text=row.note,
        author_id=actor.user_id,
        agency_id=placement.agency_id,
        object_type="agency-note",
        object_id=str(row.id),
    )
    row.language_passed = result.passed
    session.flush()
    record(
        session,
        actor=actor,
        action="agency.note",
        object_type="agency-note",
        object_id=str(row.id),
        after={"case_id": case.id, "kind": kind, "passed": result.passed},
        basis=basis.as_dict(),
    )
    return row


def case_notes(session: Session, *, actor: Actor, case_id: int) -> list[AgencyNote]:
    """The notes the actor's agency logged on a case placed with it (newest first);
    notes of other agencies that held the case earlier are not shown."""
    case = _placed_case(session, actor, case_id, "case.view")
    return list(
        session.scalars(
            select(AgencyNote)
            .where(AgencyNote.case_id == case.id, AgencyNote.agency_id == actor.agency_id)
            .order_by(AgencyNote.id.desc())
        )
    )
