"""Shared set-up for the plans / waivers / write-off tests: one overdue loan with an
open collection case owned by a senior collector of team-a."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Engine, select

from daihou.auth.actor import Actor
from daihou.collection.models import CollectionCase
from daihou.collection.plans import approve_plan, request_plan, sign_plan
from daihou.db.engine import transaction
from daihou.eod.calendar import business_date
from daihou.loans.models import Installment, Loan

D = Decimal


def actor(user: str, *roles: str, team: str = "team-a") -> Actor:
    return Actor(user_id=user, roles=frozenset(roles), team=team, display=user)


SENIOR = actor("sr1", "collector-senior")
SENIOR2 = actor("sr2", "collector-senior")
JUNIOR = actor("jr1", "collector-junior")
SUP = actor("sv1", "supervisor")
SUP2 = actor("sv2", "supervisor")
SUP_OTHER_TEAM = actor("sv9", "supervisor", team="team-b")
MANAGER = actor("mg1", "manager")
MANAGER2 = actor("mg2", "manager")
OPS = actor("op1", "operations")


def open_case(engine: Engine, loan_id: str, *, rpc: date | None = None, owner: str = "sr1") -> int:
    with transaction(engine) as s:
        loan = s.get(Loan, loan_id)
        assert loan is not None
        case = CollectionCase(
            loan_id=loan_id,
            customer_id=loan.customer_id,
            opened_on=business_date(s),
            owner_user_id=owner,
            team="team-a",
            last_rpc_on=rpc,
        )
        s.add(case)
        s.flush()
        return case.id


def installments(engine: Engine, loan_id: str) -> list[Installment]:
    with transaction(engine) as s:
        rows = list(
            s.scalars(
                select(Installment)
                .where(Installment.loan_id == loan_id)
                .order_by(Installment.due_date, Installment.period)
            )
        )
        for r in rows:
            s.expunge(r)
        return rows


def owed(row: Installment) -> Decimal:
    return sum(
        (
            getattr(row, f"{c}_due") - getattr(row, f"{c}_paid")
            for c in ("principal", "interest", "fee", "penalty", "compound")
        ),
        D("0"),
    )


def request_plan_of(
    engine: Engine, actor: Actor = SENIOR, loan_id: str = "S1", **kw: object
) -> int:
    """A 3-installment plan request on the loan (income 3,000; first due 2024-04-20)."""
    args: dict[str, object] = {
        "installments": 3,
        "monthly_income": "3000.00",
        "first_due_on": date(2024, 4, 20),
    }
    args.update(kw)
    with transaction(engine) as s:
        plan = request_plan(session=s, actor=actor, loan_id=loan_id, **args)  # type: ignore[arg-type]
        return plan.id


def signed_plan(engine: Engine, loan_id: str = "S1", **kw: object) -> int:
    """A plan requested by SENIOR (``kw`` as for ``request_plan_of``), approved by SUP and
    signed."""
    plan_id = request_plan_of(engine, loan_id=loan_id, **kw)
    with transaction(engine) as s:
        approve_plan(session=s, actor=SUP, plan_id=plan_id, reason="affordable")
    with transaction(engine) as s:
        sign_plan(session=s, actor=SENIOR, plan_id=plan_id)
    return plan_id
