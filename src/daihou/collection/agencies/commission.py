"""Recoveries attributed to placements and the monthly commission statement (佣金结算单).

A placement's recoveries are the loan's repayments and prepayments that are still
posted (a reversed payment is not a recovery, whenever it was reversed) with a value
date in ``[placed_on, ended_on)``. The statement of a month has one line per placement
with recoveries valued in that month: commission = recovered × the rate fixed at
placement (the bucket's rate then), rounded to the fen with the pack's
``commission_rounding`` (default half-up, 四舍五入) on each line; bucket subtotals and
the total are sums of the rounded lines, so the lines always add up to the total. The
statement is computed from the transactions as they stand: regenerating a month after
a late reversal shows the corrected amount.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, Date, Select, and_, func, literal, select, type_coerce
from sqlalchemy.orm import Session

from daihou.auth.actor import Actor
from daihou.auth.permissions import authorize
from daihou.collection.agencies.models import Placement
from daihou.collection.agencies.registry import get_agency
from daihou.collection.agencies.settings import AgenciesLegalSettings, settings
from daihou.kernel.money import ZERO, from_fen, q2, rounding_mode
from daihou.payments.models import Transaction

RECOVERY_KINDS = ("repayment", "prepayment")
OPEN_END = date(9999, 12, 31)  # an active placement: no end yet


def recovered_fen_query(
    *, start: date | None = None, end: date | None = None, by: Any = Placement.id
) -> Select[tuple[Any, int]]:
    """``(key, recovered_fen)`` per ``by`` (default: the placement id; or e.g.
    ``Placement.agency_id``) for placements with recoveries, optionally only value
    dates in ``[start, end)``."""
    conditions = [
        Transaction.loan_id == Placement.loan_id,
        Transaction.kind.in_(RECOVERY_KINDS),
        Transaction.status == "posted",
        Transaction.value_date >= Placement.placed_on,
        Transaction.value_date < func.coalesce(Placement.ended_on, literal(OPEN_END, Date())),
    ]
    if start is not None:
        conditions.append(Transaction.value_date >= start)
    if end is not None:
        conditions.append(Transaction.value_date < end)
    return (
        select(by, func.sum(type_coerce(Transaction.amount, BigInteger)).label("recovered_fen"))
        .join(Transaction, and_(*conditions))
        .group_by(by)
    )


def month_bounds(month: str) -> tuple[date, date]:
    """``2026-10`` → (2026-10-01, 2026-11-01)."""
    try:
        year, mon = (int(part) for part in month.split("-"))
        start = date(year, mon, 1)
    except ValueError:
        raise ValueError(f"month: {month!r} is not YYYY-MM") from None
    end = date(year + 1, 1, 1) if mon == 12 else date(year, mon + 1, 1)
    return start, end


@dataclass(frozen=True, slots=True)
class StatementLine:
    placement_id: int
    case_id: int
    loan_id: str
    bucket: str
    placed_on: date
    ended_on: date | None
    rate: Decimal
    recovered: Decimal
    commission: Decimal


@dataclass(slots=True)
class Statement:
    agency_id: str
    agency_name: str
    month: str
    rounding: str
    lines: list[StatementLine] = field(default_factory=list)

    @property
    def recovered(self) -> Decimal:
        return sum((line.recovered for line in self.lines), ZERO)

    @property
    def commission(self) -> Decimal:
        return sum((line.commission for line in self.lines), ZERO)

    def by_bucket(self) -> dict[str, dict[str, Decimal]]:
        out: dict[str, dict[str, Decimal]] = {}
        for line in self.lines:
            sub = out.setdefault(line.bucket, {"recovered": ZERO, "commission": ZERO})
            sub["recovered"] += line.recovered
            sub["commission"] += line.commission
        return dict(sorted(out.items()))

    def as_dict(self) -> dict[str, Any]:
        return {
            "agency_id": self.agency_id,
            "agency_name": self.agency_name,
            "month": self.month,
            "rounding": self.rounding,
            "recovered": self.recovered,
            "commission": self.commission,
            "by_bucket": self.by_bucket(),
            "lines": [
                {
                    "placement_id": x.placement_id,
                    "case_id": x.case_id,
                    "loan_id": x.loan_id,
                    "bucket": x.bucket,
                    "placed_on": x.placed_on,
                    "ended_on": x.ended_on,
                    "rate": x.rate,
                    "recovered": x.recovered,
                    "commission": x.commission,
                }
                for x in self.lines
            ],
        }


def commission_statement(
    session: Session,
    *,
    actor: Actor,
    agency_id: str,
    month: str,
    config: AgenciesLegalSettings | None = None,
) -> Statement:
    """The agency's commission statement for ``month`` (``YYYY-MM``)."""
    authorize(actor, "agency.manage")
    config = config or settings()
    mode = rounding_mode(config.commission_rounding)
    agency = get_agency(session, agency_id)
    start, end = month_bounds(month)
    recovered = (
        recovered_fen_query(start=start, end=end).where(Placement.agency_id == agency_id).subquery()
    )
    rows = session.execute(
        select(Placement, recovered.c.recovered_fen)
        .join(recovered, recovered.c.id == Placement.id)
        .order_by(Placement.placed_on, Placement.id)
    ).all()
    statement = Statement(agency.id, agency.name, month, config.commission_rounding)
    for placement, fen in rows:
        amount = from_fen(int(fen))
        statement.lines.append(
            StatementLine(
                placement_id=placement.id,
                case_id=placement.case_id,
                loan_id=placement.loan_id,
                bucket=placement.bucket,
                placed_on=placement.placed_on,
                ended_on=placement.ended_on,
                rate=placement.commission_rate,
                recovered=amount,
                commission=q2(amount * placement.commission_rate, mode),
            )
        )
    return statement


_COLUMNS = [
    "placement_id",
    "case_id",
    "loan_id",
    "bucket",
    "placed_on",
    "ended_on",
    "rate",
    "recovered",
    "commission",
]


def _cells(line: StatementLine) -> list[Any]:
    return [
        line.placement_id,
        line.case_id,
        line.loan_id,
        line.bucket,
        line.placed_on.isoformat(),
        line.ended_on.isoformat() if line.ended_on else "",
        f"{line.rate:f}",
        f"{line.recovered:f}",
        f"{line.commission:f}",
    ]


def statement_csv(statement: Statement) -> str:
    """UTF-8 CSV: one row per line, then a ``total`` row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_COLUMNS)
    for line in statement.lines:
        writer.writerow(_cells(line))
    total = ["total", "", "", "", "", "", "", f"{statement.recovered:f}"]
    writer.writerow([*total, f"{statement.commission:f}"])
    return out.getvalue()


def write_statement_xlsx(statement: Statement, path: Path) -> None:
    """A workbook with the lines and a summary by bucket; amounts as numbers."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "lines"
    ws.append(_COLUMNS)
    for line in statement.lines:
        cells = _cells(line)
        ws.append([*cells[:6], line.rate, line.recovered, line.commission])
    summary = wb.create_sheet("summary")
    summary.append(["agency", statement.agency_id, statement.agency_name])
    summary.append(["month", statement.month])
    summary.append(["rounding", statement.rounding])
    summary.append(["bucket", "recovered", "commission"])
    for bucket, sub in statement.by_bucket().items():
        summary.append([bucket, sub["recovered"], sub["commission"]])
    summary.append(["total", statement.recovered, statement.commission])
    wb.save(path)
