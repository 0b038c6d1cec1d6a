"""Risk and management dashboard: balance, overdue and NPL trends, bucket and class
distribution, the roll-rate heat map, the M1 cure trend and recovery by bucket (Apache
ECharts, served by daihou), and the daily report as xlsx."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from daihou.analytics import dashboard
from daihou.analytics.kpis import previous_month_end
from daihou.kernel.delinquency import CLASSES
from daihou.web.api.kpis import get_report
from daihou.web.deps import CurrentCtx
from daihou.web.i18n import translator
from daihou.web.pages.common import page
from daihou.web.rendering import NavItem

router = APIRouter(include_in_schema=False)

NAV = [NavItem("Dashboard", "/dashboard", "kpi.view", 40)]


@router.get("/dashboard")
def dashboard_page(
    request: Request,
    ctx: CurrentCtx,
    on: Annotated[date | None, Query(alias="date")] = None,
    by: Annotated[str, Query(pattern="^(count|amount)$")] = "count",
) -> HTMLResponse:
    latest = dashboard.latest_kpi_date(ctx.session, actor=ctx.actor)
    day = on or latest
    data = None
    if day is not None:
        _ = translator(ctx.locale)
        daily = dashboard.daily(ctx.session, actor=ctx.actor, on=day)
        data = {
            "day": day.isoformat(),
            "daily": daily,
            "trend": dashboard.trend(ctx.session, actor=ctx.actor, end=day),
            "rolls": dashboard.roll_rate_grid(
                ctx.session, actor=ctx.actor, start=previous_month_end(day), end=day, by=by
            ),
            "recoveries": dashboard.recoveries(
                ctx.session,
                actor=ctx.actor,
                start=previous_month_end(day) + timedelta(days=1),
                end=day,
            ),
            "labels": {
                "balance": _("Balance"),
                "overdue_balance": _("Overdue balance"),
                "npl_balance": _("NPL balance"),
                "count": _("Loans"),
                "from": _("From bucket"),
                "to": _("To bucket"),
                "cure_count": _("M1 cure rate by count"),
                "cure_amount": _("M1 cure rate by amount"),
                "recovered": _("Recovered"),
                "payments": _("Payments"),
                **{name: _(name) for name in (*CLASSES, "closed")},
            },
        }
    return page(
        request,
        ctx,
        "dashboard/index.html",
        day=day,
        by=by,
        data=data,
        data_json=json.dumps(data, ensure_ascii=False).replace("</", "<\\/") if data else "null",
    )


@router.get("/dashboard/report.xlsx")
def dashboard_report(
    ctx: CurrentCtx, on: Annotated[date | None, Query(alias="date")] = None
) -> Response:
    return get_report(ctx, on)
