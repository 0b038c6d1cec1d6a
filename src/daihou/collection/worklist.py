"""What the collector workbench lists: cases with their loan's DPD, bucket and overdue
amount (filtered and paginated), a collector's task list for the day with what is next
on each case, and the hours in which the compliance packs allow each medium now.

Reads only; the scope rule is the one ``cases.case_view`` and ``tasks.task_list``
apply (``scope_filter`` on the case), and naming another collector's list is
authorised against that collector's team and territory, never answered with an
empty list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, and_, bindparam, func, select
from sqlalchemy.orm import Session, aliased

from daihou.auth.actor import Actor
from daihou.auth.models import User
from daihou.auth.permissions import authorize
from daihou.auth.scopes import ResourceScope
from daihou.collection.case_lists import case_scope_filter
from daihou.collection.cases import owed_fen
from daihou.collection.contact_models import ContactLog
from daihou.collection.models import CollectionCase
from daihou.collection.settings import CONTACT_ACTIONS
from daihou.collection.tables import CollectionTask
from daihou.collection.tasks import TASK_ORDER, task_query
from daihou.compliance.gate.packs import load_rules
from daihou.compliance.gate.schema import medium_of
from daihou.loans.models import Installment, Loan, status_is

CENT = Decimal("0.01")


def _yuan(fen: int | None) -> Decimal:
    return (Decimal(int(fen or 0)) / 100).quantize(CENT)


def overdue_of(session: Session, loan_ids: list[str]) -> dict[str, Decimal]:
    """What is owed on fallen-due instalments of these loans only (a page's worth: the
    sum is never taken over the whole book)."""
    if not loan_ids:
        return {}
    i = Installment
    rows = session.execute(
        select(i.loan_id, func.sum(owed_fen()))
        .where(status_is(i.status, "due"), i.loan_id.in_(loan_ids))
        .group_by(i.loan_id)
    )
    return {loan: _yuan(fen) for loan, fen in rows}


@dataclass(frozen=True, slots=True)
class CaseLine:
    case: CollectionCase
    dpd: int
    bucket: str
    overdue: Decimal


def search_cases(
    session: Session,
    *,
    actor: Actor,
    status: str | None = "open",
    stage: str | None = None,
    owner: str | None = None,
    bucket: str | None = None,
    dpd_min: int | None = None,
    dpd_max: int | None = None,
    offset: int = 0,
    limit: int = 50,
) -> list[CaseLine]:
    """Cases the actor may see (``case.view`` scope), highest DPD first."""
    authorize(actor, "case.view")
    if dpd_min is not None and dpd_max is not None and dpd_min > dpd_max:
        raise ValueError(f"dpd_min: {dpd_min} is above dpd_max {dpd_max}")
    c = CollectionCase
    cond = [case_scope_filter(actor, "case.view")]
    for column, value in ((c.status, status), (c.stage, stage), (c.owner_user_id, owner)):
        if value:
            cond.append(column == value)
    if bucket:
        cond.append(Loan.bucket == bucket)
    if dpd_min is not None:
        cond.append(Loan.dpd >= dpd_min)
    if dpd_max is not None:
        cond.append(Loan.dpd <= dpd_max)
    rows = session.execute(
        select(c, Loan.dpd, Loan.bucket)
        .join(Loan, Loan.id == c.loan_id)
        .where(and_(*cond))
        .order_by(Loan.dpd.desc(), c.id)
        .offset(offset)
        .limit(limit)
    ).all()
    owed = overdue_of(session, sorted({r[0].loan_id for r in rows}))
    return [CaseLine(r[0], r[1], r[2], owed.get(r[0].loan_id, _yuan(0))) for r in rows]


@dataclass(frozen=True, slots=True)
class TaskLine:
    task: CollectionTask
    stage: str | None
    bucket: str | None
    overdue: Decimal
    promise_until: date | None
    next_action: str | None  # from the case's latest contact log
    next_action_on: date | None
    medium: str | None  # the gate medium the task's work uses (call, visit …)


def authorize_collector_list(session: Session, actor: Actor, collector: str) -> None:
    """Another collector's list needs ``task.view`` over that collector (team,
    territory); one's own list needs ``task.view`` only."""
    if collector == actor.user_id:
        authorize(actor, "task.view")
        return
    user = session.get(User, collector)
    if user is None:
        raise LookupError(f"collector: no user {collector!r}")
    authorize(
        actor,
        "task.view",
        resource=ResourceScope(owner_user_id=collector, team=user.team, territory=user.territory),
    )


def _day_tasks(
    actor: Actor,
    work_date: date,
    who: str,
    *,
    kind: str | None = None,
    stage: str | None = None,
    bucket: str | None = None,
) -> Any:
    """SELECT (task, case stage, case promise, loan bucket) of ``who``'s list, filtered."""
    t = CollectionTask
    query = (
        task_query(actor, work_date=work_date, collector=who)
        .outerjoin(Loan, Loan.id == t.loan_id)
        .add_columns(CollectionCase.stage, CollectionCase.promise_until, Loan.bucket)
    )
    if kind:
        query = query.where(t.kind == kind)
    if stage:
        query = query.where(CollectionCase.stage == stage)
    if bucket:
        query = query.where(Loan.bucket == bucket)
    return query


