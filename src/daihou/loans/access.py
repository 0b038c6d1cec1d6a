"""The loan book as a user sees it: every read authorised and scoped.

``loans.service.loan_view`` reads a loan for anyone (the CLI acts as ``system``); the
web and API come through here, so a collector sees only loans of cases in their scope
(the open collection case carries owner, team, agency and territory), and a list never
shows a loan that a single look-up would refuse. Personal data is masked unless
revealed through ``reveal_field`` (logged); holds are placed within the same scope.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, exists, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import True_

from daihou.auth.actor import Actor
from daihou.auth.permissions import AuthorizationBasis, authorize, is_allowed
from daihou.auth.scopes import ResourceScope
from daihou.collection.case_lists import case_scope_filter
from daihou.collection.models import CollectionCase
from daihou.compliance.audit.service import record as audit_record
from daihou.compliance.gate.holds import active_holds, place_hold, release_hold
from daihou.compliance.gate.models import Hold
from daihou.compliance.privacy.service import CustomerProfile, customer_profile, reveal
from daihou.ledger.models import JournalEntry, JournalLine
from daihou.loans.models import Customer, Loan
from daihou.loans.service import LoanView, loan_view
from daihou.payments.errors import NotFound

MAX_PER_PAGE = 200
_DIGITS = re.compile(r"^\d{11}$|^\d{17}[\dXx]$")


@dataclass(frozen=True, slots=True)
class LoanSummary:
    loan_id: str
    customer_id: str
    product: str
    principal: Decimal
    outstanding_principal: Decimal
    status: str
    dpd: int
    bucket: str
    risk_class: str
    disbursed_on: date


@dataclass(frozen=True, slots=True)
class LoanPage:
    items: list[LoanSummary]
    page: int
    per_page: int
    has_more: bool


@dataclass(frozen=True, slots=True)
class LedgerLine:
    entry_id: int
    kind: str
    entry_date: date
    booked_on: date
    memo: str | None
    account: str
    debit: Decimal
    credit: Decimal


def _case_scope(case: CollectionCase | None) -> ResourceScope:
    if case is None:
        return ResourceScope()
    return ResourceScope(
        owner_user_id=case.owner_user_id,
        team=case.team,
        agency_id=case.agency_id,
        territory=case.territory,
    )


def loan_resource(session: Session, loan_id: str) -> ResourceScope:
    """Who a loan belongs to: its open collection case (none: head office only)."""
    case = session.scalars(
        select(CollectionCase)
        .where(CollectionCase.loan_id == loan_id, CollectionCase.status == "open")
        .order_by(CollectionCase.id.desc())
        .limit(1)
    ).first()
    return _case_scope(case)


def customer_resource(session: Session, customer_id: str) -> ResourceScope:
    case = session.scalars(
        select(CollectionCase)
        .where(CollectionCase.customer_id == customer_id, CollectionCase.status == "open")
        .order_by(CollectionCase.id.desc())
        .limit(1)
    ).first()
    return _case_scope(case)


def _in_scope(actor: Actor, action: str) -> ColumnElement[bool] | None:
    """SQL condition on ``Loan`` for the actor's scope; ``None`` when unrestricted."""
    cond = case_scope_filter(actor, action)
    if isinstance(cond, True_):
        return None
    return exists(
        select(CollectionCase.id).where(
            CollectionCase.loan_id == Loan.id, CollectionCase.status == "open", cond
        )
    )


def authorize_loan(
    session: Session, *, actor: Actor, loan_id: str, action: str
) -> AuthorizationBasis:
    if session.get(Loan, loan_id) is None:
        authorize(actor, action)  # an unauthorised caller learns nothing about existence
        raise NotFound(f"loan {loan_id!r} not found", field="loan_id")
    return authorize(actor, action, resource=loan_resource(session, loan_id))


def view_loan(session: Session, *, actor: Actor, loan_id: str) -> LoanView:
    authorize_loan(session, actor=actor, loan_id=loan_id, action="loan.view")
    return loan_view(session, loan_id)


