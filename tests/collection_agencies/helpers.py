"""A small book with collection cases for the agency and litigation tests.

Loans come through the real import; their delinquency columns and due installments
are then set directly (end of day is tested elsewhere), and collection cases are
inserted as rows (case opening is another part's job).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from daihou.auth.actor import Actor
from daihou.collection.agencies.registry import AgencyTerms, add_agency
from daihou.collection.models import CollectionCase
from daihou.db.engine import transaction
from daihou.eod.models import SystemState
from daihou.loans.models import Installment, Loan
from tests.factories import add_loans, init_book, loan_row

START = date(2026, 10, 1)
MANAGER = Actor(user_id="mgr", roles=frozenset({"manager"}))
SUPERVISOR = Actor(user_id="sup", roles=frozenset({"supervisor"}), team="t1")


def agency_user(agency_id: str) -> Actor:
    return Actor(user_id=f"u-{agency_id}", roles=frozenset({"agency-user"}), agency_id=agency_id)


def build_book(
    engine: Engine, tmp_path: Path, loans: dict[str, dict[str, Any]], *, on: date = START
) -> None:
    """``loans``: loan id → import overrides (principal, product, …)."""
    init_book(engine, on)
    rows = [
        loan_row(loan_id, disbursed_on="2026-01-15", **overrides)
        for loan_id, overrides in loans.items()
    ]
    add_loans(engine, tmp_path, rows)


def set_business_date(engine: Engine, day: date) -> None:
    with transaction(engine) as session:
        session.execute(update(SystemState).where(SystemState.id == 1).values(business_date=day))


def make_case(
    session: Session,
    loan_id: str,
    *,
    dpd: int,
    bucket: str,
    due_periods: int = 1,
    team: str = "t1",
    **fields: Any,
) -> CollectionCase:
    """An open case on ``loan_id`` with the loan at ``dpd``/``bucket`` and its first
    ``due_periods`` installments due (their amounts are the overdue amount)."""
    loan = session.get(Loan, loan_id)
    assert loan is not None
    loan.dpd, loan.bucket = dpd, bucket
    for period_filter, status in (
        (Installment.period <= due_periods, "due"),
        (Installment.period > due_periods, "pending"),
    ):
        session.execute(
            update(Installment)
            .where(Installment.loan_id == loan_id, period_filter)
            .values(status=status)
        )
    case = CollectionCase(
        loan_id=loan_id,
        customer_id=loan.customer_id,
        opened_on=date(2026, 8, 1),
        stage=fields.pop("stage", "junior"),
        team=team,
        **fields,
    )
    session.add(case)
    session.flush()
    return case


def overdue_of(session: Session, loan_id: str, periods: int = 1) -> Any:
    rows = session.execute(
        select(Installment).where(Installment.loan_id == loan_id, Installment.period <= periods)
    ).scalars()
    return sum(
        (i.principal_due + i.interest_due + i.fee_due + i.penalty_due + i.compound_due)
        for i in rows
    )


def add_test_agency(
    session: Session,
    agency_id: str,
    *,
    max_cases: int = 100,
    rates: dict[str, str] | None = None,
    **overrides: Any,
) -> None:
    terms: dict[str, Any] = {
        "name": f"Agency {agency_id}",
        "licence_no": f"LIC-{agency_id}",
        "licence_expires_on": date(2027, 12, 31),
        "contract_from": date(2026, 1, 1),
        "contract_until": date(2027, 12, 31),
        "max_cases": max_cases,
        "commission_rates": rates,
    }
    terms.update(overrides)
    add_agency(
        session, actor=MANAGER, agency_id=agency_id, terms=AgencyTerms(**terms), reason="admitted"
    )
