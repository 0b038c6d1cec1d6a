"""Complaints (投诉): intake for anyone who takes complaints, the queue with the SLA
countdown (deadlines in working days, computed by the complaints service) for those
who handle them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from daihou.auth.permissions import authorize, is_allowed
from daihou.compliance.complaints import service
from daihou.compliance.complaints.sla import CATEGORIES, CHANNELS, PRIORITIES, timers
from daihou.web.deps import CurrentCtx
from daihou.web.i18n import translator
from daihou.web.pages.common import page, see_other
from daihou.web.rendering import NavItem

router = APIRouter(include_in_schema=False)

NAV = [
    NavItem("Complaints", "/complaints", "complaint.view", 50),
    NavItem("New complaint", "/complaints/new", "complaint.create", 55),
]


def countdown(due: datetime, now: datetime, locale: str) -> str:
    """The time left (or overdue) as the page first shows it; app.js keeps it fresh."""
    seconds = int((due - now).total_seconds())
    s = abs(seconds)
    d, h, m = s // 86400, (s % 86400) // 3600, (s % 3600) // 60
    if locale == "zh_CN":
        body = (f"{d}天" if d else "") + f"{h}小时{m}分"
        return ("已超时 " if seconds < 0 else "剩余 ") + body
    body = (f"{d}d " if d else "") + f"{h}h {m}m"
    return ("overdue " if seconds < 0 else "left ") + body


@router.get("/complaints")
def queue(
    request: Request, ctx: CurrentCtx, state: str | None = None, all: bool = False
) -> HTMLResponse:
    rows = service.list_complaints(
        ctx.session,
        actor=ctx.actor,
        state=state or None,
        open_only=not all and not state,
        limit=500,
    )
    items = [
        {
            "c": c,
            "timers": [
                {"t": t, "text": countdown(t.due_at, ctx.now, ctx.locale)}
                for t in timers(c, now=ctx.now)
            ],
        }
        for c in rows
    ]
    return page(request, ctx, "complaints/queue.html", items=items, all=all, state=state or "")


@router.get("/complaints/new")
def intake_form(request: Request, ctx: CurrentCtx, created: int | None = None) -> HTMLResponse:
    authorize(ctx.actor, "complaint.create")
    return page(
        request,
        ctx,
        "complaints/new.html",
        channels=CHANNELS,
        categories=CATEGORIES,
        priorities=PRIORITIES,
        created=created,
    )


@router.post("/complaints")
def intake_submit(
    ctx: CurrentCtx,
    channel: Annotated[str, Form(max_length=24)],
    category: Annotated[str, Form(max_length=32)],
    description: Annotated[str, Form(max_length=4000)],
    priority: Annotated[str, Form(max_length=8)] = "",
    loan_id: Annotated[str, Form(max_length=64)] = "",
    customer_id: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    complaint = service.create_complaint(
        ctx.session,
        actor=ctx.actor,
        channel=channel,  # type: ignore[arg-type]  # checked by the service
        category=category,  # type: ignore[arg-type]
        description=description,
        received_at=ctx.now,
        priority=priority or None,  # type: ignore[arg-type]
        loan_id=loan_id.strip() or None,
        customer_id=customer_id.strip() or None,
    )
    _ = translator(ctx.locale)
    return see_other(
        "/complaints/new",
        created=complaint.id,
        notice=f"{_('Complaint registered')}: {complaint.id}",
    )


@router.get("/complaints/{complaint_id}")
def detail(request: Request, complaint_id: int, ctx: CurrentCtx) -> HTMLResponse:
    events = service.history(ctx.session, actor=ctx.actor, complaint_id=complaint_id)
    complaint = service.get_complaint(ctx.session, complaint_id)
    items = [
        {"t": t, "text": countdown(t.due_at, ctx.now, ctx.locale)}
        for t in timers(complaint, now=ctx.now)
    ]
    return page(
        request,
        ctx,
        "complaints/detail.html",
        c=complaint,
        timers=items,
        events=events,
        can_respond=complaint.state == "received" and is_allowed(ctx.actor, "complaint.handle"),
    )


@router.post("/complaints/{complaint_id}/response")
def respond(
    complaint_id: int, ctx: CurrentCtx, note: Annotated[str, Form(max_length=4000)]
) -> Response:
    """First response to the complainant (stops the response timer)."""
    service.respond(ctx.session, actor=ctx.actor, complaint_id=complaint_id, note=note, at=ctx.now)
    _ = translator(ctx.locale)
    return see_other(f"/complaints/{complaint_id}", notice=_("Response recorded"))
