"""Hypothesis properties of schedules: exact sums, fen amounts, increasing dates."""

from __future__ import annotations

import decimal
import itertools
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from daihou.kernel.dates import add_months, first_due_and_anchor
from daihou.kernel.schedule import ScheduledInstallment, ScheduleTerms, generate_schedule

ROUNDINGS = [
    decimal.ROUND_HALF_UP,
    decimal.ROUND_HALF_EVEN,
    decimal.ROUND_HALF_DOWN,
    decimal.ROUND_DOWN,
    decimal.ROUND_UP,
    decimal.ROUND_FLOOR,
    decimal.ROUND_CEILING,
    decimal.ROUND_05UP,
]
METHODS = ["equal-installment", "equal-principal", "interest-only", "bullet"]
CENT_EXPONENT = -2

principals = st.integers(min_value=1, max_value=1_000_000_000).map(lambda f: Decimal(f).scaleb(-2))
rates = st.integers(min_value=0, max_value=36_000).map(lambda n: Decimal(n).scaleb(-5))


@st.composite
def schedule_terms(draw: st.DrawFn) -> ScheduleTerms:
    start = draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31)))
    repayment_day = draw(st.none() | st.integers(min_value=1, max_value=31))
    first_due = None
    if draw(st.booleans()):
        span = (add_months(start, 2) - start).days
        first_due = start + timedelta(days=draw(st.integers(min_value=1, max_value=span)))
    return ScheduleTerms(
        principal=draw(principals),
        annual_rate=draw(rates),
        months=draw(st.integers(min_value=1, max_value=360)),
        method=draw(st.sampled_from(METHODS)),
        start=start,
        first_due=first_due,
        repayment_day=repayment_day,
        rounding=draw(st.sampled_from(ROUNDINGS)),
        odd_period_basis=draw(st.sampled_from(["actual/360", "actual/365", "30/360"])),
        annuity_factor_decimals=draw(st.none() | st.integers(min_value=4, max_value=12)),
        first_period=draw(st.integers(min_value=1, max_value=400)),
    )


def check_schedule(terms: ScheduleTerms, rows: tuple[ScheduledInstallment, ...]) -> None:
    principal = terms.principal
    assert sum((r.principal for r in rows), Decimal(0)) == principal
    assert rows[-1].remaining_principal == 0
    left = principal
    for r in rows:
        for amount in (r.principal, r.interest, r.remaining_principal, r.payment):
            assert amount >= 0
            assert amount.as_tuple().exponent == CENT_EXPONENT
        left -= r.principal
        assert r.remaining_principal == left
        assert r.start_date < r.due_date
        assert r.annual_rate == terms.annual_rate
    assert [r.period for r in rows] == list(
        range(terms.first_period, terms.first_period + len(rows))
    )
    for a, b in itertools.pairwise(rows):
        assert a.due_date < b.due_date
        assert b.start_date == a.due_date
    assert rows[0].start_date == terms.start


@settings(max_examples=300, deadline=None)
@given(schedule_terms())
def test_schedule_invariants(terms: ScheduleTerms) -> None:
    rows = generate_schedule(terms)
    assert len(rows) == (1 if terms.method == "bullet" else terms.months)
    check_schedule(terms, rows)
    if terms.annual_rate == 0:
        assert all(r.interest == 0 for r in rows)


@settings(max_examples=150, deadline=None)
@given(schedule_terms())
def test_odd_first_period_changes_only_the_first_interest(terms: ScheduleTerms) -> None:
    """等额本息/等额本金/先息后本: the principal column does not depend on how long the
    first period is; only the first interest does."""
    if terms.method == "bullet":
        return
    first, anchor = first_due_and_anchor(
        start=terms.start, first_due=terms.first_due, repayment_day=terms.repayment_day
    )
    regular_start = add_months(first, -1, day=anchor)
    rows = generate_schedule(terms)
    regular = generate_schedule(
        replace(terms, start=regular_start, first_due=first, repayment_day=anchor)
    )
    assert [r.due_date for r in rows] == [r.due_date for r in regular]
    assert [r.principal for r in rows] == [r.principal for r in regular]
    assert [r.interest for r in rows[1:]] == [r.interest for r in regular[1:]]


@settings(max_examples=100, deadline=None)
@given(
    principal=principals,
    rate=rates.filter(lambda r: r > 0),
    months=st.integers(min_value=2, max_value=360),
)
def test_equal_installment_payments_are_level(
    principal: Decimal, rate: Decimal, months: int
) -> None:
    rows = generate_schedule(
        ScheduleTerms(principal, rate, months, "equal-installment", date(2024, 1, 31))
    )
    level = {r.payment for r in rows[:-1] if r.remaining_principal > 0}
    assert len(level) <= 1
