"""Recovery by bucket (按逾期阶段回收): the cash that came in over a period, by the
bucket the loan was in the day before the money's value date.

Cash is what a borrower paid: repayments, prepayments and recoveries after write-off,
posted and not reversed. The bucket is the loan's latest end-of-day snapshot before the
value date, so a payment that cures an M2 loan counts for M2; a loan with no snapshot
before then (disbursed that day) counts as current (the first bucket).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from daihou.analytics.kpis import sum_fen
from daihou.eod.models import LoanSnapshot
from daihou.kernel.money import from_fen
from daihou.payments.models import Transaction

CASH_KINDS = ("repayment", "prepayment", "recovery")


def recovery_by_bucket(
    session: Session, start: date, end: date, buckets: list[str]
) -> dict[str, Any]:
    """Payments and amount (decimal strings) per bucket, value dates ``start``–``end``
    inclusive, every bucket of ``buckets`` listed (zeros too), plus the total."""
    if start > end:
        raise ValueError(f"start: {start} is after end {end}")
    t, s = Transaction, LoanSnapshot
    bucket_before = (
        select(s.bucket)
        .where(s.loan_id == t.loan_id, s.business_date < t.value_date)
        .order_by(s.business_date.desc())
        .limit(1)
        .correlate(t)
        .scalar_subquery()
    )
    paid = (
        select(bucket_before.label("bucket"), t.amount.label("amount"))
        .where(
            t.kind.in_(CASH_KINDS),
            t.status == "posted",
            t.value_date >= start,
            t.value_date <= end,
        )
        .subquery()
    )
    rows = session.execute(
        select(paid.c.bucket, sum_fen(paid.c.amount), func.count()).group_by(paid.c.bucket)
    ).all()
    found: dict[str, tuple[int, int]] = {}
    first = buckets[0] if buckets else "M0"
    for bucket, fen, n in rows:
        key = bucket or first
        old = found.get(key, (0, 0))
        found[key] = (old[0] + int(n), old[1] + int(fen))
    names = [*buckets, *sorted(k for k in found if k not in buckets)]
    out: list[dict[str, Any]] = []
    for name in names:
        n, fen = found.get(name, (0, 0))
        out.append({"bucket": name, "payments": n, "amount": str(from_fen(fen))})
    total_n = sum(n for n, _ in found.values())
    total_fen = sum(fen for _, fen in found.values())
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "rows": out,
        "total": {"payments": total_n, "amount": str(from_fen(total_fen))},
    }
