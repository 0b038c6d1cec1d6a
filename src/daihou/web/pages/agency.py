"""Agency pages: management (the whitelist with KPIs, ranking and the elimination
flag; one agency with its commission statement, xlsx download, recall and status) and
the agency portal (an agency user's placed cases, one case as the agency may see it,
logging an action)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from daihou.collection.agencies import kpis, portal, recall, registry
from daihou.collection.agencies.models import AGENCY_STATUSES
from daihou.collection.agencies.portal import NOTE_KINDS
from daihou.eod.calendar import business_date
from daihou.web.api.agencies import active_count, period, statement_of
from daihou.web.deps import CurrentCtx
from daihou.web.i18n import translator
from daihou.web.pages.common import page, see_other
from daihou.web.rendering import NavItem

router = APIRouter(include_in_schema=False)

NAV = [
    NavItem("Agencies", "/agencies", "agency.manage", 60),
    NavItem("Placed cases", "/portal", "case.view", 10, frozenset({"agency-user"})),
]


@router.get("/agencies")
def agencies_page(
    request: Request, ctx: CurrentCtx, start: date | None = None, end: date | None = None
) -> HTMLResponse:
    agencies = registry.list_agencies(ctx.session, actor=ctx.actor)
    start, end = period(ctx.session, start, end)
    ranked = kpis.agency_kpis(ctx.session, actor=ctx.actor, start=start, end=end)
    return page(
        request,
        ctx,
        "agency/list.html",
        agencies={a.id: a for a in agencies},
        ranked=ranked,
        start=start,
        end=end,
    )


@router.get("/agencies/{agency_id}")
def agency_page(
    request: Request,
    agency_id: str,
    ctx: CurrentCtx,
    month: Annotated[str | None, Query(max_length=7)] = None,
) -> HTMLResponse:
    registry.list_agencies(ctx.session, actor=ctx.actor)  # agency.manage
    agency = registry.get_agency(ctx.session, agency_id)
    month = month or business_date(ctx.session).strftime("%Y-%m")
    statement = statement_of(ctx, agency_id, month)
    start, end = period(ctx.session, None, None)
    ranked = kpis.agency_kpis(ctx.session, actor=ctx.actor, start=start, end=end)
    return page(
        request,
        ctx,
        "agency/detail.html",
        agency=agency,
        active=active_count(ctx.session, agency_id),
        kpi=next((k for k in ranked if k.agency_id == agency_id), None),
        start=start,
        end=end,
        month=month,
        statement=statement,
        statuses=AGENCY_STATUSES,
    )


@router.post("/agencies/{agency_id}/recall")
def recall_case(
    agency_id: str,
    ctx: CurrentCtx,
    case_id: Annotated[int, Form()],
    reason: Annotated[str, Form(min_length=1, max_length=1000)],
) -> Response:
    recall.recall_case(ctx.session, actor=ctx.actor, case_id=case_id, reason=reason)
    _ = translator(ctx.locale)
    return see_other(f"/agencies/{agency_id}", notice=f"{_('Case recalled')}: {case_id}")


@router.post("/agencies/{agency_id}/status")
def set_status(
    agency_id: str,
    ctx: CurrentCtx,
    status: Annotated[str, Form(max_length=16)],
    reason: Annotated[str, Form(min_length=1, max_length=1000)],
) -> Response:
    _agency, recalled = registry.set_status(
        ctx.session, actor=ctx.actor, agency_id=agency_id, status=status, reason=reason
    )
    _ = translator(ctx.locale)
    return see_other(
        f"/agencies/{agency_id}", notice=f"{_('Status changed')}: {_(status)} ({recalled})"
    )


@router.get("/portal")
def portal_page(request: Request, ctx: CurrentCtx) -> HTMLResponse:
    cases = portal.my_cases(ctx.session, actor=ctx.actor)
    return page(request, ctx, "agency/portal.html", cases=cases)


@router.get("/portal/cases/{case_id}")
def portal_case(request: Request, case_id: int, ctx: CurrentCtx) -> HTMLResponse:
    case = portal.view_case(ctx.session, actor=ctx.actor, case_id=case_id)
    notes = portal.case_notes(ctx.session, actor=ctx.actor, case_id=case_id)
    return page(request, ctx, "agency/portal_case.html", c=case, notes=notes, kinds=NOTE_KINDS)


@router.post("/portal/cases/{case_id}/actions")
def portal_log(
    case_id: int,
    ctx: CurrentCtx,
    kind: Annotated[str, Form(max_length=24)],
    note: Annotated[str, Form(min_length=1, max_length=4000)],
) -> Response:
    portal.log_note(ctx.session, actor=ctx.actor, case_id=case_id, kind=kind, note=note)
    _ = translator(ctx.locale)
    return see_other(f"/portal/cases/{case_id}", notice=_("Action logged"))
