"""KPIs: one closed day, the trend, roll rates, the daily report as xlsx."""

from __future__ import annotations

import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from daihou.analytics import dashboard
from daihou.analytics.kpis import previous_month_end
from daihou.analytics.report import write_xlsx
from daihou.web.api.schemas import ERRORS
from daihou.web.deps import CurrentCtx

router = APIRouter(tags=["kpis"], responses=ERRORS)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _day(ctx: CurrentCtx, on: date | None) -> date:
    if on is not None:
        return on
    latest = dashboard.latest_kpi_date(ctx.session, actor=ctx.actor)
    if latest is None:
        raise LookupError("date: no business date has been closed yet")
    return latest


@router.get("/kpis/daily")
def get_daily(
    ctx: CurrentCtx, on: Annotated[date | None, Query(alias="date")] = None
) -> dict[str, Any]:
    """The KPIs of a closed business date (default: the latest). Amounts and ratios are
    decimal strings."""
    return dashboard.daily(ctx.session, actor=ctx.actor, on=_day(ctx, on))


@router.get("/kpis/trend")
def get_trend(
    ctx: CurrentCtx,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
) -> dict[str, Any]:
    """Balance, overdue and NPL per closed day; M1 cure per month-end."""
    return dashboard.trend(ctx.session, actor=ctx.actor, start=start, end=end)


@router.get("/kpis/roll-rates")
def get_roll_rates(
    ctx: CurrentCtx,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
    by: Literal["count", "amount"] = "count",
) -> dict[str, Any]:
    """Bucket-to-bucket roll rates between two dates (default: the last month-end
    before the latest closed date → that date)."""
    last = _day(ctx, end)
    first = start or previous_month_end(last)
    return dashboard.roll_rate_grid(ctx.session, actor=ctx.actor, start=first, end=last, by=by)


@router.get("/kpis/recoveries")
def get_recoveries(
    ctx: CurrentCtx,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
) -> dict[str, Any]:
    """Cash recovered (repayments, prepayments, recoveries after write-off; posted, not
    reversed) by the bucket each loan was in before the value date (default: the month
    to the latest closed date)."""
    last = _day(ctx, end)
    first = start or previous_month_end(last) + timedelta(days=1)
    return dashboard.recoveries(ctx.session, actor=ctx.actor, start=first, end=last)


@router.get("/kpis/report.xlsx", response_class=Response)
def get_report(ctx: CurrentCtx, on: Annotated[date | None, Query(alias="date")] = None) -> Response:
    """The daily report as an Excel workbook."""
    day = _day(ctx, on)
    data = dashboard.daily(ctx.session, actor=ctx.actor, on=day)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "report.xlsx"
        write_xlsx(data, path)
        body = path.read_bytes()
    return Response(
        body,
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="daihou-kpis-{day}.xlsx"'},
    )
