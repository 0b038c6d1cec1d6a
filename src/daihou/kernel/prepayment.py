"""Prepayment (提前还款): penalty (违约金) tiers, splitting a sum into principal and
penalty, and broken-period interest up to the prepayment date.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from daihou.kernel.dates import add_months, days_between, year_days
from daihou.kernel.rates import RATE_CONTEXT

_CENT = Decimal("0.01")
_ZERO = Decimal("0.00")
_ONE = Decimal(1)


@dataclass(frozen=True)
class PenaltyQuote:
    """A quoted 违约金 with the words a customer or an auditor can check."""

    amount: Decimal
    rate: Decimal
    months_elapsed: int
    tier_until_month: int | None
    explanation: str


def _money(value: Decimal, field: str) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
        raise ValueError(f"{field}: {value!r} must be a Decimal amount ≥ 0")
    if value != value.quantize(_CENT, ROUND_FLOOR, RATE_CONTEXT):
        raise ValueError(f"{field}: {value} has more than two decimals")
    return value.quantize(_CENT, ROUND_FLOOR, RATE_CONTEXT)


def _percent(rate: Decimal) -> str:
    shown = rate.scaleb(2).normalize(RATE_CONTEXT)
    return f"{shown:f}%"


def months_elapsed(disbursed_on: date, on: date) -> int:
    """Whole months from ``disbursed_on`` to ``on``; a month counts once its day is reached.

    Disbursed 31 Jan 2024: on 28 Feb → 0, on 29 Feb → 1 (month-end clipping).
    """
    if on < disbursed_on:
        raise ValueError(
            f"on: {on.isoformat()} is before the disbursement date {disbursed_on.isoformat()}"
        )
    months = (on.year - disbursed_on.year) * 12 + on.month - disbursed_on.month
    if add_months(disbursed_on, months) > on:
        months -= 1
    return max(months, 0)


def prepayment_penalty(
    *,
    prepaid_principal: Decimal,
    tiers: Sequence[tuple[int, Decimal]],
    disbursed_on: date,
    on: date,
    rounding: str = ROUND_HALF_UP,
) -> PenaltyQuote:
    """违约金 on ``prepaid_principal``: the rate of the first tier whose ``until_month``
    is greater than the loan's age in whole months (a loan exactly 12 months old is
    past a tier ``(12, 3%)``); no tier left → no penalty.
    """
    prepaid = _money(prepaid_principal, "prepaid_principal")
    previous = 0
    for until, rate in tiers:
        if until <= previous:
            raise ValueError(f"tiers: until_month must be positive and ascending, got {until}")
        if not isinstance(rate, Decimal) or not 0 <= rate <= 1:
            raise ValueError(f"tiers: rate {rate!r} must be a Decimal between 0 and 1")
        previous = until
    age = months_elapsed(disbursed_on, on)
    if not tiers:
        return PenaltyQuote(_ZERO, _ZERO, age, None, "no penalty: the product has no tiers")
    for until, rate in tiers:
        if age < until:
            amount = RATE_CONTEXT.multiply(prepaid, rate).quantize(_CENT, rounding, RATE_CONTEXT)
            words = (
                f"违约金 prepayment penalty: {prepaid:f} × {_percent(rate)} = {amount:f} "
                f"(loan age {age} months < {until})"
            )
            return PenaltyQuote(amount, rate, age, until, words)
    last = tiers[-1][0]
    words = f"no penalty: loan age {age} months ≥ last tier {last}"
    return PenaltyQuote(_ZERO, _ZERO, age, None, words)


def split_prepayment(
    *,
    available: Decimal,
    rate: Decimal,
    max_principal: Decimal,
    rounding: str = ROUND_HALF_UP,
) -> tuple[Decimal, Decimal]:
    """(principal, penalty) from ``available``: the largest principal (in fen) with
    principal + round(principal × rate) ≤ available and principal ≤ ``max_principal``.

    principal + penalty grows by at least a fen per fen of principal, so the answer is
    found exactly by stepping a fen or two from ⌊available / (1 + rate)⌋.
    """
    cash = _money(available, "available")
    cap = _money(max_principal, "max_principal")
    if not isinstance(rate, Decimal) or not 0 <= rate <= 1:
        raise ValueError(f"rate: {rate!r} must be a Decimal between 0 and 1")
    ctx = RATE_CONTEXT

    def penalty(p: Decimal) -> Decimal:
        return ctx.multiply(p, rate).quantize(_CENT, rounding, ctx)

    cap = min(cap, cash)
    if ctx.add(cap, penalty(cap)) <= cash:
        return cap, penalty(cap)
    p = min(ctx.divide(cash, ctx.add(_ONE, rate)).quantize(_CENT, ROUND_FLOOR, ctx), cap)
    while p > 0 and ctx.add(p, penalty(p)) > cash:
        p = ctx.subtract(p, _CENT)
    while True:
        up = ctx.add(p, _CENT)
        if up > cap or ctx.add(up, penalty(up)) > cash:
            break
        p = up
    return p, penalty(p)


def accrued_interest(
    *,
    principal: Decimal,
    annual_rate: Decimal,
    from_date: date,
    to_date: date,
    basis: str = "actual/360",
    rounding: str = ROUND_HALF_UP,
) -> Decimal:
    """Simple interest on ``principal`` from ``from_date`` to ``to_date`` (broken period,
    e.g. last due date → prepayment date); 0.00 when ``to_date`` ≤ ``from_date``.
    """
    amount = _money(principal, "principal")
    days = days_between(from_date, to_date, basis)
    if to_date <= from_date or days <= 0:
        return _ZERO
    if not annual_rate.is_finite() or annual_rate < 0:
        raise ValueError(f"annual_rate: {annual_rate} must be ≥ 0")
    ctx = RATE_CONTEXT
    exact = ctx.divide(
        ctx.multiply(ctx.multiply(amount, annual_rate), Decimal(days)),
        Decimal(year_days(basis)),
    )
    return exact.quantize(_CENT, rounding, ctx)
