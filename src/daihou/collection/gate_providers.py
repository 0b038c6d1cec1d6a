"""What the contact gate asks the collections case: open promises and lost contact.

All read the case columns kept by the promise and lost-contact services
(``promise_until``, ``lost_contact_since``), so the gate sees a promise the moment it
is recorded and lost contact the day it is declared. ``case_dates`` answers both for
a whole batch of subjects in one query; the gate asks it in its single check and its
batched one alike. Call
``register_case_providers()`` once at start-up (the CLI does; a web app must too).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Row, bindparam, func, select
from sqlalchemy.orm import Session

from daihou.collection.models import CollectionCase
from daihou.compliance.gate.service import (
    CaseDates,
    Providers,
    current_providers,
    register_providers,
)


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


_CASES = (
    select(
        CollectionCase.customer_id,
        CollectionCase.loan_id,
        CollectionCase.promise_until,
        CollectionCase.contact_status,
        CollectionCase.lost_contact_since,
    )
    .where(
        CollectionCase.customer_id.in_(bindparam("customers", expanding=True)),
        CollectionCase.status == "open",
    )
    .order_by(CollectionCase.id)
)  # built once: the gate asks it for every batch
_CHUNK = 500


def case_dates(
    session: Session, *, subjects: Sequence[tuple[str, str | None]], on: date
) -> dict[tuple[str, str | None], CaseDates]:
    """``open_promise_until`` and ``lost_contact_since`` for many (customer, loan)
    subjects, from one read of the customers' open cases (per 500 customers)."""
    customers = sorted({customer for customer, _ in subjects})
    cases: dict[str, list[Row[Any]]] = {}
    for start in range(0, len(customers), _CHUNK):
        chunk = customers[start : start + _CHUNK]
        for row in session.execute(_CASES, {"customers": chunk}):
            cases.setdefault(row.customer_id, []).append(row)
    out: dict[tuple[str, str | None], CaseDates] = {}
    for customer, loan in subjects:
        mine = [r for r in cases.get(customer, ()) if loan is None or r.loan_id == loan]
        promises = [r.promise_until for r in mine if r.promise_until and r.promise_until >= on]
        lost = [
            r.lost_contact_since
            for r in mine
            if r.contact_status == "lost" and r.lost_contact_since and r.lost_contact_since <= on
        ]
        if promises or lost:
            out[(customer, loan)] = (max(promises, default=None), min(lost, default=None))
    return out


def case_providers(base: Providers | None = None) -> Providers:
    """The gate's providers with these two plugged in; ``address_key`` is kept from
    ``base`` (the registered providers by default)."""
    base = base or current_providers()
    return Providers(
        open_promise_until=open_promise_until,
        lost_contact_since=lost_contact_since,
        case_dates=case_dates,
        address_key=base.address_key,
    )


def register_case_providers() -> Providers:
    """Register the case providers with the gate; returns the previous providers."""
    return register_providers(case_providers())
