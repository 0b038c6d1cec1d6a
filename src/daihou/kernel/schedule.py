"""Repayment schedules (还款计划): pure, exact, fast.

Methods: ``equal-installment`` (等额本息, level payment), ``equal-principal`` (等额本金),
``interest-only`` (先息后本) and ``bullet`` (到期一次还本付息).

Regular period interest = remaining principal × annual rate / 12, rounded to the fen
with the product's mode. The first period is *odd* when it is not one calendar month
(see :func:`daihou.kernel.dates.is_regular_first_period`); its interest is counted by
days on the product's basis, and for 等额本息 only the interest differs: the principal
part stays level payment − regular-month interest, so the amortisation is unchanged.
The last installment absorbs every rounding so the principal parts sum exactly to the
loan and the remaining principal ends at 0.00.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import TypeVar

from daihou.kernel.dates import (
    DAY_BASES,
    add_months,
    anchored_dates,
    days_between,
    first_due_and_anchor,
    is_regular_first_period,
    year_days,
)
from daihou.kernel.rates import RATE_CONTEXT

METHODS: tuple[str, ...] = ("equal-installment", "equal-principal", "interest-only", "bullet")
DECIMAL_ROUNDINGS: frozenset[str] = frozenset(
    {
        decimal.ROUND_HALF_UP,
        decimal.ROUND_HALF_EVEN,
        decimal.ROUND_HALF_DOWN,
        decimal.ROUND_DOWN,
        decimal.ROUND_UP,
        decimal.ROUND_FLOOR,
        decimal.ROUND_CEILING,
        decimal.ROUND_05UP,
    }
)

_CENT = Decimal("0.01")
_ZERO = Decimal("0.00")
_ONE = Decimal(1)
_TWELVE = Decimal(12)
_MAX_PRINCIPAL = Decimal(10) ** 15

Row = TypeVar("Row")
# (period, start date, due date, principal, interest, remaining principal, annual rate)
RowMaker = Callable[[int, date, date, Decimal, Decimal, Decimal, Decimal], Row]


@dataclass(frozen=True, slots=True)
class ScheduleTerms:
    """What a schedule is built from; ``rounding`` is a ``decimal`` constant."""

    principal: Decimal
    annual_rate: Decimal
    months: int
    method: str
    start: date
    first_due: date | None = None
    repayment_day: int | None = None
    rounding: str = decimal.ROUND_HALF_UP
    odd_period_basis: str = "actual/360"
    annuity_factor_decimals: int | None = None
    first_period: int = 1


@dataclass(frozen=True, slots=True)
class ScheduledInstallment:
    """One row of the plan: amounts in fen, ``remaining_principal`` after this row."""

    period: int
    start_date: date
    due_date: date
    principal: Decimal
    interest: Decimal
    remaining_principal: Decimal
    annual_rate: Decimal

    @property
    def payment(self) -> Decimal:
        return self.principal + self.interest


def validate_terms(terms: ScheduleTerms) -> None:
    """Raise ``ValueError`` naming the first bad field of ``terms``."""
    p = terms.principal
    if not isinstance(p, Decimal) or not p.is_finite() or p <= 0:
        raise ValueError(f"principal: {p!r} must be a positive Decimal amount")
    if p >= _MAX_PRINCIPAL:
        raise ValueError(f"principal: {p} is too large")
    if p != p.quantize(_CENT, rounding=decimal.ROUND_DOWN, context=RATE_CONTEXT):
        raise ValueError(f"principal: {p} has more than two decimals")
    if not isinstance(terms.months, int) or terms.months < 1:
        raise ValueError(f"months: {terms.months!r} must be at least 1")
    r = terms.annual_rate
    if not isinstance(r, Decimal) or not r.is_finite() or r < 0:
        raise ValueError(f"annual_rate: {r!r} must be a Decimal fraction ≥ 0 (e.g. 0.049)")
    if terms.method not in METHODS:
        raise ValueError(f"method: unknown method {terms.method!r}; expected one of {METHODS}")
    if terms.rounding not in DECIMAL_ROUNDINGS:
        raise ValueError(f"rounding: {terms.rounding!r} is not a decimal rounding constant")
    if terms.odd_period_basis not in DAY_BASES:
        raise ValueError(
            f"odd_period_basis: unknown basis {terms.odd_period_basis!r}; expected {DAY_BASES}"
        )
    d = terms.annuity_factor_decimals
    if d is not None and not 0 <= d <= 30:
        raise ValueError(f"annuity_factor_decimals: {d} must be between 0 and 30 (or None)")
    if terms.first_period < 1:
        raise ValueError(f"first_period: {terms.first_period} must be at least 1")


def level_payment(
    principal: Decimal,
    annual_rate: Decimal,
    months: int,
    *,
    rounding: str = ROUND_HALF_UP,
    annuity_factor_decimals: int | None = None,
) -> Decimal:
    """等额本息 monthly payment A = P·r·F/(F−1), F = (1+r)^n, rounded to the fen.

    F is rounded half-up to ``annuity_factor_decimals`` places when set (some published
    tables do that), unless that would make F exactly 1 (a near-zero rate), where the
    exact F is kept. A zero rate gives P/n.
    """
    ctx = RATE_CONTEXT
    if annual_rate == 0:
        return ctx.divide(principal, Decimal(months)).quantize(_CENT, rounding, ctx)
    r = ctx.divide(annual_rate, _TWELVE)
    factor = ctx.power(ctx.add(_ONE, r), months)
    if annuity_factor_decimals is not None:
        places = Decimal(1).scaleb(-annuity_factor_decimals)
        rounded = factor.quantize(places, ROUND_HALF_UP, ctx)
        if rounded > _ONE:  # a tiny rate can round F to 1: keep the exact factor then
            factor = rounded
    exact = ctx.divide(ctx.multiply(ctx.multiply(principal, r), factor), ctx.subtract(factor, _ONE))
    return exact.quantize(_CENT, rounding, ctx)


def generate_schedule(terms: ScheduleTerms) -> tuple[ScheduledInstallment, ...]:
    """The installments of ``terms``, numbered from ``terms.first_period``."""
    return schedule_rows(terms, ScheduledInstallment)


def schedule_rows(terms: ScheduleTerms, make: RowMaker[Row]) -> tuple[Row, ...]:
    """``generate_schedule`` with each row built by ``make`` from the row's fields in
    ``ScheduledInstallment`` order: the replay builds its own (mutable) rows straight
    from the figures, without a frozen ``ScheduledInstallment`` per row in between."""
    validate_terms(terms)
    first, anchor = first_due_and_anchor(
        start=terms.start, first_due=terms.first_due, repayment_day=terms.repayment_day
    )
    odd_days = 0
    if not is_regular_first_period(terms.start, first, anchor):
        odd_days = days_between(terms.start, first, terms.odd_period_basis)
    with localcontext(RATE_CONTEXT):
        if terms.method == "bullet":
            return (_bullet(terms, first, anchor, odd_days, make),)
        return _amortise(terms, first, anchor, odd_days, None, make)


def fixed_principal_schedule(
    terms: ScheduleTerms, per_period: Decimal
) -> tuple[ScheduledInstallment, ...]:
    """A schedule repaying ``per_period`` principal each period, the last the rest.

    Used to shorten the term of a 等额本金 loan while keeping its principal part; the
    method of ``terms`` only matters for validation.
    """
    validate_terms(terms)
    if not per_period.is_finite() or per_period <= 0:
        raise ValueError(f"per_period: {per_period} must be a positive amount")
    first, anchor = first_due_and_anchor(
        start=terms.start, first_due=terms.first_due, repayment_day=terms.repayment_day
    )
    odd_days = 0
    if not is_regular_first_period(terms.start, first, anchor):
        odd_days = days_between(terms.start, first, terms.odd_period_basis)
    with localcontext(RATE_CONTEXT):
        part = per_period.quantize(_CENT, terms.rounding)
        return _amortise(terms, first, anchor, odd_days, part, ScheduledInstallment)


def _amortise(
    terms: ScheduleTerms,
    first: date,
    anchor: int,
    odd_days: int,
    fixed_part: Decimal | None,
    make: RowMaker[Row],
) -> tuple[Row, ...]:
    """Build the rows; runs inside the 34-digit local context, so operators are safe."""
    rounding = terms.rounding
    annual = terms.annual_rate
    remaining = terms.principal.quantize(_CENT, decimal.ROUND_DOWN)  # exact: validated
    n = terms.months
    method = terms.method
    level = _ZERO
    part = _ZERO
    if fixed_part is not None:
        part = fixed_part
    elif method == "equal-installment":
        level = level_payment(
            remaining,
            annual,
            n,
            rounding=rounding,
            annuity_factor_decimals=terms.annuity_factor_decimals,
        )
    elif method == "equal-principal":
        part = (remaining / n).quantize(_CENT, rounding)
    annuity = fixed_part is None and method == "equal-installment"
    zero_rate = annual == 0
    # Interest is (amount × rate × days) / year in one division, so an exact half fen
    # stays exact and rounds as the mode says.
    odd_numerator = annual * odd_days if odd_days else None
    odd_year = Decimal(year_days(terms.odd_period_basis))
    rows: list[Row] = []
    append = rows.append
    period_start = terms.start
    period = terms.first_period
    last = n - 1
    for k, due in enumerate(anchored_dates(first, n, anchor)):
        regular = _ZERO if zero_rate else (remaining * annual / _TWELVE).quantize(_CENT, rounding)
        if k == 0 and odd_numerator is not None:
            interest = (remaining * odd_numerator / odd_year).quantize(_CENT, rounding)
        else:
            interest = regular
        if k == last:
            principal = remaining
        elif annuity:
            principal = level - regular
            if principal > remaining:
                principal = remaining
        elif part:
            principal = part if part <= remaining else remaining
        else:
            principal = _ZERO
        remaining = remaining - principal
        append(make(period, period_start, due, principal, interest, remaining, annual))
        period_start = due
        period += 1
    return tuple(rows)


def _bullet(
    terms: ScheduleTerms, first: date, anchor: int, odd_days: int, make: RowMaker[Row]
) -> Row:
    """到期一次还本付息: simple interest for the whole term, one row at maturity."""
    principal = terms.principal.quantize(_CENT, decimal.ROUND_DOWN)  # exact: validated
    annual = terms.annual_rate
    maturity = first if terms.months == 1 else add_months(first, terms.months - 1, day=anchor)
    if odd_days:
        year = year_days(terms.odd_period_basis)
        units = odd_days * 12 + (terms.months - 1) * year
        exact = principal * annual * units / (year * 12)
    else:
        exact = principal * annual * terms.months / _TWELVE
    interest = exact.quantize(_CENT, terms.rounding)
    return make(terms.first_period, terms.start, maturity, principal, interest, _ZERO, annual)


def schedule_totals(rows: Iterable[ScheduledInstallment]) -> tuple[Decimal, Decimal]:
    """(total interest, total payment) of a schedule."""
    interest = _ZERO
    principal = _ZERO
    for row in rows:
        interest += row.interest
        principal += row.principal
    return interest, interest + principal
