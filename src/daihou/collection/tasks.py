"""Task lists (催收任务单): the day's calls, visits and reviews, per collector.

Treatments that need a person (calls, contact calls, contact repair, visits, the
litigation file) become one task per loan and kind on the case owner's list; agency
placement and litigation referral become review tasks on the case team's supervisor
list. Priority = overdue amount (CNY) × risk factor × DPD, the risk factor being
``1 + risk_score / risk_factor_base`` (1 without a score). Each collector's tasks are
ranked by priority; the work beyond the collector's daily capacity is deferred: it is
written as no task, its treatments carry the collector, the rank and the priority
(``collection_treatments.deferred_to``/``deferred_rank``/``deferred_priority``), and
``deferred_work`` lists it; tomorrow's run ranks it again.
Feedback (the contact log referencing a task) is recorded by ``mark_task_feedback``
(``mark_tasks_feedback`` for a worked list in one statement);
``no_feedback`` lists what had none by the deadline (17:00 by default, §6).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from operator import itemgetter
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, null, or_, select, update
from sqlalchemy.orm import Session

from daihou.auth.actor import Actor
from daihou.auth.permissions import AuthorizationBasis, authorize
from daihou.auth.scopes import ResourceScope, scope_filter
from daihou.collection.case_lists import case_scope_filter
from daihou.collection.gate_link import local_time
from daihou.collection.models import CollectionCase
from daihou.collection.settings import TASK_ACTIONS, CollectionsSettings
from daihou.collection.strategy import Planned
from daihou.collection.tables import CollectionTask, CollectionTreatment, Collector, FastRows


def priority(overdue_fen: int, risk_score: int | None, dpd: int | None, base: int) -> int:
    """overdue (CNY) × (1 + risk_score / base) × DPD, as a whole number."""
    score = risk_score or 0
    return (overdue_fen * (base + score) * max(dpd or 0, 1)) // (100 * base)


@dataclass
class TaskResult:
    tasks: int = 0  # task rows and deferred work of the day (one a loan and kind)
    inserted: int = 0
    deferred: int = 0  # beyond capacity: on no task row, ``Planned.deferred`` says it
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
            p.task = row
            continue
        if f is not last_fact:
            last_fact, last_priority = f, priority(f.overdue_fen, f.risk_score, f.dpd, base)
        grouped[key] = p.task = [
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
        cap = capacity.get(who) if who and queue[0][_OWNER] == who else None
        if cap is not None and len(queue) > cap:
            over = queue[cap:]
            del queue[cap:]
            for row in over:
                row[_STATUS] = None  # no task: its treatments carry it
            result.deferred += len(over)
        result.unowned += sum(1 for row in queue if row[_OWNER] is None)
    t = CollectionTask
    existing = set(session.execute(select(t.loan_id, t.kind).where(t.business_date == d)).all())
    rows = [
        row
        for key, row in grouped.items()
        if row[_STATUS] is not None and (not existing or key not in existing)
    ]
    fast.write(t, TASK_COLUMNS, rows)
    result.inserted = len(rows)
    if result.deferred:
        for p in planned:
            row = p.task
            if row is not None and row[_STATUS] is None:
                p.deferred = (row[_OWNER], row[_RANK], row[_PRIORITY])
    return result


# A review task on a supervisor's list is answered by deciding it, not by any contact.
REVIEW_ACTIONS = {"agency-placement": "placement.create", "legal-referral": "legal.refer"}


def authorize_task(session: Session, *, actor: Actor, task: CollectionTask) -> AuthorizationBasis:
    """``actor`` may give feedback on ``task``: a collector's task needs ``contact.log``
    on its case (no case: the task is on the actor's own list, team or territory, as the
    task list shows it); a review task needs the action it reviews."""
    action = REVIEW_ACTIONS.get(task.kind, "contact.log")
    case = session.get(CollectionCase, task.case_id) if task.case_id is not None else None
    if case is not None:
        resource = ResourceScope(
            owner_user_id=case.owner_user_id,
            team=case.team,
            agency_id=case.agency_id,
            territory=case.territory,
        )
    else:
        resource = ResourceScope(
            owner_user_id=task.collector_user_id, team=task.team, territory=task.territory
        )
    return authorize(actor, action, resource=resource)


def mark_task_feedback(
    session: Session, task_id: int, at: datetime, *, actor: Actor
) -> CollectionTask:
    """The contact log calls this when a logged contact references the task: the task is
    done, with the time of the first feedback (a later call keeps the first time).
    Refused (``PermissionDenied``) to someone ``authorize_task`` does not allow."""
    task = session.get(CollectionTask, task_id)
    if task is None:
        authorize(actor, "task.view")  # an unauthorised caller learns nothing
        raise LookupError(f"no task {task_id}")
    authorize_task(session, actor=actor, task=task)
    if at.tzinfo is None:
        raise ValueError("the feedback time must be timezone-aware")
    if task.feedback_at is None:
        task.feedback_at = at.astimezone(UTC).replace(tzinfo=None)
        task.status = "done"
        session.flush()
    return task


_FEEDBACK = (
    update(CollectionTask.__table__)  # type: ignore[arg-type]
    .where(
        CollectionTask.__table__.c.id == bindparam("task_id"),
        CollectionTask.__table__.c.feedback_at.is_(None),
    )
    .values(feedback_at=bindparam("at_utc"), status="done")
)  # built once; run once for a whole list


def mark_tasks_feedback(session: Session, feedback: Sequence[tuple[int, datetime]]) -> None:
    """``mark_task_feedback`` for a worked list of (task, time) in one statement: each
    task is done, with its first feedback time (a task already fed back, or listed
    twice, keeps the first). Writes straight to the table: task objects already loaded
    in ``session`` are not refreshed. It checks no rights itself: it is for a caller
    that did each task's work through services that authorised it (the demo's
    collectors log every contact with ``log_contact``); people use ``mark_task_feedback``."""
    if not feedback:
        return
    for task_id, at in feedback:
        if at.tzinfo is None:
            raise ValueError(f"task {task_id}: the feedback time must be timezone-aware")
    ids = sorted({task_id for task_id, _ in feedback})
    found: set[int] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        found.update(session.scalars(select(CollectionTask.id).where(CollectionTask.id.in_(chunk))))
    missing = [task_id for task_id in ids if task_id not in found]
    if missing:
        raise LookupError(
            f"no task {missing[0]}"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
        )
    session.flush()
    session.execute(
        _FEEDBACK,
        [
            {"task_id": task_id, "at_utc": at.astimezone(UTC).replace(tzinfo=None)}
            for task_id, at in feedback
        ],
    )


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


def task_query(
    actor: Actor, *, work_date: date, collector: str | None = None
) -> Select[tuple[CollectionTask]]:
    """SELECT of the tasks of a day the actor may see (the case outer-joined, for
    filters on it), unordered: ``task_list`` and the workbench order and page it."""
    authorize(actor, "task.view")
    t = CollectionTask
    query = (
        select(t)
        .outerjoin(CollectionCase, CollectionCase.id == t.case_id)
        .where(t.work_date == work_date, _visible(actor))
    )
    if collector is not None:
        query = query.where(t.collector_user_id == collector)
    return query


TASK_ORDER = (
    CollectionTask.assignee_role,
    CollectionTask.collector_user_id,
    CollectionTask.rank,
    CollectionTask.id,
)


def task_list(
    session: Session,
    *,
    actor: Actor,
    work_date: date,
    collector: str | None = None,
) -> list[CollectionTask]:
    """The tasks of a day (``work_date``) the actor may see, by collector and rank
    (the work beyond each collector's capacity is no task: ``deferred_work``)."""
    query = task_query(actor, work_date=work_date, collector=collector)
    return list(session.scalars(query.order_by(*TASK_ORDER)))


@dataclass(frozen=True, slots=True)
class DeferredWork:
    """Person-work of a day beyond its collector's daily capacity (no task row): a
    task's fields read from its treatments (``slots``: how many were planned)."""

    work_date: date
    case_id: int | None
    loan_id: str
    customer_id: str
    kind: str
    collector_user_id: str
    team: str | None  # the case's team (None without a case)
    rank: int
    priority: int
    dpd: int | None
    slots: int
    assignee_role: str = "collector"
    status: str = "deferred"
    id: None = None  # not a task: nothing to give feedback on


def deferred_work(
    session: Session, *, actor: Actor, work_date: date, collector: str | None = None
) -> list[DeferredWork]:
    """The work of ``work_date`` beyond each collector's capacity that the actor may
    see (the task list's scope rule), by collector and rank: it continues the
    collector's task list (ranks capacity + 1 …) and is ranked again by the next run.
    Read from the planned treatments that carry ``deferred_to`` (one per slot), by the
    business date's prefix of their unique key."""
    authorize(actor, "task.view")
    tr = CollectionTreatment
    own = scope_filter(
        actor,
        owner_col=tr.deferred_to,
        team_col=null(),  # work with no case is a reminder call: no team, no territory
        agency_col=null(),
        territory_col=null(),
        action="task.view",
    )
    visible = or_(
        and_(tr.case_id.is_not(None), case_scope_filter(actor, "task.view")),
        and_(tr.case_id.is_(None), own),
    )
    key = (
        tr.deferred_to,
        tr.deferred_rank,
        tr.case_id,
        tr.loan_id,
        tr.customer_id,
        tr.action,
        CollectionCase.team,
    )
    query = (
        select(
            *key,
            func.max(tr.deferred_priority),
            func.max(tr.dpd),
            func.count(),
        )
        .outerjoin(CollectionCase, CollectionCase.id == tr.case_id)
        .where(
            tr.business_date == work_date - timedelta(days=1),
            tr.work_date == work_date,
            tr.status == "planned",
            tr.deferred_to.is_not(None),
            visible,
        )
        .group_by(*key)
        .order_by(tr.deferred_to, tr.deferred_rank)
    )
    if collector is not None:
        query = query.where(tr.deferred_to == collector)
    return [
        DeferredWork(
            work_date=work_date,
            case_id=case_id,
            loan_id=loan_id,
            customer_id=customer_id,
            kind=kind,
            collector_user_id=who,
            team=team,
            rank=rank,
            priority=int(prio),
            dpd=dpd,
            slots=int(n),
        )
        for who, rank, case_id, loan_id, customer_id, kind, team, prio, dpd, n in session.execute(
            query
        )
    ]


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
                or_(t.feedback_at.is_(None), t.feedback_at > cutoff),
                _visible(actor),
            )
            .order_by(t.collector_user_id, t.rank, t.id)
        )
    )
