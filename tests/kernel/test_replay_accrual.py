"""Penalty (罚息) and compound interest (复利) accrual inside the replay, hand-computed."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from daihou.kernel.replay import Event, LoanTerms, accrued_amount, replay

D = Decimal
# 12,000 at 24% over 12 months from 15 Jan 2024: installment 1 due 15 Feb is
# principal 894.72 + interest 240.00; penalty rate 24% × 1.5 = 36% a year = 0.1% a day.
TERMS = LoanTerms(
    principal=D("12000.00"),
    annual_rate=D("0.24"),
    months=12,
    method="equal-installment",
    start=date(2024, 1, 15),
    penalty_markup=D("0.5"),
)


def test_ten_days_late_accrue_penalty_on_principal_and_compound_on_interest() -> None:
    r = replay(TERMS, [], as_of=date(2024, 2, 25))  # nights of 15 … 24 Feb are closed
    first = r.installments[0]
    assert first.penalty_base == 89472 * 10 and first.compound_base == 24000 * 10
    assert first.due["penalty"] == D("8.95")  # 894.72 × 0.1% × 10 = 8.9472
    assert first.due["compound"] == D("2.40")  # 240.00 × 0.1% × 10
    assert r.installments[1].due["penalty"] == D("0.00")  # due 15 Mar, not yet overdue


def test_payment_pays_penalty_then_compound_then_interest_then_principal() -> None:
    pay = Event(txn_id=1, kind="repayment", value_date=date(2024, 2, 25), amount=D("1146.07"))
    r = replay(TERMS, [pay], as_of=date(2024, 3, 1))
    parts = [(a.component, a.amount) for a in r.allocations[1]]
    assert parts == [
        ("penalty", D("8.95")),
        ("compound", D("2.40")),
        ("interest", D("240.00")),
        ("principal", D("894.72")),
    ]
    first = r.installments[0]
    assert first.settled and first.paid_on == date(2024, 2, 25)
    # nothing more accrues once it is paid
    assert first.due["penalty"] == D("8.95")


def test_partial_payment_reduces_the_base_from_that_day() -> None:
    # 20 Feb: pays 500 → penalty 5 nights (15–19 Feb) = 4.47, compound 1.20, interest
    # 240, principal 254.33; then 640.39 of principal stays overdue until 29 Feb.
    pay = Event(txn_id=1, kind="repayment", value_date=date(2024, 2, 20), amount=D("500.00"))
    r = replay(TERMS, [pay], as_of=date(2024, 3, 1))
    first = r.installments[0]
    assert first.paid["penalty"] == D("4.47") and first.paid["compound"] == D("1.20")
    assert first.paid["principal"] == D("254.33")
    # nights 15–19 Feb on 894.72, nights 20–29 Feb on 640.39
    assert first.penalty_base == 89472 * 5 + 64039 * 10
    assert first.due["penalty"] == accrued_amount(
        first.penalty_base, D("0.24"), D("0.5"), "ROUND_HALF_UP"
    )
    assert first.compound_base == 24000 * 5  # interest was paid on 20 Feb


def test_grace_days_delay_the_first_accrued_night() -> None:
    terms = replace(TERMS, grace_days=3)
    r = replay(terms, [], as_of=date(2024, 2, 25))
    assert r.installments[0].penalty_base == 89472 * 7  # nights 18 … 24 Feb


@settings(max_examples=40, deadline=None)
@given(days=st.integers(min_value=1, max_value=200))
def test_day_by_day_accrual_equals_one_long_accrual(days: int) -> None:
    """Replaying to each business date in turn never changes what a single replay to
    the last date gives: accrual is exact, the rounding remainder is carried."""
    end = date(2024, 2, 15) + timedelta(days=days)
    once = replay(TERMS, [], as_of=end)
    base = 0
    for k in range(days + 1):
        step = replay(TERMS, [], as_of=date(2024, 2, 15) + timedelta(days=k))
        assert step.installments[0].penalty_base >= base
        base = step.installments[0].penalty_base
    assert base == once.installments[0].penalty_base
    assert step.installments[0].due == once.installments[0].due


@settings(max_examples=300, deadline=None)
@given(
    base=st.integers(min_value=0, max_value=10**15),
    rate=st.decimals(min_value=D("0"), max_value=D("0.36"), places=6),
    markup=st.sampled_from([D("0.3"), D("0.4"), D("0.5"), D("0.35"), D("0.3333")]),
)
def test_end_of_day_integer_accrual_equals_the_kernel(
    base: int, rate: Decimal, markup: Decimal
) -> None:
    from daihou.eod.steps import accrued_fen

    kernel = accrued_amount(base, rate, markup, "ROUND_HALF_UP")
    fast = accrued_fen(base, int(rate * 10**10), int(markup * 10_000))
    assert Decimal(fast) / 100 == kernel
