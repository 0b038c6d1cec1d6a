"""A small book for the contact, promise and visit tests: real loans through the import
path, collection cases inserted directly (the case-opening code is another module's)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from daihou.auth.actor import Actor
from daihou.collection.models import CollectionCase
from daihou.db.engine import transaction
from daihou.eod.models import SystemState
from daihou.payments.service import post_payment
from tests.factories import add_loans, init_book, loan_row

TZ = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 3, 2)
OPENED = date(2025, 12, 16)
LI = Actor(user_id="li", roles=frozenset({"collector-junior"}), team="A")
WANG = Actor(user_id="wang", roles=frozenset({"collector-junior"}), team="B")
SUPERVISOR = Actor(user_id="sv", roles=frozenset({"supervisor"}), team="A")


def at(text: str) -> datetime:
    """A local Shanghai time."""
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


def make_book(
    engine: Engine, tmp_path: Path, loans: dict[str, dict[str, Any]] | None = None
) -> dict[str, int]:
    """Loans disbursed 2025-11-15 (due on the 15th from December), so on 2026-03-02
    three installments are overdue; one open case per loan, owned by ``li`` (team A).
    Returns case ids by loan id."""
    loans = loans or {"L1": {}}
    init_book(engine, TODAY)
    rows = [
        loan_row(loan_id, disbursed_on="2025-11-15", **({"phone": "13800138000"} | kw))
        for loan_id, kw in loans.items()
    ]
    add_loans(engine, tmp_path, rows)
    ids = {}
    with transaction(engine) as s:
        for loan_id in loans:
            case = CollectionCase(
                loan_id=loan_id,
                customer_id=f"C-{loan_id}",
                opened_on=OPENED,
                owner_user_id="li",
                team="A",
            )
            s.add(case)
            s.flush()
            ids[loan_id] = case.id
    return ids


def set_today(engine: Engine, day: date) -> None:
    with transaction(engine) as s:
        s.execute(update(SystemState).values(business_date=day))


def pay(engine: Engine, loan_id: str, amount: str, on: date, ref: str) -> None:
    with transaction(engine) as s:
        post_payment(
            session=s,
            loan_id=loan_id,
            amount=amount,
            value_date=on,
            channel="counter",
            reference=ref,
        )


def case_of(session: Session, case_id: int) -> CollectionCase:
    case = session.get(CollectionCase, case_id)
    assert case is not None
    return case
