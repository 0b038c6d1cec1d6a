"""Everything the case page (and ``GET /api/v1/cases/{id}``) shows about one case, read
through the services that authorise each part: the case and the customer's other
loans (共债), the loan's schedule and payments, the customer masked, the contact
numbers found by contact repair (masked), the contact history, promises, visits and the
holds in force. A task of the day on the case is checked against it before feedback.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from daihou.auth.actor import Actor
from daihou.collection.cases import CaseView, case_view_of
from daihou.collection.casework import authorise_case
from daihou.collection.contact_models import ContactLog, FieldVisit, PromiseToPay
from daihou.collection.contacts import LoggedContact, contact_history_of_case, log_contact
from daihou.collection.promises import list_promises
from daihou.collection.repair import repairs_of_case
from daihou.collection.tables import CollectionTask
from daihou.collection.tasks import mark_task_feedback
from daihou.collection.visits import visits_of_case
from daihou.compliance.gate.models import Hold
from daihou.compliance.privacy.masking import mask_address, mask_phone
from daihou.compliance.privacy.service import CustomerProfile
from daihou.loans import access
from daihou.loans.service import LoanView


@dataclass(frozen=True, slots=True)
class ContactPointLine:
    id: int
    kind: str
    party: str
    masked: str | None
    source: str
    verified: bool


@dataclass(frozen=True, slots=True)
class CaseFile:
    view: CaseView
    loan: LoanView
    customer: CustomerProfile
    contact_points: list[ContactPointLine]
    contacts: list[ContactLog]
    promises: list[PromiseToPay]
    visits: list[FieldVisit]
    holds: list[Hold]


def case_file(session: Session, *, actor: Actor, case_id: int) -> CaseFile:
    """The case read and ``case.view`` authorised once; each part then reads its rows
    for that authorised case (the loan and the customer still check ``loan.view``)."""
    authorised = authorise_case(session, actor=actor, case_id=case_id)
    view = case_view_of(session, authorised, actor=actor)
    case = view.case
    points = [
        ContactPointLine(
            p.id,
            p.kind,
            p.party,
            mask_phone(p.phone) if p.phone else mask_address(p.detail),
            p.source,
            p.verified,
        )
        for p in repairs_of_case(session, authorised)
    ]
    loan = access.case_loan_view(
        session, actor=actor, case=case, open_case_id=view.loan.open_case_id
    )
    customer, holds = access.case_customer(session, actor=actor, case=case)
    return CaseFile(
        view=view,
        loan=loan,
        customer=customer,
        contact_points=points,
        contacts=contact_history_of_case(session, authorised, limit=200),
        promises=list_promises(session, actor=actor, case_id=case_id, limit=50),
        visits=visits_of_case(session, authorised),
        holds=holds,
    )


def task_of_case(session: Session, *, task_id: int, case_id: int) -> CollectionTask:
    """The task ``task_id``, which must be work on case ``case_id``."""
    task = session.get(CollectionTask, task_id)
    if task is None or task.case_id != case_id:
        raise ValueError(f"task_id: task {task_id} is not a task of case {case_id}")
    return task


FUTURE_SLACK = timedelta(minutes=5)
LATE_LOGGING = timedelta(days=30)  # a contact is logged when it happens, not months later


def contact_time(at: datetime | None, now: datetime) -> datetime:
    """When a contact or visit happened: ``at`` (not in the future, at most 30 days
    ago), default ``now``."""
    if at is None:
        return now
    if at.tzinfo is None:
        raise ValueError("at: give the time with its UTC offset")
    try:
        late, early = at > now + FUTURE_SLACK, at < now - LATE_LOGGING
    except OverflowError:  # year 1 or 9999 with an offset
        late, early = at.year > now.year, at.year < now.year
    if late:
        raise ValueError(f"at: {at.isoformat()} is in the future; log what has happened")
    if early:
        raise ValueError(f"at: {at.isoformat()} is more than {LATE_LOGGING.days} days ago")
    return at


def log_case_contact(
    session: Session,
    *,
    actor: Actor,
    case_id: int,
    now: datetime,
    at: datetime | None = None,
    task_id: int | None = None,
    **fields: Any,
) -> LoggedContact:
    """``log_contact`` for the workbench: the time checked, the task (when given) checked
    to be work on this case and marked done once the contact is logged."""
    moment = contact_time(at, now)
    if task_id is not None:
        task_of_case(session, task_id=task_id, case_id=case_id)
    logged = log_contact(
        session, actor=actor, case_id=case_id, at=moment, task_id=task_id, **fields
    )
    if task_id is not None:
        mark_task_feedback(session, task_id, now, actor=actor)
    return logged
