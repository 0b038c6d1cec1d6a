"""Complaints (投诉): intake, the queue with SLA timers, one complaint, first response."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from pydantic import AwareDatetime, BaseModel, Field

from daihou.compliance.complaints import service
from daihou.compliance.complaints.models import Complaint
from daihou.compliance.complaints.sla import Category, Channel, Priority, timers
from daihou.web.api.schemas import ERRORS, Out, Page
from daihou.web.deps import CurrentCtx

router = APIRouter(tags=["complaints"], responses=ERRORS)

State = Literal["received", "responded", "investigating", "resolved", "closed"]


class TimerOut(Out):
    timer: str
    due_at: datetime
    done_at: datetime | None
    state: str
    seconds_left: int | None = Field(description="while running: seconds until due")
    seconds_overdue: int | None


class ComplaintOut(Out):
    id: int
    channel: str
    category: str
    priority: str
    state: str
    customer_id: str | None
    loan_id: str | None
    description: str
    received_at: datetime
    response_due_at: datetime
    investigation_due_at: datetime
    regulatory_due_at: datetime
    created_by: str
    timers: list[TimerOut]


class ComplaintIn(BaseModel):
    channel: Channel
    category: Category
    description: str = Field(min_length=1, max_length=4000)
    priority: Priority | None = None
    customer_id: str | None = Field(default=None, max_length=64)
    loan_id: str | None = Field(default=None, max_length=64)
    received_at: AwareDatetime | None = Field(default=None, description="default: now")


class ResponseIn(BaseModel):
    note: str = Field(min_length=1, max_length=4000)


def complaint_out(complaint: Complaint, now: datetime) -> ComplaintOut:
    items = []
    for t in timers(complaint, now=now):
        items.append(
            TimerOut(
                timer=t.timer,
                due_at=t.due_at,
                done_at=t.done_at,
                state=t.state,
                seconds_left=int(t.remaining.total_seconds()) if t.remaining else None,
                seconds_overdue=int(t.overdue_by.total_seconds()) if t.overdue_by else None,
            )
        )
    return ComplaintOut.model_validate(
        {
            **{k: getattr(complaint, k) for k in ComplaintOut.model_fields if k != "timers"},
            "timers": items,
        }
    )


@router.get("/complaints", response_model=Page[ComplaintOut])
def list_complaints(
    ctx: CurrentCtx,
    state: State | None = None,
    open_only: bool = False,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[ComplaintOut]:
    """Urgent first, then oldest first, with each SLA timer's countdown."""
    rows = service.list_complaints(
        ctx.session, actor=ctx.actor, state=state, open_only=open_only, limit=page * per_page + 1
    )
    window = rows[(page - 1) * per_page : page * per_page]
    return Page[ComplaintOut](
        items=[complaint_out(c, ctx.now) for c in window],
        page=page,
        per_page=per_page,
        has_more=len(rows) > page * per_page,
    )


@router.post("/complaints", response_model=ComplaintOut, status_code=status.HTTP_201_CREATED)
def create_complaint(body: ComplaintIn, ctx: CurrentCtx) -> ComplaintOut:
    """Take a complaint (投诉受理); the SLA timers start at ``received_at``."""
    complaint = service.create_complaint(
        ctx.session,
        actor=ctx.actor,
        channel=body.channel,
        category=body.category,
        description=body.description,
        received_at=body.received_at or ctx.now,
        priority=body.priority,
        customer_id=body.customer_id or None,
        loan_id=body.loan_id or None,
    )
    return complaint_out(complaint, ctx.now)


@router.get("/complaints/{complaint_id}", response_model=ComplaintOut)
def get_complaint(complaint_id: int, ctx: CurrentCtx) -> ComplaintOut:
    service.history(ctx.session, actor=ctx.actor, complaint_id=complaint_id)  # authorises
    return complaint_out(service.get_complaint(ctx.session, complaint_id), ctx.now)


@router.post("/complaints/{complaint_id}/response", response_model=ComplaintOut)
def respond(complaint_id: int, body: ResponseIn, ctx: CurrentCtx) -> ComplaintOut:
    """First response to the complainant (stops the response timer)."""
    complaint = service.respond(
        ctx.session, actor=ctx.actor, complaint_id=complaint_id, note=body.note, at=ctx.now
    )
    return complaint_out(complaint, ctx.now)
