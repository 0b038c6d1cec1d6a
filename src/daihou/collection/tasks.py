"""Task lists (催收任务单): the day's calls, visits and reviews, per collector.

Treatments that need a person (calls, contact calls, contact repair, visits, the
litigation file) become one task per loan and kind on the case owner's list; agency
placement and litigation referral become review tasks on the case team's supervisor
list. Priority = overdue amount (CNY) × risk factor × DPD, the risk factor being
``1 + risk_score / risk_factor_base`` (1 without a score). Each collector's tasks are
ranked by priority; those beyond the collector's daily capacity are deferred.
Feedback (the contact log referencing a task) is recorded by ``mark_task_feedback``;
``no_feedback`` lists what had none by the deadline (17:00 by default, §6).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from operator import itemgetter
from typing import Any

from sqlalchemy import and_, null, or_, select
from sqlalchemy.orm import Session

from daihou.auth.actor import Actor
from daihou.auth.permissions import authorize
from daihou.auth.scopes import scope_filter
from daihou.collection.case_lists import case_scope_filter
from daihou.collection.gate_link import local_time
from daihou.collection.models import CollectionCase
from daihou.collection.settings import TASK_ACTIONS, CollectionsSettings
from daihou.collection.strategy import Planned
from daihou.collection.tables import CollectionTask, Collector, FastRows


def priority(overdue_fen: int, risk_score: int | None, dpd: int | None, base: int) -> int:
    """overdue (CNY) × (1 + risk_score / base) × DPD, as a whole number."""
    score = risk_score or 0
    return (overdue_fen * (base + score) * max(dpd or 0, 1)) // (100 * base)


@dataclass
class TaskResult:
    tasks: int = 0
    inserted: int = 0
    deferred: int = 0
    unowned: int = 0


TASK_COLUMNS = (
    "business_date",
    "work_date",
    "case_id",
    "loan_id",
    "customer_id",
    "kind",
    "assignee_role",
    "collector_user_id",
    "team",
    "territory",
    "slots",
    "dpd",
    "priority",
    "rank",
    "status",
)


# positions in a task row (a list in the order of TASK_COLUMNS, written as it is)
_CASE, _LOAN, _KIND, _ROLE, _OWNER, _TEAM, _SLOTS, _PRIORITY, _RANK, _STATUS = (
    TASK_COLUMNS.index(name)
    for name in (
        "case_id",
        "loan_id",
        "kind",
        "assignee_role",
        "collector_user_id",
        "team",
        "slots",
        "priority",
        "rank",
        "status",
    )
)


def _assign_reminder_calls(rows: list[list[Any]], desk: list[str]) -> None:
    """Calls with no case (reminders before a due date) have no case owner: give them to
    the collectors of the first stage's tier (the call desk), highest priority first, to
    whoever has the fewest tasks."""
    pending = [
        row
        for row in rows
        if row[_CASE] is None and row[_ROLE] == "collector" and row[_OWNER] is None
    ]
    if not desk or not pending:
        return
    load = Counter(row[_OWNER] for row in rows if row[_OWNER])
    for row in sorted(pending, key=lambda r: (-r[_PRIORITY], r[_LOAN], r[_KIND])):
        who = min(desk, key=lambda user: (load[user], user))
        row[_OWNER] = who
        load[who] += 1


def build_tasks(
    session: Session, *, business_date: date, settings: CollectionsSettings, planned: list[Planned]
) -> TaskResult:
    """Group the day's planned person-work into tasks, rank them, write the new ones.

    This runs over every planned treatment of the day (400,000 on a first day that opens
    100,000 cases), so the per-row work is kept to a dictionary look-up: a task row is
    built once per (loan, kind) in the shape it is written, the role is looked up once
    per rule and the priority once per subject (a subject's treatments come together)."""
    d = business_date
    fast = FastRows(session)
    day, work = fast.date(d), fast.date(d + timedelta(days=1))
    base = settings.risk_factor_base
    grouped: dict[tuple[str, str], list[Any]] = {}
    roles: dict[int, str | None] = {}  # id(rule) → the task's assignee role, None: no task
    last_fact, last_priority = None, 0
    for p in planned:
        if p.status != "planned":
            continue
        rule = p.rule
        role = roles.get(id(rule), "")
        if role == "":
            role = roles[id(rule)] = TASK_ACTIONS.get(rule.action)
        if role is None:
            continue
        f = p.fact
        key = (f.loan_id, rule.action)
        row = grouped.get(key)
        if row is not None:
            row[_SLOTS] += 1
            continue
        if f is not last_fact:
            last_fact, last_priority = f, priority(f.overdue_fen, f.risk_score, f.dpd, base)
        grouped[key] = [
            day,
            work,
            f.case_id,
            f.loan_id,
            f.customer_id,
            rule.action,
            role,
            f.owner if role == "collector" else None,
            f.team,
            f.territory,
            1,
            f.dpd,
            last_priority,
            None,
            "queued",
        ]
    rows = list(grouped.values())
    active = session.execute(
        select(Collector.user_id, Collector.daily_capacity, Collector.tier).where(
            Collector.active.is_(True)
        )
    ).all()
    capacity: dict[str, int] = {user: cap for user, cap, _ in active}
    desk = settings.stages[0].tier
    _assign_reminder_calls(rows, sorted(u for u, _, tier in active if tier == desk))
    queues: dict[tuple[str, str | None], list[list[Any]]] = defaultdict(list)
    for row in rows:
        queues[(row[_ROLE], row[_OWNER] or row[_TEAM])].append(row)
    result = TaskResult(tasks=len(rows))
    for (role, who), queue in queues.items():
        # highest priority first; ties by loan and kind (two stable sorts, no key tuples)
        queue.sort(key=itemgetter(_LOAN, _KIND))
        queue.sort(key=itemgetter(_PRIORITY), reverse=True)
        for rank, row in enumerate(queue, start=1):
            row[_RANK] = rank
        if role != "collector":
            continue
        cap = capacity.get(who) if who else None
        if cap is not None and len(queue) > cap:
            for row in queue[cap:]:
                row[_STATUS] = "deferred"
            result.deferred += len(queue) - cap
        result.unowned += sum(1 for row in queue if row[_OWNER] is None)
    t = CollectionTask
    existing = set(session.execute(select(t.loan_id, t.kind).where(t.business_date == d)).all())
    if existing:
        rows = [row for key, row in grouped.items() if key not in existing]
    fast.write(t, TASK_COLUMNS, rows)
    result.inserted = len(rows)
    return result


def mark_task_feedback(session: Session, task_id: int, at: datetime) -> CollectionTask:
    """The contact log calls this when a logged contact references the task: the task is
    done, with the time of the first feedback (a later call keeps the first time)."""
    task = session.get(CollectionTask, task_id)
    if task is None:
        raise LookupError(f"no task {task_id}")
    if at.tzinfo is None:
        raise ValueError("the feedback time must be timezone-aware")
    if task.feedback_at is None:
        task.feedback_at = at.astimezone(UTC).replace(tzinfo=None)
        task.status = "done"
        session.flush()
    return task


def _visible(actor: Actor) -> Any:
    t = CollectionTask
    case_ok = case_scope_filter(actor, "task.view")
    own = scope_filter(
        actor,
        owner_col=t.collector_user_id,
        team_col=t.team,
        agency_col=null(),
        territory_col=t.territory,
        action="task.view",
    )
    return or_(and_(t.case_id.is_not(None), case_ok), and_(t.case_id.is_(None), own))


def task_list(
    session: Session,
    *,
    actor: Actor,
    work_date: date,
    collector: str | None = None,
    include_deferred: bool = False,
) -> list[CollectionTask]:
    """The tasks of a day (``work_date``) the actor may see, by collector and rank."""
    authorize(actor, "task.view")
    t = CollectionTask
    query = (
        select(t)
        .outerjoin(CollectionCase, CollectionCase.id == t.case_id)
        .where(t.work_date == work_date, _visible(actor))
    )
    if collector is not None:
        query = query.where(t.collector_user_id == collector)
    if not include_deferred:
        query = query.where(t.status != "deferred")
    return list(session.scalars(query.order_by(t.assignee_role, t.collector_user_id, t.rank, t.id)))


def no_feedback(
    session: Session, *, actor: Actor, work_date: date, settings: CollectionsSettings
) -> list[CollectionTask]:
    """Queued tasks of ``work_date`` with no feedback by the deadline (17:00 local)."""
    authorize(actor, "task.view")
    deadline = local_time(work_date, settings.feedback_deadline, settings.timezone)
    cutoff = deadline.astimezone(UTC).replace(tzinfo=None)
    t = CollectionTask
    return list(
        session.scalars(
            select(t)
            .outerjoin(CollectionCase, CollectionCase.id == t.case_id)
            .where(
                t.work_date == work_date,
                t.status != "deferred",
                or_(t.feedback_at.is_(None), t.feedback_at > cutoff),
                _visible(actor),
            )
            .order_by(t.collector_user_id, t.rank, t.id)
        )
    )
