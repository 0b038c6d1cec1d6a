"""Schedule examples with published or hand-computed figures."""

from __future__ import annotations

import decimal
import itertools
from datetime import date
from decimal import Decimal

import pytest

from daihou.kernel.schedule import (
    ScheduledInstallment,
    ScheduleTerms,
    generate_schedule,
    level_payment,
    schedule_totals,
)

D = Decimal


def terms(**kw: object) -> ScheduleTerms:
    base: dict[str, object] = {
        "principal": D("100000.00"),
        "annual_rate": D("0.06"),
        "months": 12,
        "method": "equal-installment",
        "start": date(2024, 1, 15),
    }
    base.update(kw)
    return ScheduleTerms(**base)  # type: ignore[arg-type]


def test_published_mortgage_equal_installment() -> None:
    """1,000,000 CNY, 30 years, 4.9 %, 等额本息 → 5,307.27 a month."""
    rows = generate_schedule(terms(principal=D("1000000"), annual_rate=D("0.049"), months=360))
    assert len(rows) == 360
    first = rows[0]
    assert first.payment == D("5307.27")
    assert first.interest == D("4083.33")
    assert first.principal == D("1223.94")
    assert first.remaining_principal == D("998776.06")
    assert all(r.payment == D("5307.27") for r in rows[:-1])
    assert sum((r.principal for r in rows), D(0)) == D("1000000.00")
    assert rows[-1].remaining_principal == D("0.00")


def test_published_mortgage_equal_principal() -> None:
    """Same loan, 等额本金 → 6,861.11 first month, falling by 11.34 a month."""
    rows = generate_schedule(
        terms(principal=D("1000000"), annual_rate=D("0.049"), months=360, method="equal-principal")
    )
    payments = [r.payment for r in rows]
    assert payments[:5] == [D("6861.11"), D("6849.77"), D("6838.43"), D("6827.09"), D("6815.74")]
    assert rows[0].principal == D("2777.78")
    assert rows[0].interest == D("4083.33")
    steps = [a - b for a, b in itertools.pairwise(payments[:-1])]
    assert steps[:3] == [D("11.34")] * 3
    # 2777.78 × 4.9 % / 12 = 11.3426…: each step is 11.34 or, when the fen rounds the
    # other way, 11.35.
    assert set(steps) <= {D("11.34"), D("11.35")}
    assert sum((r.principal for r in rows), D(0)) == D("1000000.00")


def test_published_table_with_rounded_annuity_factor() -> None:
    """12,000 at 2 % a month over 4 months → 3,151.49, interest 240.00 / 181.77 / 122.38
    / 61.79. The published table rounds the annuity factor (1+r)^n to 6 decimals
    (1.082432), so this test sets ``annuity_factor_decimals=6``.
    """
    rows = generate_schedule(
        terms(
            principal=D("12000"),
            annual_rate=D("0.24"),
            months=4,
            annuity_factor_decimals=6,
        )
    )
    assert [r.interest for r in rows] == [D("240.00"), D("181.77"), D("122.38"), D("61.79")]
    assert [r.payment for r in rows[:3]] == [D("3151.49")] * 3
    assert [r.principal for r in rows] == [
        D("2911.49"),
        D("2969.72"),
        D("3029.11"),
        D("3089.68"),
    ]


def test_exact_annuity_factor_and_last_installment_absorbs_rounding() -> None:
    """With the exact factor 1.08243216 the level payment is 3,151.485032… (6-decimal
    factor: 3,151.490683…). Half-up both give 3,151.49; rounding down shows the
    difference (3,151.48 vs 3,151.49). Either way the last installment takes the fen
    left over so the principal sums to 12,000.00 exactly.
    """
    exact = level_payment(D("12000"), D("0.24"), 4, rounding=decimal.ROUND_DOWN)
    rounded = level_payment(
        D("12000"), D("0.24"), 4, rounding=decimal.ROUND_DOWN, annuity_factor_decimals=6
    )
    assert (exact, rounded) == (D("3151.48"), D("3151.49"))
    assert level_payment(D("12000"), D("0.24"), 4) == D("3151.49")

    rows = generate_schedule(
        terms(principal=D("12000"), annual_rate=D("0.24"), months=4, rounding=decimal.ROUND_DOWN)
    )
    assert [r.payment for r in rows[:3]] == [D("3151.48")] * 3
    assert [r.interest for r in rows] == [D("240.00"), D("181.77"), D("122.37"), D("61.79")]
    assert rows[-1].principal == D("3089.70")
    assert rows[-1].payment == D("3151.49")  # absorbs the fen the level payment left
    assert sum((r.principal for r in rows), D(0)) == D("12000.00")
    assert rows[-1].remaining_principal == D("0.00")


