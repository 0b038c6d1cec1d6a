from __future__ import annotations

from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daihou.kernel.prepayment import (
    accrued_interest,
    months_elapsed,
    prepayment_penalty,
    split_prepayment,
)

D = Decimal
TIERS = [(12, D("0.03")), (24, D("0.02")), (36, D("0.01"))]
DISBURSED = date(2024, 1, 15)


def test_months_elapsed_counts_when_the_day_is_reached() -> None:
    assert months_elapsed(DISBURSED, DISBURSED) == 0
    assert months_elapsed(DISBURSED, date(2024, 2, 14)) == 0
    assert months_elapsed(DISBURSED, date(2024, 2, 15)) == 1
    assert months_elapsed(DISBURSED, date(2025, 1, 14)) == 11
    assert months_elapsed(DISBURSED, date(2025, 1, 15)) == 12
    # Month-end clipping: a loan of 31 Jan is one month old on 29 Feb (28 Feb in 2023).
    assert months_elapsed(date(2024, 1, 31), date(2024, 2, 28)) == 0
    assert months_elapsed(date(2024, 1, 31), date(2024, 2, 29)) == 1
    assert months_elapsed(date(2023, 1, 31), date(2023, 2, 28)) == 1
    with pytest.raises(ValueError, match="on"):
        months_elapsed(DISBURSED, date(2024, 1, 14))


def test_penalty_in_the_first_tier() -> None:
    quote = prepayment_penalty(
        prepaid_principal=D("100000.00"), tiers=TIERS, disbursed_on=DISBURSED, on=date(2024, 6, 20)
    )
    assert quote.amount == D("3000.00")
    assert quote.rate == D("0.03")
    assert quote.months_elapsed == 5
    assert quote.tier_until_month == 12
    assert quote.explanation == (
        "违约金 prepayment penalty: 100000.00 × 3% = 3000.00 (loan age 5 months < 12)"
    )


def test_tier_boundary_at_exactly_twelve_months() -> None:
    before = prepayment_penalty(
        prepaid_principal=D("100000.00"), tiers=TIERS, disbursed_on=DISBURSED, on=date(2025, 1, 14)
    )
    at = prepayment_penalty(
        prepaid_principal=D("100000.00"), tiers=TIERS, disbursed_on=DISBURSED, on=date(2025, 1, 15)
    )
    assert (before.months_elapsed, before.rate, before.amount) == (11, D("0.03"), D("3000.00"))
    assert (at.months_elapsed, at.rate, at.amount) == (12, D("0.02"), D("2000.00"))
    assert at.tier_until_month == 24


def test_no_penalty_after_the_last_tier() -> None:
    at = prepayment_penalty(
        prepaid_principal=D("100000.00"), tiers=TIERS, disbursed_on=DISBURSED, on=date(2027, 1, 15)
    )
    assert (at.amount, at.rate, at.tier_until_month) == (D("0.00"), D("0.00"), None)
    assert at.explanation == "no penalty: loan age 36 months ≥ last tier 36"
    late = prepayment_penalty(
        prepaid_principal=D("100000.00"), tiers=TIERS, disbursed_on=DISBURSED, on=date(2027, 5, 20)
    )
    assert late.explanation == "no penalty: loan age 40 months ≥ last tier 36"


def test_no_tiers_and_rounding() -> None:
    none = prepayment_penalty(
        prepaid_principal=D("5000.00"), tiers=[], disbursed_on=DISBURSED, on=date(2024, 3, 1)
    )
    assert none.amount == D("0.00")
    assert none.explanation.startswith("no penalty")
    odd = [(6, D("0.015"))]
    quote = prepayment_penalty(
        prepaid_principal=D("333.30"), tiers=odd, disbursed_on=DISBURSED, on=date(2024, 3, 1)
    )
    assert quote.amount == D("5.00")  # 4.9995 half-up
    assert "333.30 × 1.5% = 5.00" in quote.explanation
    down = prepayment_penalty(
        prepaid_principal=D("333.30"),
        tiers=odd,
        disbursed_on=DISBURSED,
        on=date(2024, 3, 1),
        rounding=ROUND_DOWN,
    )
    assert down.amount == D("4.99")


