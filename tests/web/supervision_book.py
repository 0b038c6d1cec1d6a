"""A book for the supervisor and agency pages: twelve overdue loans (S1–S12) with open
cases, collectors in teams east and west, three agencies, a placement, repayment plans
requested through the service (by a senior collector, and one by the supervisor
himself for maker–checker), a legal file, and a day of collector work for the board.

Cases: S1, S6, S7, S8 owned by ``sen`` (collector-senior, east); S2 by ``sup``
(supervisor, east); S3 by ``col`` (junior, east); S4 by ``col2`` (junior, west); S5 by
``col3`` (junior, east, the leaver of the transfer tests); S12 by ``sup``; S9–S11 by ``col`` (for
reassignment, all-or-none and placement/recall tests). S6 is placed with agency
``agy-1``; S10 has a legal file being prepared; ``agy-3`` is for status changes.
Plans (approval requests): A on S1, B on S7, D on S8 requested by ``sen``; C on S2 and E
on S12 requested by ``sup``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, select

from daihou.auth.actor import SYSTEM, Actor
from daihou.collection.agencies.placement import place_case
from daihou.collection.agencies.registry import AgencyTerms, add_agency
from daihou.collection.assign import register_collector
from daihou.collection.contact_models import ContactLog, PromiseToPay
from daihou.collection.legal.models import LegalFile
from daihou.collection.models import CollectionCase
from daihou.collection.plans import request_plan
from daihou.collection.tables import CollectionTask
from daihou.db.engine import transaction
from daihou.eod.calendar import business_date
from daihou.eod.runner import run_eod
from daihou.payments.service import post_payment
from tests.web.conftest import START, THROUGH, add_users, start_book

LOANS = [f"S{i}" for i in range(1, 13)]

USERS: dict[str, dict[str, object]] = {
    "sup": {"roles": ["supervisor"], "team": "east"},
    "sup2": {"roles": ["supervisor"], "team": "west"},
    "mgr": {"roles": ["manager"]},
    "sen": {"roles": ["collector-senior"], "team": "east"},
    "col": {"roles": ["collector-junior"], "team": "east"},
    "col2": {"roles": ["collector-junior"], "team": "west"},
    "col3": {"roles": ["collector-junior"], "team": "east"},
    "agy": {"roles": ["agency-user"], "agency_id": "agy-1"},
    "agy2": {"roles": ["agency-user"], "agency_id": "agy-2"},
    "ops": {"roles": ["operations"]},
    "adm": {"roles": ["admin"]},
}
OWNERS = {
    "S1": "sen",
    "S2": "sup",
    "S3": "col",
    "S4": "col2",
    "S5": "col3",
    "S6": "sen",
    "S7": "sen",
    "S8": "sen",
    "S9": "col",
    "S10": "col",
    "S11": "col",
    "S12": "sup",
}
TIERS = {"sen": "senior", "col": "junior", "col2": "junior", "col3": "junior"}
PLAN_LOANS = {
    "A": ("S1", "sen"),
    "B": ("S7", "sen"),
    "C": ("S2", "sup"),
    "D": ("S8", "sen"),
    "E": ("S12", "sup"),
}


@dataclass
class Facts:
    """Ids made while building, read back by the tests."""

    cases: dict[str, int]  # loan id → case id
    plans: dict[str, int]  # plan letter → approval request id
    on: date  # the business date (the board's default day)


FACTS: dict[str, Facts] = {}  # engine URL → facts


def actor(user: str) -> Actor:
    extra = USERS[user]
    return Actor(
        user,
        frozenset(extra["roles"]),  # type: ignore[arg-type]
        extra.get("team"),  # type: ignore[arg-type]
        extra.get("agency_id"),  # type: ignore[arg-type]
        display=user,
    )


def build(engine: Engine, tmp: Path) -> dict[str, str]:
    start_book(engine, tmp, LOANS)
    with transaction(engine) as s:
        tokens = add_users(s, USERS)
        for user, tier in TIERS.items():
            register_collector(
                s, user_id=user, tier=tier, actor=SYSTEM, team=str(USERS[user]["team"])
            )
        for loan_id, owner in OWNERS.items():
            s.add(
                CollectionCase(
                    loan_id=loan_id,
                    customer_id=f"C-{loan_id}",
                    status="open",
                    opened_on=START,
                    owner_user_id=owner,
                    team=str(USERS[owner]["team"]),
                )
            )
    run_eod(engine, through=THROUGH)
    with transaction(engine) as s:
        today = business_date(s)
        cases = {
            c.loan_id: c.id for c in s.scalars(select(CollectionCase).order_by(CollectionCase.id))
        }
        for agency_id in ("agy-1", "agy-2", "agy-3"):
            add_agency(
                s,
                actor=actor("mgr"),
                agency_id=agency_id,
                terms=AgencyTerms(
                    name=f"Agency {agency_id}",
                    licence_no=f"LIC-{agency_id}",
                    licence_expires_on=date(2030, 1, 1),
                    contract_from=date(2024, 1, 1),
                    contract_until=date(2025, 12, 31),
                    max_cases=50,
                ),
                reason="tests",
            )
        place_case(
            s,
            actor=actor("sup"),
            case_id=cases["S6"],
            agency_id="agy-1",
            business_date=today,
            reason="tests",
        )
        post_payment(  # a recovery while placed: a line on agy-1's statement
            session=s,
            loan_id="S6",
            amount="200.00",
            value_date=today,
            channel="counter",
            reference="placed-S6",
        )
        s.add(
            LegalFile(case_id=cases["S10"], loan_id="S10", stage="preparing-file", opened_on=today)
        )
        plans = {}
        for letter, (loan_id, user) in PLAN_LOANS.items():
            plan = request_plan(
                session=s,
                actor=actor(user),
                loan_id=loan_id,
                installments=3,
                monthly_income="10000.00",
                first_due_on=today + timedelta(days=10),
                reason=f"plan {letter}",
            )
            plans[letter] = plan.approval_id
        _team_day(s, cases, today)
    FACTS[str(engine.url)] = Facts(cases, plans, today)
    return tokens


def _team_day(s: object, cases: dict[str, int], on: date) -> None:
    """col: 2 tasks done, 1 pending, 3 contacts (2 right-party), 1 promise kept and 1
    broken this month, 100.00 recovered on S3; sen: 1 pending task, 1 contact."""
    from sqlalchemy.orm import Session

    assert isinstance(s, Session)
    at = datetime.combine(on, datetime.min.time()) + timedelta(hours=2)
    for i, (loan_id, user, status) in enumerate(
        [
            ("S3", "col", "done"),
            ("S3", "col", "done"),
            ("S3", "col", "queued"),
            ("S1", "sen", "queued"),
        ]
    ):
        s.add(
            CollectionTask(
                business_date=on - timedelta(days=1),
                work_date=on,
                case_id=cases[loan_id],
                loan_id=loan_id,
                customer_id=f"C-{loan_id}",
                kind=f"call-{i}",
                assignee_role="collector",
                collector_user_id=user,
                team="east",
                slots=1,
                dpd=47,
                priority=1,
                rank=i,
                status=status,
                feedback_at=at if status == "done" else None,
            )
        )
    for loan_id, user, rpc in [
        ("S3", "col", True),
        ("S3", "col", True),
        ("S3", "col", False),
        ("S1", "sen", True),
    ]:
        s.add(
            ContactLog(
                case_id=cases[loan_id],
                customer_id=f"C-{loan_id}",
                loan_id=loan_id,
                channel="phone",
                direction="outbound",
                party="borrower",
                outcome="answered" if rpc else "no-answer",
                rpc=rpc,
                collector=user,
                organisation="lender",
                at_utc=at,
                contact_date=on,
                basis={"rule": "tests"},
            )
        )
    for status in ("kept", "broken"):
        s.add(
            PromiseToPay(
                case_id=cases["S3"],
                loan_id="S3",
                customer_id="C-S3",
                amount=Decimal("500.00"),
                made_on=on.replace(day=1),
                promised_on=on.replace(day=2),
                grace_days=0,
                tolerance=Decimal("0.00"),
                until=on.replace(day=2),
                status=status,
                resolved_on=on.replace(day=2),
                collector="col",
            )
        )
    s.flush()
    post_payment(
        session=s,
        loan_id="S3",
        amount="100.00",
        value_date=on,
        channel="counter",
        reference="board-S3",
    )


def facts(engine: Engine) -> Facts:
    return FACTS[str(engine.url)]
