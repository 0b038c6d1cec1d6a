"""The daily report: the KPIs end of day stored for a date, as JSON or an Excel workbook
with one sheet per table."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from sqlalchemy.orm import Session

from daihou.eod.models import DailyKpi


def daily_report(session: Session, d: date) -> dict[str, Any]:
    row = session.get(DailyKpi, d)
    if row is None:
        raise ValueError(f"--date: {d} has not been closed by end of day (no KPIs stored)")
    return dict(row.data)


def _num(value: str) -> Decimal | str:
    try:
        return Decimal(value)
    except Exception:
        return value


def write_xlsx(data: dict[str, Any], path: Path) -> None:
    wb = Workbook()
    summary = wb.active
    assert summary is not None
    summary.title = "summary"
    summary.append(["metric", "value"])
    for key in (
        "business_date",
        "loans",
        "balance",
        "overdue_balance",
        "overdue_rate",
        "overdue_principal",
        "npl_balance",
        "npl_ratio",
    ):
        value = data[key]
        summary.append(
            [key, _num(value) if isinstance(value, str) and key != "business_date" else value]
        )
    for title, key in (("buckets", "by_bucket"), ("classes", "by_class")):
        ws = wb.create_sheet(title)
        ws.append([title[:-1], "count", "balance"])
        for name, v in data[key].items():
            ws.append([name, v["count"], _num(v["balance"])])
    rolls = data.get("roll_rates")
    if rolls:
        ws = wb.create_sheet("roll rates")
        ws.append(
            ["from bucket", "to bucket", "count", "amount", "rate by count", "rate by amount"]
        )
        for src, cells in rolls["matrix"].items():
            for dst, c in cells.items():
                ws.append(
                    [
                        src,
                        dst,
                        c["count"],
                        _num(c["amount"]),
                        _num(c["rate_by_count"]),
                        _num(c["rate_by_amount"]),
                    ]
                )
        cure = wb.create_sheet("M1 cure")
        cure.append(["from", "to", "by count", "by amount"])
        cure.append(
            [
                rolls["from"],
                rolls["to"],
                _num(rolls["m1_cure_rate_by_count"]),
                _num(rolls["m1_cure_rate_by_amount"]),
            ]
        )
    wb.save(path)