@pytest.mark.parametrize(
    ("tiers", "field"),
    [
        ([(12, D("0.03")), (12, D("0.02"))], "tiers"),
        ([(24, D("0.03")), (12, D("0.02"))], "tiers"),
        ([(0, D("0.03"))], "tiers"),
        ([(12, D("1.5"))], "tiers"),
    ],
)
def test_bad_tiers(tiers: list[tuple[int, Decimal]], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        prepayment_penalty(
            prepaid_principal=D("1.00"), tiers=tiers, disbursed_on=DISBURSED, on=DISBURSED
        )


def test_split_prepayment_examples() -> None:
    assert split_prepayment(available=D("10300.00"), rate=D("0.03"), max_principal=D("1e6")) == (
        D("10000.00"),
        D("300.00"),
    )
    # 10,000 / 1.03 = 9,708.737…: 9,708.74 + 291.26 = 10,000.00 exactly.
    assert split_prepayment(available=D("10000.00"), rate=D("0.03"), max_principal=D("1e6")) == (
        D("9708.74"),
        D("291.26"),
    )
    assert split_prepayment(available=D("10300.00"), rate=D("0.03"), max_principal=D("5000")) == (
        D("5000.00"),
        D("150.00"),
    )
    # 0.50 × 3 % = 0.015 rounds up to 0.02, so 0.50 cannot be principal: 0.49 + 0.01.
    assert split_prepayment(available=D("0.50"), rate=D("0.03"), max_principal=D("5000")) == (
        D("0.49"),
        D("0.01"),
    )
    assert split_prepayment(available=D("800.00"), rate=D("0"), max_principal=D("500")) == (
        D("500.00"),
        D("0.00"),
    )
    assert split_prepayment(available=D("0.00"), rate=D("0.03"), max_principal=D("500")) == (
        D("0.00"),
        D("0.00"),
    )
    with pytest.raises(ValueError, match="available"):
        split_prepayment(available=D("-1"), rate=D("0.03"), max_principal=D("500"))
    with pytest.raises(ValueError, match="rate"):
        split_prepayment(available=D("1"), rate=D("-0.03"), max_principal=D("500"))
    with pytest.raises(ValueError, match="max_principal"):
        split_prepayment(available=D("1"), rate=D("0.03"), max_principal=D("5.001"))


money = st.integers(min_value=0, max_value=10_000_000_000).map(lambda f: D(f).scaleb(-2))
penalty_rates = st.integers(min_value=0, max_value=10_000).map(lambda n: D(n).scaleb(-5))
roundings = st.sampled_from([ROUND_HALF_UP, ROUND_HALF_EVEN, ROUND_DOWN, ROUND_UP])


@settings(max_examples=300)
@given(available=money, rate=penalty_rates, max_principal=money, rounding=roundings)
def test_split_prepayment_invariants(
    available: Decimal, rate: Decimal, max_principal: Decimal, rounding: str
) -> None:
    principal, penalty = split_prepayment(
        available=available, rate=rate, max_principal=max_principal, rounding=rounding
    )
    assert principal.as_tuple().exponent == -2
    assert penalty.as_tuple().exponent == -2
    assert 0 <= principal <= max_principal
    assert penalty == (principal * rate).quantize(D("0.01"), rounding)
    assert principal + penalty <= available
    bigger = principal + D("0.01")
    if bigger <= max_principal:
        assert bigger + (bigger * rate).quantize(D("0.01"), rounding) > available


@given(
    available=st.integers(min_value=0, max_value=3000).map(lambda f: D(f).scaleb(-2)),
    rate=penalty_rates,
)
def test_split_prepayment_matches_brute_force(available: Decimal, rate: Decimal) -> None:
    best = max(
        p
        for p in (D(f).scaleb(-2) for f in range(0, 3001))
        if p + (p * rate).quantize(D("0.01"), ROUND_HALF_UP) <= available
    )
    got, _ = split_prepayment(available=available, rate=rate, max_principal=D("30.00"))
    assert got == best


def test_accrued_interest() -> None:
    p, r = D("100000.00"), D("0.06")
    # 10 Jan → 20 Feb 2024 = 41 days: 100,000 × 6 % × 41 / 360 = 683.333…
    jan10, feb20 = date(2024, 1, 10), date(2024, 2, 20)
    got = accrued_interest(principal=p, annual_rate=r, from_date=jan10, to_date=feb20)
    assert got == D("683.33")
    got = accrued_interest(
        principal=p, annual_rate=r, from_date=jan10, to_date=feb20, basis="actual/365"
    )
    assert got == D("673.97")
    assert accrued_interest(principal=p, annual_rate=r, from_date=feb20, to_date=feb20) == 0
    assert accrued_interest(principal=p, annual_rate=r, from_date=feb20, to_date=jan10) == 0
    # One day at 4.9 % on 60,000 = 8.1666… → 8.17
    got = accrued_interest(
        principal=D("60000.00"),
        annual_rate=D("0.049"),
        from_date=date(2024, 3, 1),
        to_date=date(2024, 3, 2),
    )
    assert got == D("8.17")
    assert str(accrued_interest(principal=p, annual_rate=r, from_date=feb20, to_date=jan10)) == (
        "0.00"
    )
