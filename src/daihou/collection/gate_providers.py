"""What the contact gate asks the collections case: open promises and lost contact.

Both read the case columns kept by the promise and lost-contact services
(``promise_until``, ``lost_contact_since``), so the gate sees a promise the moment it
is recorded and lost contact the day it is declared. Call
``register_case_providers()`` once at start-up (the CLI does; a web app must too).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from daihou.collection.models import CollectionCase
from daihou.compliance.gate.service import Providers, current_providers, register_providers


def open_promise_until(
    session: Session, *, customer_id: str, loan_id: str | None, on: date
) -> date | None:
    """The last day of the open promise on the loan's case (any of the customer's
    cases when ``loan_id`` is None), if it is ``on`` or later."""
    c = CollectionCase
    query = select(func.max(c.promise_until)).where(
        c.customer_id == customer_id, c.status == "open", c.promise_until >= on
    )
    if loan_id is not None:
        query = query.where(c.loan_id == loan_id)
    found: date | None = session.scalar(query)
    return found


def lost_contact_since(
    session: Session, *, customer_id: str, loan_id: str | None, on: date
) -> date | None:
    """The day the case (any of the customer's cases when ``loan_id`` is None) was
    declared lost contact (失联), if it was declared by ``on``."""
    c = CollectionCase
    query = select(func.min(c.lost_contact_since)).where(
        c.customer_id == customer_id,
        c.status == "open",
        c.contact_status == "lost",
        c.lost_contact_since <= on,
    )
    if loan_id is not None:
        query = query.where(c.loan_id == loan_id)
    found: date | None = session.scalar(query)
    return found


def case_providers(base: Providers | None = None) -> Providers:
    """The gate's providers with these two plugged in; ``address_key`` is kept from
    ``base`` (the registered providers by default)."""
    base = base or current_providers()
    return Providers(
        open_promise_until=open_promise_until,
        lost_contact_since=lost_contact_since,
        address_key=base.address_key,
    )


def register_case_providers() -> Providers:
    """Register the case providers with the gate; returns the previous providers."""
    return register_providers(case_providers())
