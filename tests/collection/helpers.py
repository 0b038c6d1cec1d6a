"""Helpers for the collections tests: walk the book day by day (end of day, then the
collections run), read the day's treatments and tasks, add users and collectors."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine, select

from daihou.auth.actor import SYSTEM
from daihou.auth.models import User, UserRole
from daihou.collection.assign import register_collector
from daihou.collection.models import CollectionCase
from daihou.collection.run import RunReport, run_collections
from daihou.collection.tables import CollectionTreatment
from daihou.db.engine import transaction
from daihou.eod.runner import run_eod
from daihou.policy.schema import PolicyPack


def close_and_run(engine: Engine, d: date, pack: PolicyPack | None = None) -> RunReport:
    run_eod(engine, through=d, pack=pack)
    return run_collections(engine, d, pack)


def walk(engine: Engine, start: date, end: date, pack: PolicyPack | None = None) -> None:
    d = start
    while d <= end:
        close_and_run(engine, d, pack)
        d += timedelta(days=1)


def treatments(engine: Engine, d: date, *, status: str | None = "planned") -> list[Any]:
    with transaction(engine) as s:
        t = CollectionTreatment
        q = select(t).where(t.business_date == d).order_by(t.loan_id, t.rule_id, t.slot)
        if status is not None:
            q = q.where(t.status == status)
        rows = list(s.scalars(q))
        for r in rows:
            s.expunge(r)
        return rows


def actions(engine: Engine, d: date, loan_id: str | None = None) -> Counter[str]:
    """The day's planned treatments as action → number of slots."""
    return Counter(
        r.action for r in treatments(engine, d) if loan_id is None or r.loan_id == loan_id
    )


def open_case(engine: Engine, loan_id: str) -> CollectionCase | None:
    with transaction(engine) as s:
        case = s.scalars(
            select(CollectionCase).where(
                CollectionCase.loan_id == loan_id, CollectionCase.status == "open"
            )
        ).first()
        if case is not None:
            s.expunge(case)
        return case


def add_user(
    engine: Engine,
    username: str,
    *roles: str,
    team: str | None = None,
    territory: str | None = None,
) -> None:
    with transaction(engine) as s:
        s.add(User(username=username, password_hash="x", team=team, territory=territory))
        s.flush()
        for role in roles:
            s.add(UserRole(username=username, role=role))


def add_collector(
    engine: Engine,
    username: str,
    tier: str,
    *,
    team: str | None = "T1",
    territory: str | None = None,
    capacity: int = 80,
) -> None:
    role = {"desk": "collector-junior", "junior": "collector-junior"}.get(tier, "collector-senior")
    add_user(engine, username, role, team=team, territory=territory)
    with transaction(engine) as s:
        register_collector(
            s,
            user_id=username,
            tier=tier,
            team=team,
            territory=territory,
            daily_capacity=capacity,
            actor=SYSTEM,
        )
