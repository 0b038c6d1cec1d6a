"""Supervisor pages: the team board (table and chart), the approvals inbox with the
decision form (maker–checker shown and enforced by the services), case reassignment
and the hand-over of a leaver's cases (离职移交)."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from daihou.auth.permissions import authorize
from daihou.collection.approval_actions import (
    KINDS,
    decide_request,
    get_request,
    inbox,
    may_decide,
)
from daihou.collection.assign import reassign_case, transfer_cases
from daihou.collection.board import steered_collectors
from daihou.web.api.supervision import board_of
from daihou.web.deps import CurrentCtx
from daihou.web.i18n import translator
from daihou.web.pages.common import page, see_other
from daihou.web.rendering import NavItem

router = APIRouter(include_in_schema=False)

NAV = [
    NavItem("Team board", "/supervisor", "case.assign", 20),
    NavItem("Approvals", "/approvals", "plan.approve", 22),
    NavItem("Reassign", "/reassign", "case.assign", 24),
]

_CASE_IDS = re.compile(r"[\s,，;；]+")


def parse_case_ids(text: str) -> list[int]:
    """``"12, 13 14"`` → [12, 13, 14]; anything else names the field."""
    ids: list[int] = []
    for part in _CASE_IDS.split(text.strip()):
        if not part:
            continue
        if not part.isdigit() or len(part) > 18:
            raise ValueError(f"case_ids: {part!r} is not a case number")
        ids.append(int(part))
    if not ids:
        raise ValueError("case_ids: give at least one case number")
    return list(dict.fromkeys(ids))


@router.get("/supervisor")
def board_page(
    request: Request,
    ctx: CurrentCtx,
    on: Annotated[date | None, Query(alias="date")] = None,
    since: date | None = None,
) -> HTMLResponse:
    board = board_of(ctx, on, since)
    _ = translator(ctx.locale)
    chart = {
        "collectors": [r.collector for r in board.rows],
        "series": {
            "tasks_done": [r.tasks_done for r in board.rows],
            "tasks_pending": [r.tasks_pending for r in board.rows],
            "contacts": [r.contacts for r in board.rows],
        },
        "labels": {
            "tasks_done": _("Tasks done"),
            "tasks_pending": _("Tasks pending"),
            "contacts": _("Contacts"),
        },
    }
    return page(
        request,
        ctx,
        "supervisor/board.html",
        board=board,
        total=board.total(),
        chart_json=json.dumps(chart, ensure_ascii=False).replace("</", "<\\/"),
    )


@router.get("/approvals")
def inbox_page(request: Request, ctx: CurrentCtx, kind: str | None = None) -> HTMLResponse:
    rows = inbox(ctx.session, actor=ctx.actor, kind=kind or None)
    return page(request, ctx, "supervisor/approvals.html", rows=rows, kinds=KINDS, kind=kind or "")


@router.get("/approvals/{request_id}")
def approval_page(request: Request, request_id: int, ctx: CurrentCtx) -> HTMLResponse:
    req = get_request(ctx.session, actor=ctx.actor, request_id=request_id)
    verdict = may_decide(ctx.session, actor=ctx.actor, req=req)
    return page(
        request,
        ctx,
        "supervisor/approval.html",
        req=req,
        verdict=verdict,
        own=req.requested_by == ctx.actor.user_id,
    )


@router.post("/approvals/{request_id}/decision")
def decide(
    request_id: int,
    ctx: CurrentCtx,
    decision: Annotated[Literal["approve", "reject"], Form()],
    comment: Annotated[str, Form(min_length=1, max_length=2000)],
) -> Response:
    req = decide_request(
        ctx.session,
        actor=ctx.actor,
        request_id=request_id,
        approve=decision == "approve",
        reason=comment,
    )
    _ = translator(ctx.locale)
    done = _("Approved") if req.status == "approved" else _("Rejected")
    return see_other(f"/approvals/{request_id}", notice=f"{done}: {request_id}")


@router.get("/reassign")
def reassign_page(request: Request, ctx: CurrentCtx, case: int | None = None) -> HTMLResponse:
    authorize(ctx.actor, "case.assign")
    collectors = steered_collectors(ctx.session, actor=ctx.actor)
    return page(request, ctx, "supervisor/reassign.html", collectors=collectors, case=case)


@router.post("/reassign")
def reassign(
    ctx: CurrentCtx,
    case_ids: Annotated[str, Form(max_length=5000)],
    to_user_id: Annotated[str, Form(min_length=1, max_length=64)],
    reason: Annotated[str, Form(min_length=1, max_length=500)],
) -> Response:
    """All or none: a case that cannot move refuses the whole form."""
    ids = parse_case_ids(case_ids)
    for case_id in ids:
        reassign_case(
            ctx.session, case_id=case_id, to_user_id=to_user_id, reason=reason, actor=ctx.actor
        )
    _ = translator(ctx.locale)
    moved = ", ".join(str(i) for i in ids)
    return see_other("/reassign", notice=f"{_('Cases reassigned')} → {to_user_id}: {moved}")


@router.post("/transfer")
def transfer(
    ctx: CurrentCtx,
    from_user_id: Annotated[str, Form(min_length=1, max_length=64)],
    to_user_id: Annotated[str, Form(min_length=1, max_length=64)],
    reason: Annotated[str, Form(min_length=1, max_length=500)],
) -> Response:
    moved = transfer_cases(
        ctx.session,
        from_user_id=from_user_id,
        to_user_id=to_user_id,
        reason=reason,
        actor=ctx.actor,
    )
    _ = translator(ctx.locale)
    return see_other(
        "/reassign",
        notice=f"{_('Cases handed over')} {from_user_id} → {to_user_id}: {len(moved)}",
    )