def test_month_end_rolling_keeps_the_anchor() -> None:
    rows = generate_schedule(terms(start=date(2024, 1, 31), months=3))
    assert [r.due_date for r in rows] == [date(2024, 2, 29), date(2024, 3, 31), date(2024, 4, 30)]
    assert [r.start_date for r in rows] == [date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31)]
    # 31 Jan → 29 Feb is one calendar month: no odd period.
    assert rows[0].interest == D("500.00")

    common = generate_schedule(terms(start=date(2023, 1, 31), months=3))
    assert [r.due_date for r in common] == [date(2023, 2, 28), date(2023, 3, 31), date(2023, 4, 30)]


def test_repayment_day_and_odd_first_period_by_actual_days() -> None:
    """Disbursed 10 Jan 2024, due on the 20th: first period 10 Jan → 20 Feb is 41 days.
    Interest = 100,000 × 6 % × 41 / 360 = 683.333… → 683.33. The level payment is the
    12-month annuity 8,606.64; the principal part stays 8,606.64 − 500.00 (one regular
    month), so only the first interest differs.
    """
    rows = generate_schedule(terms(start=date(2024, 1, 10), repayment_day=20))
    assert rows[0].start_date == date(2024, 1, 10)
    assert rows[0].due_date == date(2024, 2, 20)
    assert rows[1].due_date == date(2024, 3, 20)
    assert rows[0].interest == D("683.33")
    assert rows[0].principal == D("8106.64")
    assert rows[0].payment == D("8789.97")
    assert rows[1].payment == D("8606.64")

    regular = generate_schedule(terms(start=date(2024, 1, 20), repayment_day=20))
    assert [r.principal for r in rows] == [r.principal for r in regular]
    assert [r.interest for r in rows[1:]] == [r.interest for r in regular[1:]]


@pytest.mark.parametrize(
    ("basis", "expected"),
    [
        ("actual/360", "683.33"),  # 41 days / 360
        ("actual/365", "673.97"),  # 100000 × 0.06 × 41 / 365 = 673.972…
        ("30/360", "666.67"),  # 30E/360: 10 Jan → 20 Feb = 40 days
    ],
)
def test_odd_period_basis(basis: str, expected: str) -> None:
    rows = generate_schedule(
        terms(start=date(2024, 1, 10), repayment_day=20, odd_period_basis=basis)
    )
    assert rows[0].interest == D(expected)


def test_short_odd_first_period() -> None:
    """Disbursed 25 Jan, due on the 5th: first due 5 Feb (11 days): 100,000 × 6 % × 11 /
    360 = 183.33."""
    rows = generate_schedule(terms(start=date(2024, 1, 25), repayment_day=5, months=3))
    assert rows[0].due_date == date(2024, 2, 5)
    assert rows[0].interest == D("183.33")


def test_equal_principal_and_odd_period() -> None:
    rows = generate_schedule(
        terms(method="equal-principal", start=date(2024, 1, 10), repayment_day=20)
    )
    assert [r.principal for r in rows[:-1]] == [D("8333.33")] * 11
    assert rows[-1].principal == D("8333.37")
    assert rows[0].interest == D("683.33")
    assert rows[1].interest == D("458.33")  # 91,666.67 × 0.5 %


def test_interest_only() -> None:
    rows = generate_schedule(terms(method="interest-only"))
    assert [r.interest for r in rows] == [D("500.00")] * 12
    assert [r.principal for r in rows[:-1]] == [D("0.00")] * 11
    assert rows[-1].principal == D("100000.00")
    assert rows[-1].payment == D("100500.00")
    assert [r.remaining_principal for r in rows[:-1]] == [D("100000.00")] * 11


