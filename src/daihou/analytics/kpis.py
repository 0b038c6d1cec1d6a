"""Daily portfolio KPIs (set-based) and month-over-month roll rates / M1 cure.

Definitions (POLICY.md §11): overdue balance (逾期贷款余额) = outstanding principal of
loans with DPD > 0; overdue rate = overdue balance / balance; NPL (不良) = outstanding
principal of loans classed substandard, doubtful or loss; roll rate from bucket A to B =
share of loans (count and amount at the start) in A at the previous month-end that are
in B at this one; M1 cure = M1 → M0.
"""

from __future__ import annotations

import calendar
from datetime import date
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import BigInteger, Table, and_, func, select, type_coerce
from sqlalchemy.orm import Session

from daihou.eod.models import LoanSnapshot
from daihou.kernel.delinquency import CLASSES, NPL_CLASSES
from daihou.kernel.money import ZERO, fmt
from daihou.loans.models import UNSETTLED, Installment, Loan, via_unsettled

SNAPS = cast(Table, LoanSnapshot.__table__)


def sum_fen(col: Any) -> Any:
    """SUM of a money column as raw integer fen (no Decimal conversion)."""
    return func.coalesce(func.sum(type_coerce(col, BigInteger)), 0)


def _ratio(part: Decimal, whole: Decimal) -> str:
    return f"{(part / whole):.6f}" if whole else "0.000000"


def is_month_end(d: date) -> bool:
    return d.day == calendar.monthrange(d.year, d.month)[1]


def previous_month_end(d: date) -> date:
    first = d.replace(day=1)
    prev = date.fromordinal(first.toordinal() - 1)
    return prev


def overdue_principal_fen(session: Session, d: date) -> int:
    """Σ unpaid principal of the unsettled installments due before ``d``, every loan."""
    inst = cast(Table, Installment.__table__)
    return int(
        session.execute(
            via_unsettled(
                select(sum_fen(inst.c.principal_due) - sum_fen(inst.c.principal_paid)).where(
                    UNSETTLED, inst.c.due_date < d
                )
            )
        ).scalar_one()
    )


def snapshot_overdue_principal_fen(session: Session, d: date) -> int:
    """The same sum read from the day's snapshot rows: equal to ``overdue_principal_fen``
    when those rows cover every loan with an unsettled installment, as an ordinary day's
    do (``eod.steps.touched_ids``) — not a full run's, which pictures active loans only."""
    return int(
        session.execute(
            select(sum_fen(SNAPS.c.overdue_principal)).where(SNAPS.c.business_date == d)
        ).scalar_one()
    )


def daily_kpis(
    session: Session, d: date, buckets: list[str], *, overdue_fen: int | None = None
) -> dict[str, Any]:
    """The day's figures; ``overdue_fen`` is the overdue principal when the caller has it
    (``overdue_principal_fen`` otherwise)."""
    loans = cast(Table, Loan.__table__)
    rows = session.execute(
        select(
            loans.c.bucket,
            loans.c.risk_class,
            func.count(),
            sum_fen(loans.c.outstanding_principal),
        )
        .where(loans.c.status == "active")
        .group_by(loans.c.bucket, loans.c.risk_class)
    ).all()
    by_bucket: dict[str, dict[str, Any]] = {b: {"count": 0, "balance": ZERO} for b in buckets}
    by_class: dict[str, dict[str, Any]] = {c: {"count": 0, "balance": ZERO} for c in CLASSES}
    balance = overdue = npl = ZERO
    count = 0
    for bucket, risk_class, n, fen in rows:
        amount = Decimal(int(fen)) / 100
        count += n
        balance += amount
        by_bucket.setdefault(bucket, {"count": 0, "balance": ZERO})
        by_bucket[bucket]["count"] += n
        by_bucket[bucket]["balance"] += amount
        by_class[risk_class]["count"] += n
        by_class[risk_class]["balance"] += amount
        if bucket != buckets[0]:
            overdue += amount
        if risk_class in NPL_CLASSES:
            npl += amount
    overdue_amount_fen = overdue_principal_fen(session, d) if overdue_fen is None else overdue_fen
    data: dict[str, Any] = {
        "business_date": d.isoformat(),
        "loans": count,
        "balance": fmt(balance),
        "overdue_balance": fmt(overdue),
        "overdue_rate": _ratio(overdue, balance),
        "overdue_principal": fmt(Decimal(overdue_amount_fen) / 100),
        "npl_balance": fmt(npl),
        "npl_ratio": _ratio(npl, balance),
        "by_bucket": {
            k: {"count": v["count"], "balance": fmt(v["balance"])} for k, v in by_bucket.items()
        },
        "by_class": {
            k: {"count": v["count"], "balance": fmt(v["balance"])} for k, v in by_class.items()
        },
    }
    if is_month_end(d):
        data["roll_rates"] = roll_rates(session, previous_month_end(d), d, buckets)
    return data