def case_loan_view(
    session: Session, *, actor: Actor, case: CollectionCase, open_case_id: int | None
) -> LoanView:
    """``view_loan`` of a case's loan for the case page, whose case is already read:
    when that case is the loan's latest open case (``open_case_id``, read with the
    case's loan lines) it is what ``loan_resource`` would read, so ``loan.view`` is
    checked on its scope without reading it again; otherwise as ``view_loan``."""
    if case.status == "open" and open_case_id == case.id:
        authorize(actor, "loan.view", resource=_case_scope(case))
        return loan_view(session, case.loan_id)
    return view_loan(session, actor=actor, loan_id=case.loan_id)


def search_loans(
    session: Session,
    *,
    actor: Actor,
    q: str | None = None,
    status: str | None = None,
    bucket: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> LoanPage:
    """Loans by loan id prefix, customer id, or a customer's phone or ID number (found
    by keyed hash), newest loan id first; only those in the actor's scope."""
    authorize(actor, "loan.view")
    if page < 1:
        raise ValueError("page: must be at least 1")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise ValueError(f"per_page: must be between 1 and {MAX_PER_PAGE}")
    query = select(Loan)
    scoped = _in_scope(actor, "loan.view")
    if scoped is not None:
        query = query.where(scoped)
    term = (q or "").strip()
    if term:
        conditions: list[ColumnElement[bool]] = [
            Loan.id.startswith(term, autoescape=True),
            Loan.customer_id == term,
        ]
        if _DIGITS.match(term):
            from daihou.compliance.privacy.service import find_customers

            field = {"phone": term} if len(term) == 11 else {"id_number": term.upper()}
            found = find_customers(session, **field)
            if found:
                conditions.append(Loan.customer_id.in_(found))
        query = query.where(or_(*conditions))
    if status:
        query = query.where(Loan.status == status)
    if bucket:
        query = query.where(Loan.bucket == bucket)
    rows = list(
        session.scalars(
            query.order_by(Loan.id.desc()).offset((page - 1) * per_page).limit(per_page + 1)
        )
    )
    items = [
        LoanSummary(
            loan_id=r.id,
            customer_id=r.customer_id,
            product=r.product,
            principal=r.principal,
            outstanding_principal=r.outstanding_principal,
            status=r.status,
            dpd=r.dpd,
            bucket=r.bucket,
            risk_class=r.risk_class,
            disbursed_on=r.disbursed_on,
        )
        for r in rows[:per_page]
    ]
    return LoanPage(items, page, per_page, len(rows) > per_page)


def loan_ledger(
    session: Session, *, actor: Actor, loan_id: str, limit: int = 500
) -> list[LedgerLine]:
    """The loan's journal lines, oldest first (needs ``ledger.view`` too)."""
    authorize_loan(session, actor=actor, loan_id=loan_id, action="loan.view")
    authorize(actor, "ledger.view")
    rows = session.execute(
        select(JournalEntry, JournalLine)
        .join(JournalLine, JournalLine.entry_id == JournalEntry.id)
        .where(JournalEntry.loan_id == loan_id)
        .order_by(JournalEntry.id, JournalLine.id)
        .limit(limit)
    ).all()
    return [
        LedgerLine(
            entry_id=e.id,
            kind=e.kind,
            entry_date=e.entry_date,
            booked_on=e.booked_on,
            memo=e.memo,
            account=line.account,
            debit=line.debit,
            credit=line.credit,
        )
        for e, line in rows
    ]


def _customer_resource_checked(
    session: Session, *, actor: Actor, customer_id: str, action: str
) -> AuthorizationBasis:
    """A customer is in scope when one of their open cases is (a collector working one
    of a customer's loans sees that customer), not only their latest case."""
    if session.get(Customer, customer_id) is None:
        authorize(actor, action)
        raise LookupError(f"customer_id: no customer {customer_id!r}")
    cases = session.scalars(
        select(CollectionCase)
        .where(CollectionCase.customer_id == customer_id, CollectionCase.status == "open")
        .order_by(CollectionCase.id.desc())
    ).all()
    for case in cases[1:]:
        if is_allowed(actor, action, resource=_case_scope(case)):
            return authorize(actor, action, resource=_case_scope(case))
    return authorize(actor, action, resource=_case_scope(cases[0] if cases else None))


def masked_customer(session: Session, *, actor: Actor, customer_id: str) -> CustomerProfile:
    """The customer's personal data, masked (what every page shows by default)."""
    _customer_resource_checked(session, actor=actor, customer_id=customer_id, action="loan.view")
    return customer_profile(session, customer_id, actor=actor)


def case_customer(
    session: Session, *, actor: Actor, case: CollectionCase
) -> tuple[CustomerProfile, list[Hold]]:
    """``masked_customer`` and ``customer_holds`` of a case's customer for the case page,
    whose case is already read: an open case the actor may ``loan.view`` is one of the
    customer's open cases, which is what ``_customer_resource_checked`` looks for, so
    the customer's cases are read only when it is not (closed, or out of scope)."""
    scope = _case_scope(case)
    if case.status == "open" and is_allowed(actor, "loan.view", resource=scope):
        authorize(actor, "loan.view", resource=scope)
    else:
        _customer_resource_checked(
            session, actor=actor, customer_id=case.customer_id, action="loan.view"
        )
    profile = customer_profile(session, case.customer_id, actor=actor)
    return profile, active_holds(session, case.customer_id)


def reveal_field(
    session: Session, *, actor: Actor, customer_id: str, field: str, reason: str
) -> str:
    """One personal field in full, for a role with the right on a customer in scope;
    the privacy service logs who saw what, when and why."""
    _customer_resource_checked(
        session, actor=actor, customer_id=customer_id, action="customer.reveal"
    )
    return reveal(session, actor=actor, customer_id=customer_id, field=field, reason=reason)


def customer_holds(session: Session, *, actor: Actor, customer_id: str) -> list[Hold]:
    _customer_resource_checked(session, actor=actor, customer_id=customer_id, action="loan.view")
    return active_holds(session, customer_id)


def place_customer_hold(
    session: Session,
    *,
    actor: Actor,
    customer_id: str,
    kind: str,
    reason: str,
    loan_id: str | None = None,
    at: datetime | None = None,
) -> Hold:
    """Stop collection (停催) on a customer in the actor's scope."""
    basis = _customer_resource_checked(
        session, actor=actor, customer_id=customer_id, action="hold.place"
    )
    if loan_id is not None:
        loan = session.get(Loan, loan_id)
        if loan is None or loan.customer_id != customer_id:
            raise ValueError(f"loan_id: {loan_id!r} is not a loan of customer {customer_id!r}")
    hold = place_hold(
        session,
        customer_id=customer_id,
        loan_id=loan_id,
        kind=kind,
        reason=reason,
        actor=actor,
        at=at,
    )
    audit_record(
        session,
        actor=actor,
        action="hold.authorised",
        object_type="hold",
        object_id=str(hold.id),
        basis=basis.as_dict(),
    )
    return hold


def release_customer_hold(
    session: Session, *, actor: Actor, hold_id: int, reason: str, at: datetime | None = None
) -> Hold:
    hold = session.get(Hold, hold_id)
    if hold is None:
        authorize(actor, "hold.release")
        raise LookupError(f"hold_id: no hold {hold_id}")
    basis = _customer_resource_checked(
        session, actor=actor, customer_id=hold.customer_id, action="hold.release"
    )
    released = release_hold(session, hold_id=hold_id, reason=reason, actor=actor, at=at)
    audit_record(
        session,
        actor=actor,
        action="hold.authorised",
        object_type="hold",
        object_id=str(hold_id),
        basis=basis.as_dict(),
    )
    return released