def test_bullet_is_one_installment_at_maturity() -> None:
    (row,) = generate_schedule(terms(method="bullet"))
    assert row.start_date == date(2024, 1, 15)
    assert row.due_date == date(2025, 1, 15)
    assert (row.principal, row.interest, row.remaining_principal) == (
        D("100000.00"),
        D("6000.00"),
        D("0.00"),
    )


def test_bullet_with_odd_first_period() -> None:
    """Due on the 20th from 10 Jan 2024, 12 months → maturity 20 Jan 2025; interest =
    100,000 × 6 % × (41/360 + 11/12) = 683.333… + 5,500 = 6,183.33."""
    (row,) = generate_schedule(terms(method="bullet", start=date(2024, 1, 10), repayment_day=20))
    assert row.due_date == date(2025, 1, 20)
    assert row.interest == D("6183.33")


@pytest.mark.parametrize(
    "method", ["equal-installment", "equal-principal", "interest-only", "bullet"]
)
def test_zero_rate(method: str) -> None:
    rows = generate_schedule(
        terms(principal=D("1000.00"), annual_rate=D("0"), months=3, method=method)
    )
    assert all(r.interest == D("0.00") for r in rows)
    if method in ("equal-installment", "equal-principal"):
        assert [r.principal for r in rows] == [D("333.33"), D("333.33"), D("333.34")]
    assert sum((r.principal for r in rows), D(0)) == D("1000.00")


def test_exact_half_fen_follows_the_rounding_mode() -> None:
    """60.00 × 4.9 % / 12 = 0.245 exactly (a 34-digit monthly rate would give
    0.24499…): half-up 0.25, half-even 0.24."""
    base = {"principal": D("60.00"), "annual_rate": D("0.049"), "months": 1}
    up = generate_schedule(terms(**base, rounding=decimal.ROUND_HALF_UP))
    even = generate_schedule(terms(**base, rounding=decimal.ROUND_HALF_EVEN))
    assert (up[0].interest, even[0].interest) == (D("0.25"), D("0.24"))


def test_first_period_numbers_the_rows_and_rate_is_recorded() -> None:
    rows = generate_schedule(terms(months=3, first_period=13))
    assert [r.period for r in rows] == [13, 14, 15]
    assert all(r.annual_rate == D("0.06") for r in rows)


def test_single_installment_loan() -> None:
    (row,) = generate_schedule(terms(months=1))
    assert (row.principal, row.interest) == (D("100000.00"), D("500.00"))


def test_schedule_totals() -> None:
    rows = generate_schedule(terms(principal=D("12000"), annual_rate=D("0.24"), months=4))
    interest, payment = schedule_totals(rows)
    assert interest == D("605.94")
    assert payment == D("12605.94")
    assert schedule_totals(()) == (D("0.00"), D("0.00"))


def test_payment_property() -> None:
    row = ScheduledInstallment(
        1, date(2024, 1, 1), date(2024, 2, 1), D("1.10"), D("0.25"), D("0.00"), D("0.05")
    )
    assert row.payment == D("1.35")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"principal": D("0")}, "principal"),
        ({"principal": D("-1.00")}, "principal"),
        ({"principal": D("100.001")}, "principal"),
        ({"principal": D("NaN")}, "principal"),
        ({"months": 0}, "months"),
        ({"annual_rate": D("-0.01")}, "annual_rate"),
        ({"method": "balloon"}, "method"),
        ({"rounding": "half-up"}, "rounding"),
        ({"odd_period_basis": "act/act"}, "odd_period_basis"),
        ({"first_period": 0}, "first_period"),
        ({"repayment_day": 32}, "repayment_day"),
        ({"first_due": date(2024, 1, 15)}, "first_due"),
        ({"first_due": date(2024, 4, 1)}, "first_due"),
    ],
)
def test_validation_names_the_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError) as info:
        generate_schedule(terms(**change))
    assert str(info.value).startswith(f"{field}:")