def _state_on(d: date) -> Any:
    """Each loan's latest snapshot on or before ``d``."""
    latest = (
        select(SNAPS.c.loan_id, func.max(SNAPS.c.business_date).label("at"))
        .where(SNAPS.c.business_date <= d)
        .group_by(SNAPS.c.loan_id)
        .subquery()
    )
    return (
        select(SNAPS.c.loan_id, SNAPS.c.bucket, SNAPS.c.status, SNAPS.c.outstanding_principal)
        .join(
            latest, and_(latest.c.loan_id == SNAPS.c.loan_id, latest.c.at == SNAPS.c.business_date)
        )
        .subquery()
    )


def roll_rates(session: Session, start: date, end: date, buckets: list[str]) -> dict[str, Any]:
    """Bucket-to-bucket migration from ``start`` to ``end`` by count and by amount (the
    outstanding principal at ``start``), and the M1 cure rate."""
    before, after = _state_on(start), _state_on(end)
    rows = session.execute(
        select(
            before.c.bucket,
            after.c.bucket,
            after.c.status,
            func.count(),
            sum_fen(before.c.outstanding_principal),
        )
        .join(after, after.c.loan_id == before.c.loan_id)
        .where(before.c.status == "active")
        .group_by(before.c.bucket, after.c.bucket, after.c.status)
    ).all()
    matrix: dict[str, dict[str, dict[str, Any]]] = {}
    totals: dict[str, list[Decimal]] = {}
    for src, dst, status, n, fen in rows:
        target = "closed" if status != "active" else dst
        cell = matrix.setdefault(src, {}).setdefault(target, {"count": 0, "amount": ZERO})
        cell["count"] += n
        cell["amount"] += Decimal(int(fen)) / 100
        t = totals.setdefault(src, [ZERO, ZERO])
        t[0] += n
        t[1] += Decimal(int(fen)) / 100
    out: dict[str, Any] = {"from": start.isoformat(), "to": end.isoformat(), "matrix": {}}
    for src, cells in matrix.items():
        n_total, amt_total = totals[src]
        out["matrix"][src] = {
            dst: {
                "count": c["count"],
                "amount": fmt(c["amount"]),
                "rate_by_count": _ratio(Decimal(c["count"]), n_total),
                "rate_by_amount": _ratio(c["amount"], amt_total),
            }
            for dst, c in cells.items()
        }
    m1 = out["matrix"].get(buckets[1], {}) if len(buckets) > 1 else {}
    cured = m1.get(buckets[0], {})
    closed = m1.get("closed", {})
    n_m1, amt_m1 = totals.get(buckets[1], [ZERO, ZERO]) if len(buckets) > 1 else [ZERO, ZERO]
    n_cured = Decimal(cured.get("count", 0) + closed.get("count", 0))
    amt_cured = Decimal(cured.get("amount", "0")) + Decimal(closed.get("amount", "0"))
    out["m1_cure_rate_by_count"] = _ratio(n_cured, Decimal(n_m1))
    out["m1_cure_rate_by_amount"] = _ratio(amt_cured, amt_m1)
    return out
