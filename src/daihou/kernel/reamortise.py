"""Re-amortisation (重新摊还): the tail of a schedule after a partial prepayment
(部分提前还款) or a rate change (利率调整).

The tail is a new schedule that starts on ``from_date`` and falls due first on
``next_due``; if ``from_date`` is mid-period the first period is odd and its interest
is counted by days. Pass ``repayment_day`` = the loan's anchor day (its contractual
due day, e.g. 31) so that a clipped ``next_due`` (30 Apr) does not move later due
dates to the 30th.

``reduce-installment`` (减少月供) keeps the number of periods and lowers the payment;
``shorten-term`` (缩短期限) keeps the payment and drops periods.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Literal

from daihou.kernel.rates import RATE_CONTEXT
from daihou.kernel.schedule import (
    ScheduledInstallment,
    ScheduleTerms,
    fixed_principal_schedule,
    generate_schedule,
    level_payment,
    validate_terms,
)

Mode = Literal["reduce-installment", "shorten-term"]
MODES: tuple[str, ...] = ("reduce-installment", "shorten-term")

_CENT = Decimal("0.01")
_ONE = Decimal(1)
_TWELVE = Decimal(12)


def reamortise(
    *,
    principal: Decimal,
    annual_rate: Decimal,
    from_date: date,
    next_due: date,
    remaining_periods: int,
    method: str,
    mode: Mode = "reduce-installment",
    current_payment: Decimal | None = None,
    first_period: int,
    repayment_day: int | None = None,
    rounding: str = ROUND_HALF_UP,
    odd_period_basis: str = "actual/360",
    annuity_factor_decimals: int | None = None,
    current_principal: Decimal | None = None,
) -> tuple[ScheduledInstallment, ...]:
    """The re-amortised tail, numbered from ``first_period``; () when nothing is left.

    ``shorten-term``:

    - 等额本息: the fewest periods n ≤ ``remaining_periods`` whose level payment is ≤
      ``current_payment`` (required). If even ``remaining_periods`` needs more (a rate
      rise), the term cannot grow: the tail keeps ``remaining_periods`` and the payment
      rises.
    - 等额本金: keeps ``current_principal`` (the principal part per period before the
      prepayment) and drops periods; the last period repays the rest. Without
      ``current_principal`` it falls back to ``current_payment`` as a cap: the fewest
      periods whose first regular payment (P/n + one month's interest) is ≤ it.
    - 先息后本 and 到期一次还本付息 have no principal to spread: the term stays.
    """
    if mode not in MODES:
        raise ValueError(f"mode: unknown mode {mode!r}; expected one of {MODES}")
    if remaining_periods < 1:
        raise ValueError(f"remaining_periods: {remaining_periods} must be at least 1")
    if principal == 0:
        return ()

    def terms(months: int) -> ScheduleTerms:
        return ScheduleTerms(
            principal=principal,
            annual_rate=annual_rate,
            months=months,
            method=method,
            start=from_date,
            first_due=next_due,
            repayment_day=repayment_day,
            rounding=rounding,
            odd_period_basis=odd_period_basis,
            annuity_factor_decimals=annuity_factor_decimals,
            first_period=first_period,
        )

    full = terms(remaining_periods)
    validate_terms(full)
    if mode == "reduce-installment" or method in ("interest-only", "bullet"):
        return generate_schedule(full)
    if method == "equal-principal":
        return _shorten_equal_principal(
            full, terms, remaining_periods, current_principal, current_payment
        )
    if method != "equal-installment":
        return generate_schedule(full)  # raises: unknown method
    if current_payment is None or not current_payment > 0:
        raise ValueError(
            "current_payment: shorten-term needs the current level payment (a positive amount)"
        )
    periods = fewest_periods(
        principal=principal,
        annual_rate=annual_rate,
        payment=current_payment,
        max_periods=remaining_periods,
        rounding=rounding,
        annuity_factor_decimals=annuity_factor_decimals,
    )
    return generate_schedule(terms(periods))


def fewest_periods(
    *,
    principal: Decimal,
    annual_rate: Decimal,
    payment: Decimal,
    max_periods: int,
    rounding: str = ROUND_HALF_UP,
    annuity_factor_decimals: int | None = None,
) -> int:
    """Fewest n ≤ ``max_periods`` whose 等额本息 level payment is ≤ ``payment``.

    Estimated with n = ⌈−ln(1 − P·r/A) / ln(1+r)⌉ in 34-digit Decimal, then checked
    against :func:`level_payment` (the rounded payment) and moved by whole periods.
    Returns ``max_periods`` when no n ≤ ``max_periods`` fits.
    """
    ctx = RATE_CONTEXT

    def pay(n: int) -> Decimal:
        return level_payment(
            principal,
            annual_rate,
            n,
            rounding=rounding,
            annuity_factor_decimals=annuity_factor_decimals,
        )

    r = ctx.divide(annual_rate, _TWELVE)
    if r == 0:
        estimate = ctx.divide(principal, payment).to_integral_value(ROUND_CEILING)
    else:
        left = ctx.subtract(_ONE, ctx.divide(ctx.multiply(principal, r), payment))
        if left <= 0:
            # the exact annuity never fits, but the fen-rounded payment may: search down
            estimate = Decimal(max_periods)
        else:
            ratio = ctx.divide(ctx.minus(ctx.ln(left)), ctx.ln(ctx.add(_ONE, r)))
            estimate = ratio.to_integral_value(ROUND_CEILING)
    n = int(min(max(estimate, _ONE), Decimal(max_periods)))
    while n < max_periods and pay(n) > payment:
        n += 1
    while n > 1 and pay(n - 1) <= payment:
        n -= 1
    return n


def _shorten_equal_principal(
    full: ScheduleTerms,
    terms: Callable[[int], ScheduleTerms],
    remaining_periods: int,
    current_principal: Decimal | None,
    current_payment: Decimal | None,
) -> tuple[ScheduledInstallment, ...]:
    ctx = RATE_CONTEXT
    principal = full.principal
    if current_principal is not None:
        if not current_principal > 0:
            raise ValueError(f"current_principal: {current_principal} must be positive")
        periods = int(ctx.divide(principal, current_principal).to_integral_value(ROUND_CEILING))
        if periods >= remaining_periods:
            return generate_schedule(full)
        return fixed_principal_schedule(terms(max(periods, 1)), current_principal)
    if current_payment is None or not current_payment > 0:
        raise ValueError(
            "current_principal: shorten-term on equal-principal needs current_principal "
            "(principal part per period) or current_payment (a positive amount)"
        )
    interest = ctx.divide(ctx.multiply(principal, full.annual_rate), _TWELVE)
    interest = interest.quantize(_CENT, full.rounding, ctx)
    for n in range(1, remaining_periods):
        part = ctx.divide(principal, Decimal(n)).quantize(_CENT, full.rounding, ctx)
        if ctx.add(part, interest) <= current_payment:
            return generate_schedule(terms(n))
    return generate_schedule(full)