# The statements of a list are built once per (actor, day, collector, filters) and kept:
# building a statement and its cache key costs more Python than SQLite spends running
# it. They are a pure function of these arguments (the scope rule reads only the
# actor), so a kept one is the statement a new build would give; the caller still
# authorises every request (``authorize_collector_list``) before running one.
_KEPT = 256


@lru_cache(maxsize=_KEPT)
def _page_statement(
    actor: Actor,
    work_date: date,
    who: str,
    kind: str | None,
    stage: str | None,
    bucket: str | None,
    limited: bool,
) -> Any:
    """A page of the list in rank order with, per task, the overdue amount of its loan
    and the next action of its case's latest contact (correlated sub-selects: computed
    by the database for the page's rows, in the same statement). ``offset`` and
    ``limit`` (if ``limited``) are bound at execution."""
    t = CollectionTask
    i = Installment
    latest = aliased(ContactLog)
    overdue = (
        select(func.coalesce(func.sum(owed_fen()), 0))
        .where(i.loan_id == t.loan_id, status_is(i.status, "due"))
        .scalar_subquery()
    )
    last_log = select(func.max(latest.id)).where(latest.case_id == t.case_id).scalar_subquery()
    query = (
        _day_tasks(actor, work_date, who, kind=kind, stage=stage, bucket=bucket)
        .outerjoin(ContactLog, ContactLog.id == last_log)
        .add_columns(overdue, ContactLog.next_action, ContactLog.next_action_on)
        .order_by(*TASK_ORDER)
        .offset(bindparam("offset", type_=Integer))
    )
    return query.limit(bindparam("limit", type_=Integer)) if limited else query


@lru_cache(maxsize=_KEPT)
def _summary_statement(actor: Actor, work_date: date, who: str) -> Any:
    t = CollectionTask
    return (
        _day_tasks(actor, work_date, who)
        .with_only_columns(
            t.kind,
            CollectionCase.stage,
            Loan.bucket,
            t.status,
            func.count(),
            maintain_column_froms=True,
        )
        .group_by(t.kind, CollectionCase.stage, Loan.bucket, t.status)
    )


def todays_tasks(
    session: Session,
    *,
    actor: Actor,
    work_date: date,
    collector: str | None = None,
    kind: str | None = None,
    stage: str | None = None,
    bucket: str | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> list[TaskLine]:
    """A collector's tasks for ``work_date`` (default: the actor's own) in rank order,
    filtered and paged in SQL, with the overdue amount and the latest contact's next
    action: one statement whatever the size of the list or the book."""
    if offset < 0:
        raise ValueError("offset: must not be negative")
    who = collector or actor.user_id
    authorize_collector_list(session, actor, who)
    authorize(actor, "task.view")
    query = _page_statement(
        actor, work_date, who, kind or None, stage or None, bucket or None, limit is not None
    )
    rows = session.execute(query, {"offset": offset, "limit": limit})
    lines = []
    for t, case_stage, promise_until, loan_bucket, owed, action, on in rows:
        channel = CONTACT_ACTIONS.get(t.kind, (None, None))[0]
        lines.append(
            TaskLine(
                task=t,
                stage=case_stage,
                bucket=loan_bucket,
                overdue=_yuan(owed),
                promise_until=promise_until,
                next_action=action,
                next_action_on=on,
                medium=medium_of(channel) if channel else None,
            )
        )
    return lines


@dataclass(frozen=True, slots=True)
class TaskSummary:
    total: int
    done: int
    kinds: list[str]
    stages: list[str]
    buckets: list[str]


def task_summary(
    session: Session, *, actor: Actor, work_date: date, collector: str | None = None
) -> TaskSummary:
    """Counts and filter choices of a day's list, in one grouped query."""
    who = collector or actor.user_id
    authorize_collector_list(session, actor, who)
    authorize(actor, "task.view")
    rows = session.execute(_summary_statement(actor, work_date, who)).all()
    return TaskSummary(
        total=sum(r[4] for r in rows),
        done=sum(r[4] for r in rows if r[3] == "done"),
        kinds=sorted({r[0] for r in rows}),
        stages=sorted({r[1] for r in rows if r[1]}),
        buckets=sorted({r[2] for r in rows if r[2]}),
    )


@dataclass(frozen=True, slots=True)
class Window:
    medium: str
    intervals: tuple[tuple[time, time | None], ...]  # None: until midnight
    open_now: bool
    local_time: datetime


def contact_windows(now: datetime, tz: str) -> dict[str, Window]:
    """Per medium, the hours the packs in force allow contact (borrower's local time)
    and whether ``now`` is inside them. A medium without quiet hours is open all day."""
    local = now.astimezone(ZoneInfo(tz))
    rules = load_rules(on=local.date())
    seconds = local.hour * 3600 + local.minute * 60 + local.second
    out: dict[str, Window] = {}
    for medium in ("call", "visit", "sms", "email", "letter", "app"):
        hours = rules.quiet.get(medium)
        spans = hours.intervals if hours is not None else ((0, 86400),)
        out[medium] = Window(
            medium=medium,
            intervals=tuple((_clock(s), None if e >= 86400 else _clock(e)) for s, e in spans),
            open_now=any(s <= seconds < e for s, e in spans),
            local_time=local,
        )
    return out


def _clock(seconds: int) -> time:
    return time(seconds // 3600, seconds // 60 % 60, seconds % 60)
