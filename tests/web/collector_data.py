"""Cases and task lists for the collector workbench tests, added to a module's book (the
shared book has cases for W1 and W2 only and no tasks)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from daihou.collection.models import CollectionCase
from daihou.collection.tables import CollectionTask
from daihou.db.engine import transaction
from daihou.eod.calendar import business_date
from daihou.loans.models import Loan

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(hour: int, days_ago: int = 1) -> datetime:
    """A moment in the borrower's time zone a few days back (the contact gate's packs
    are in force from 2026, so contacts use the real clock, not the book's dates)."""
    day = datetime.now(UTC).astimezone(SHANGHAI).date() - timedelta(days=days_ago)
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=SHANGHAI)


def case_of(engine: Engine, loan_id: str, owner: str = "col", team: str = "east") -> int:
    """The open case of ``loan_id``, opened for ``owner`` if there is none."""
    with transaction(engine) as s:
        found = s.scalar(
            select(CollectionCase.id).where(
                CollectionCase.loan_id == loan_id, CollectionCase.status == "open"
            )
        )
        if found is not None:
            return int(found)
        case = CollectionCase(
            loan_id=loan_id,
            customer_id=f"C-{loan_id}",
            status="open",
            opened_on=business_date(s),
            owner_user_id=owner,
            team=team,
        )
        s.add(case)
        s.flush()
        return int(case.id)


def task_for(
    engine: Engine,
    loan_id: str,
    *,
    collector: str = "col",
    team: str = "east",
    kind: str = "call",
    rank: int = 1,
    with_case: bool = True,
) -> int:
    """Today's task of ``kind`` on ``loan_id`` for ``collector`` (added once)."""
    case_id = case_of(engine, loan_id, collector, team) if with_case else None
    with transaction(engine) as s:
        today = business_date(s)
        found = s.scalar(
            select(CollectionTask.id).where(
                CollectionTask.business_date == today,
                CollectionTask.loan_id == loan_id,
                CollectionTask.kind == kind,
            )
        )
        if found is not None:
            return int(found)
        task = CollectionTask(
            business_date=today,
            work_date=today,
            case_id=case_id,
            loan_id=loan_id,
            customer_id=f"C-{loan_id}",
            kind=kind,
            assignee_role="collector",
            collector_user_id=collector,
            team=team,
            slots=1,
            dpd=s.get(Loan, loan_id).dpd,  # type: ignore[union-attr]
            priority=100_000 - rank,
            rank=rank,
            status="queued",
        )
        s.add(task)
        s.flush()
        return int(task.id)
