"""Pure rules of a repayment plan (分期还款, POLICY.md §7): installment count, equal
fixed amounts, due dates, and the affordability check against monthly income."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import ROUND_DOWN, Decimal

from daihou.collection.approval_policy import PlanSettings
from daihou.kernel.dates import add_months
from daihou.kernel.money import ZERO, q2, to_money


class PlanInvalid(ValueError):
    """Every problem of a plan request at once, each naming its field."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{field}: {msg}" for field, msg in problems))

    @property
    def field(self) -> str:
        return self.problems[0][0]


def equal_amounts(total: Decimal, count: int) -> list[Decimal]:
    """``count`` fixed amounts summing to ``total``: all equal (rounded down to the fen),
    the last taking the few fen left over."""
    base = q2(total / count, ROUND_DOWN)
    return [base] * (count - 1) + [total - base * (count - 1)]


def plan_dates(first_due: date, count: int, interval_months: int) -> list[date]:
    return [add_months(first_due, k * interval_months) for k in range(count)]


def check_plan(
    *,
    settings: PlanSettings,
    total: Decimal,
    count: object,
    monthly_income: object,
    first_due: date | None,
    today: date,
    amounts: Sequence[object] | None = None,
) -> tuple[Decimal, list[tuple[date, Decimal]]]:
    """Validate a plan request; return the income and the schedule, or raise
    ``PlanInvalid`` listing every bad field."""
    problems: list[tuple[str, str]] = []
    income = ZERO
    try:
        income = to_money(monthly_income, field="monthly_income")
        if income <= ZERO:
            problems.append(("monthly_income", "must be greater than 0"))
    except (ValueError, TypeError) as exc:
        problems.append(("monthly_income", str(exc)))
    n = count if isinstance(count, int) and not isinstance(count, bool) else -1
    lo, hi = settings.min_installments, settings.max_installments
    if amounts is not None:
        n = len(amounts)
    if not lo <= n <= hi:
        problems.append(("installments", f"must be between {lo} and {hi}; got {count}"))
    if total <= ZERO:
        problems.append(("loan_id", "nothing is overdue; there is nothing for a plan to replace"))
    if first_due is None or first_due <= today:
        problems.append(("first_due_on", f"must be after the business date {today}"))
    if problems:
        raise PlanInvalid(problems)
    assert first_due is not None
    if amounts is None:
        money = equal_amounts(total, n)
    else:
        money = []
        for k, value in enumerate(amounts, start=1):
            try:
                amount = to_money(value, field=f"amounts[{k}]")
            except (ValueError, TypeError) as exc:
                problems.append((f"amounts[{k}]", str(exc)))
                continue
            if amount <= ZERO:
                problems.append((f"amounts[{k}]", "must be greater than 0"))
            money.append(amount)
        if not problems and sum(money, ZERO) != total:
            problems.append(
                ("amounts", f"sum to {sum(money, ZERO)}, not the overdue amount {total}")
            )
        if not problems and len(set(money[:-1])) > 1:
            problems.append(("amounts", "installments must be fixed (equal but the last)"))
    cap = q2(income * settings.max_income_share, ROUND_DOWN)
    for k, amount in enumerate(money, start=1):
        if amount > cap:
            problems.append(
                (
                    f"amounts[{k}]",
                    f"{amount} exceeds {settings.max_income_share:%} of the monthly income "
                    f"{income} ({cap})",
                )
            )
    if problems:
        raise PlanInvalid(problems)
    dates = plan_dates(first_due, n, settings.interval_months)
    return income, list(zip(dates, money, strict=True))
