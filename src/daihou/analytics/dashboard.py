"""What the risk dashboard and the KPI API read: series over the KPIs end of day
stored (``daily_kpis``), the roll-rate matrix as a grid, the M1 cure trend and the
cash recovered by bucket.

Everything here is aggregate (no personal data) and needs ``kpi.view``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from daihou.analytics.kpis import roll_rates
from daihou.analytics.recoveries import recovery_by_bucket
from daihou.auth.actor import Actor
from daihou.auth.permissions import authorize
from daihou.eod.models import DailyKpi
from daihou.policy import PolicyPack
from daihou.policy.loader import load_pack

MAX_POINTS = 800
TREND_FIELDS = ("balance", "overdue_balance", "npl_balance", "overdue_rate", "npl_ratio")


def bucket_names(pack: PolicyPack | None = None) -> list[str]:
    return [b.name for b in (pack or load_pack()).delinquency.buckets]


def latest_kpi_date(session: Session, *, actor: Actor) -> date | None:
    authorize(actor, "kpi.view")
    row = session.execute(
        select(DailyKpi.business_date).order_by(DailyKpi.business_date.desc()).limit(1)
    ).first()
    return None if row is None else row[0]


def daily(session: Session, *, actor: Actor, on: date) -> dict[str, Any]:
    """The KPIs stored for ``on`` (a closed business date)."""
    authorize(actor, "kpi.view")
    row = session.get(DailyKpi, on)
    if row is None:
        raise LookupError(f"date: {on} has not been closed by end of day (no KPIs stored)")
    return dict(row.data)


def trend(
    session: Session, *, actor: Actor, start: date | None = None, end: date | None = None
) -> dict[str, Any]:
    """Daily series of balance, overdue and NPL (amounts as strings) between two dates
    (default: the last ``MAX_POINTS`` closed dates), plus M1 cure per month-end."""
    authorize(actor, "kpi.view")
    if start is not None and end is not None and start > end:
        raise ValueError(f"start: {start} is after end {end}")
    query = select(DailyKpi).order_by(DailyKpi.business_date.desc()).limit(MAX_POINTS)
    if start is not None:
        query = query.where(DailyKpi.business_date >= start)
    if end is not None:
        query = query.where(DailyKpi.business_date <= end)
    rows = list(reversed(list(session.scalars(query))))
    series: dict[str, list[str]] = {f: [] for f in TREND_FIELDS}
    dates: list[str] = []
    cure: list[dict[str, str]] = []
    for row in rows:
        data = row.data
        dates.append(row.business_date.isoformat())
        for f in TREND_FIELDS:
            series[f].append(str(data.get(f, "0")))
        rolls = data.get("roll_rates")
        if rolls:
            cure.append(
                {
                    "month_end": row.business_date.isoformat(),
                    "by_count": rolls["m1_cure_rate_by_count"],
                    "by_amount": rolls["m1_cure_rate_by_amount"],
                }
            )
    return {"dates": dates, "series": series, "m1_cure": cure}


def roll_rate_grid(
    session: Session,
    *,
    actor: Actor,
    start: date,
    end: date,
    by: str = "count",
    pack: PolicyPack | None = None,
) -> dict[str, Any]:
    """The roll-rate matrix from ``start`` to ``end`` as rows × columns of rates (for a
    heat map): rows are the buckets at ``start``, columns the buckets at ``end`` plus
    ``closed``."""
    authorize(actor, "kpi.view")
    if by not in ("count", "amount"):
        raise ValueError(f"by: {by!r} is not one of count, amount")
    if start >= end:
        raise ValueError(f"start: {start} must be before end {end}")
    names = bucket_names(pack)
    data = roll_rates(session, start, end, names)
    cols = [*names, "closed"]
    cells = []
    for i, src in enumerate(names):
        row = data["matrix"].get(src, {})
        for j, dst in enumerate(cols):
            cell = row.get(dst)
            if cell is not None:
                cells.append([j, i, cell[f"rate_by_{by}"], cell["count"], cell["amount"]])
    return {
        "from": data["from"],
        "to": data["to"],
        "rows": names,
        "columns": cols,
        "cells": cells,
        "m1_cure_rate_by_count": data["m1_cure_rate_by_count"],
        "m1_cure_rate_by_amount": data["m1_cure_rate_by_amount"],
    }


def recoveries(
    session: Session,
    *,
    actor: Actor,
    start: date,
    end: date,
    pack: PolicyPack | None = None,
) -> dict[str, Any]:
    """Cash recovered between two value dates by the bucket the loan was in before."""
    authorize(actor, "kpi.view")
    return recovery_by_bucket(session, start, end, bucket_names(pack))
