"""Task lists (催收任务单): today's tasks of the caller (or of a collector the caller
supervises) with DPD, overdue amount and what is next, and the hours in which contact
is allowed now."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from daihou.auth.permissions import authorize
from daihou.collection.casework import settings_of
from daihou.collection.worklist import TaskLine, Window, contact_windows, todays_tasks
from daihou.eod.calendar import business_date
from daihou.web.api.case_schemas import TaskOut, WindowOut
from daihou.web.api.schemas import ERRORS, Page
from daihou.web.deps import CurrentCtx

router = APIRouter(tags=["tasks"], responses=ERRORS)


def task_out(line: TaskLine) -> TaskOut:
    t = line.task
    return TaskOut(
        id=t.id,
        case_id=t.case_id,
        loan_id=t.loan_id,
        kind=t.kind,
        rank=t.rank,
        priority=t.priority,
        status=t.status,
        dpd=t.dpd,
        stage=line.stage,
        bucket=line.bucket,
        overdue=line.overdue,
        promise_until=line.promise_until,
        next_action=line.next_action,
        next_action_on=line.next_action_on,
        medium=line.medium,
        feedback_at=t.feedback_at,
    )


def window_out(w: Window) -> WindowOut:
    return WindowOut(
        medium=w.medium, open_now=w.open_now, local_time=w.local_time, hours=list(w.intervals)
    )


@router.get("/tasks", response_model=Page[TaskOut])
def list_tasks(
    ctx: CurrentCtx,
    collector: Annotated[str | None, Query(max_length=64, description="default: you")] = None,
    kind: Annotated[str | None, Query(max_length=24)] = None,
    stage: Annotated[str | None, Query(max_length=16)] = None,
    bucket: Annotated[str | None, Query(max_length=8)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 200,
) -> Page[TaskOut]:
    """Today's (the business date's) queued and done tasks in rank order."""
    lines = todays_tasks(
        ctx.session,
        actor=ctx.actor,
        work_date=business_date(ctx.session),
        collector=collector,
        kind=kind,
        stage=stage,
        bucket=bucket,
        offset=(page - 1) * per_page,
        limit=per_page + 1,  # one more says whether there is a next page
    )
    return Page[TaskOut](
        items=[task_out(line) for line in lines[:per_page]],
        page=page,
        per_page=per_page,
        has_more=len(lines) > per_page,
    )


@router.get("/contact-windows", response_model=list[WindowOut])
def windows(ctx: CurrentCtx) -> list[WindowOut]:
    """Per medium, the hours the compliance packs allow contact (borrower's local time)
    and whether it is allowed now."""
    authorize(ctx.actor, "task.view")
    found = contact_windows(ctx.now, settings_of().borrower_tz)
    return [window_out(w) for w in found.values()]
