from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from daihou.kernel.dates import first_due_and_anchor
from daihou.kernel.reamortise import fewest_periods, reamortise
from daihou.kernel.schedule import ScheduleTerms, generate_schedule, level_payment

D = Decimal
RATE = D("0.049")


def annuity(principal: Decimal, annual: Decimal, n: int) -> Decimal:
    """Independent 等额本息 formula P·r / (1 − (1+r)^−n) for cross-checking."""
    with localcontext() as ctx:
        ctx.prec = 40
        r = annual / 12
        return (principal * r / (1 - (1 + r) ** -n)).quantize(D("0.01"), ROUND_HALF_UP)


def mortgage() -> tuple[ScheduleTerms, tuple]:  # type: ignore[type-arg]
    terms = ScheduleTerms(D("1000000"), RATE, 360, "equal-installment", date(2024, 1, 15))
    return terms, generate_schedule(terms)


def test_reduce_installment_after_prepayment_on_a_due_date() -> None:
    """After 12 payments (remaining 984,978.39) the borrower prepays 100,000 on the due
    date: 348 periods stay, the payment drops to the annuity of 884,978.39."""
    _, rows = mortgage()
    paid = rows[11]
    assert paid.remaining_principal == D("984978.39")
    tail = reamortise(
        principal=D("884978.39"),
        annual_rate=RATE,
        from_date=paid.due_date,
        next_due=rows[12].due_date,
        remaining_periods=348,
        method="equal-installment",
        first_period=13,
    )
    assert len(tail) == 348
    assert tail[0].period == 13
    assert tail[0].start_date == date(2025, 1, 15)
    assert tail[0].due_date == date(2025, 2, 15)
    assert tail[-1].due_date == rows[-1].due_date
    assert tail[0].payment == annuity(D("884978.39"), RATE, 348) == D("4768.45")
    assert tail[0].interest == D("3613.66")  # 884,978.39 × 4.9 % / 12, a regular month
    assert sum((r.principal for r in tail), D(0)) == D("884978.39")


def test_shorten_term_keeps_the_payment() -> None:
    _, rows = mortgage()
    tail = reamortise(
        principal=D("884978.39"),
        annual_rate=RATE,
        from_date=rows[11].due_date,
        next_due=rows[12].due_date,
        remaining_periods=348,
        method="equal-installment",
        mode="shorten-term",
        current_payment=D("5307.27"),
        first_period=13,
    )
    n = len(tail)
    assert n == 281
    assert tail[0].payment == annuity(D("884978.39"), RATE, 281) == D("5300.17")
    assert annuity(D("884978.39"), RATE, 280) > D("5307.27")
    assert all(r.payment <= D("5307.27") for r in tail[:-1])
    assert tail[-1].period == 13 + 281 - 1
    assert sum((r.principal for r in tail), D(0)) == D("884978.39")


def test_rate_change_from_a_period_start() -> None:
    """LPR repricing: the whole remaining principal re-amortised at 4.2 % from the start
    of period 13; the first period is a regular month."""
    _, rows = mortgage()
    tail = reamortise(
        principal=D("984978.39"),
        annual_rate=D("0.042"),
        from_date=rows[11].due_date,
        next_due=rows[12].due_date,
        remaining_periods=348,
        method="equal-installment",
        first_period=13,
    )
    assert tail[0].interest == D("3447.42")  # 984,978.39 × 4.2 % / 12 = 3447.424…
    assert tail[0].payment == annuity(D("984978.39"), D("0.042"), 348)
    assert all(r.annual_rate == D("0.042") for r in tail)


def test_mid_period_prepayment_gives_an_odd_first_period() -> None:
    """Prepaid on 1 Feb 2025 (mid-period): the tail's first period runs 1 Feb → 15 Feb,
    14 days: 500,000 × 6 % × 14 / 360 = 1,166.67."""
    tail = reamortise(
        principal=D("500000.00"),
        annual_rate=D("0.06"),
        from_date=date(2025, 2, 1),
        next_due=date(2025, 2, 15),
        remaining_periods=10,
        method="equal-installment",
        first_period=13,
        repayment_day=15,
    )
    assert tail[0].interest == D("1166.67")
    level = annuity(D("500000.00"), D("0.06"), 10)
    assert tail[0].principal == level - D("2500.00")
    assert tail[1].payment == level


def test_repayment_day_keeps_a_month_end_anchor() -> None:
    tail = reamortise(
        principal=D("10000.00"),
        annual_rate=D("0.06"),
        from_date=date(2024, 3, 31),
        next_due=date(2024, 4, 30),
        remaining_periods=3,
        method="equal-principal",
        first_period=3,
        repayment_day=31,
    )
    assert [r.due_date for r in tail] == [date(2024, 4, 30), date(2024, 5, 31), date(2024, 6, 30)]
    assert tail[0].interest == D("50.00")  # 31 Mar → 30 Apr is a regular month
    # From a clipped due date (29 Feb) to the 31st is also a regular month.
    tail = reamortise(
        principal=D("10000.00"),
        annual_rate=D("0.06"),
        from_date=date(2024, 2, 29),
        next_due=date(2024, 3, 31),
        remaining_periods=2,
        method="interest-only",
        first_period=2,
    )
    assert [r.interest for r in tail] == [D("50.00"), D("50.00")]


def test_shorten_term_equal_principal_keeps_the_principal_part() -> None:
    tail = reamortise(
        principal=D("9500.00"),
        annual_rate=D("0.06"),
        from_date=date(2024, 6, 15),
        next_due=date(2024, 7, 15),
        remaining_periods=12,
        method="equal-principal",
        mode="shorten-term",
        current_principal=D("1000.00"),
        first_period=7,
    )
    assert [r.principal for r in tail] == [D("1000.00")] * 9 + [D("500.00")]
    assert tail[0].interest == D("47.50")


def test_shorten_term_equal_principal_with_only_the_current_payment() -> None:
    """Without ``current_principal`` the current payment is a cap on the first regular
    payment: 9,500 / n + 47.50 ≤ 1,060.00 → n = 10 (950.00 + 47.50)."""
    tail = reamortise(
        principal=D("9500.00"),
        annual_rate=D("0.06"),
        from_date=date(2024, 6, 15),
        next_due=date(2024, 7, 15),
        remaining_periods=12,
        method="equal-principal",
        mode="shorten-term",
        current_payment=D("1060.00"),
        first_period=7,
    )
    assert len(tail) == 10
    assert tail[0].payment == D("997.50")


def test_shorten_term_after_a_rate_rise_keeps_the_term() -> None:
    tail = reamortise(
        principal=D("100000.00"),
        annual_rate=D("0.08"),
        from_date=date(2024, 6, 15),
        next_due=date(2024, 7, 15),
        remaining_periods=12,
        method="equal-installment",
        mode="shorten-term",
        current_payment=D("8606.64"),  # the 6 % payment
        first_period=1,
    )
    assert len(tail) == 12
    assert tail[0].payment == annuity(D("100000.00"), D("0.08"), 12)


def test_shorten_term_interest_only_keeps_the_term() -> None:
    tail = reamortise(
        principal=D("50000.00"),
        annual_rate=D("0.06"),
        from_date=date(2024, 6, 15),
        next_due=date(2024, 7, 15),
        remaining_periods=6,
        method="interest-only",
        mode="shorten-term",
        current_payment=D("500.00"),
        first_period=7,
    )
    assert len(tail) == 6
    assert tail[-1].principal == D("50000.00")


def test_nothing_left_gives_an_empty_tail() -> None:
    assert (
        reamortise(
            principal=D("0.00"),
            annual_rate=RATE,
            from_date=date(2024, 6, 15),
            next_due=date(2024, 7, 15),
            remaining_periods=6,
            method="equal-installment",
            first_period=7,
        )
        == ()
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"mode": "shorten"}, "mode"),
        ({"remaining_periods": 0}, "remaining_periods"),
        ({"mode": "shorten-term"}, "current_payment"),
        ({"mode": "shorten-term", "method": "equal-principal"}, "current_principal"),
        ({"method": "annuity"}, "method"),
        ({"principal": D("-1.00")}, "principal"),
    ],
)
def test_errors_name_the_field(change: dict[str, object], field: str) -> None:
    kw: dict[str, object] = {
        "principal": D("1000.00"),
        "annual_rate": RATE,
        "from_date": date(2024, 6, 15),
        "next_due": date(2024, 7, 15),
        "remaining_periods": 6,
        "method": "equal-installment",
        "first_period": 7,
    }
    kw.update(change)
    with pytest.raises(ValueError) as info:
        reamortise(**kw)  # type: ignore[arg-type]
    assert str(info.value).startswith(f"{field}:")


@settings(deadline=None)
@given(
    principal=st.integers(min_value=100, max_value=1_000_000_000).map(lambda f: D(f).scaleb(-2)),
    rate=st.integers(min_value=0, max_value=36_000).map(lambda n: D(n).scaleb(-5)),
    payment_share=st.integers(min_value=1, max_value=100),
    max_periods=st.integers(min_value=1, max_value=360),
)
def test_fewest_periods_is_fewest(
    principal: Decimal, rate: Decimal, payment_share: int, max_periods: int
) -> None:
    payment = max(D("0.01"), (principal * payment_share / 100).quantize(D("0.01")))
    n = fewest_periods(
        principal=principal, annual_rate=rate, payment=payment, max_periods=max_periods
    )
    assert 1 <= n <= max_periods
    if level_payment(principal, rate, n) <= payment:
        assert n == 1 or level_payment(principal, rate, n - 1) > payment
    else:
        assert n == max_periods


METHODS = ["equal-installment", "equal-principal", "interest-only", "bullet"]


@st.composite
def prepaid_loans(draw: st.DrawFn) -> dict[str, object]:
    terms = ScheduleTerms(
        principal=draw(
            st.integers(min_value=1000, max_value=1_000_000_000).map(lambda f: D(f).scaleb(-2))
        ),
        annual_rate=draw(st.integers(min_value=0, max_value=36_000).map(lambda n: D(n).scaleb(-5))),
        months=draw(st.integers(min_value=2, max_value=360)),
        method="equal-installment",
        start=draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31))),
        repayment_day=draw(st.none() | st.integers(min_value=1, max_value=31)),
    )
    rows = generate_schedule(terms)
    _, anchor = first_due_and_anchor(
        start=terms.start, first_due=None, repayment_day=terms.repayment_day
    )
    k = draw(st.integers(min_value=0, max_value=terms.months - 2))
    owed = rows[k].remaining_principal
    prepaid = (owed * draw(st.integers(min_value=0, max_value=99)) / 100).quantize(D("0.01"))
    return {
        "terms": terms,
        "paid": rows[k],
        "next": rows[k + 1],
        "principal": owed - prepaid,
        "remaining_periods": terms.months - k - 1,
        "current_payment": rows[0].payment,
        "anchor": anchor,
        "due_dates": [r.due_date for r in rows[k + 1 :]],
    }


@settings(max_examples=150, deadline=None)
@given(prepaid_loans(), st.sampled_from(METHODS))
def test_reamortised_tail_sums_to_the_principal(loan: dict[str, object], method: str) -> None:
    terms = loan["terms"]
    assert isinstance(terms, ScheduleTerms)
    principal = loan["principal"]
    assert isinstance(principal, Decimal)
    if principal == 0:
        return
    tail = reamortise(
        principal=principal,
        annual_rate=terms.annual_rate,
        from_date=loan["paid"].due_date,  # type: ignore[attr-defined]
        next_due=loan["next"].due_date,  # type: ignore[attr-defined]
        remaining_periods=loan["remaining_periods"],  # type: ignore[arg-type]
        method=method,
        first_period=loan["next"].period,  # type: ignore[attr-defined]
        repayment_day=loan["anchor"],  # type: ignore[arg-type]
    )
    if method != "bullet":
        # The loan's anchor day keeps the tail on the original due dates.
        assert [r.due_date for r in tail] == loan["due_dates"]
    assert sum((r.principal for r in tail), D(0)) == principal
    assert tail[-1].remaining_principal == 0
    assert tail[0].period == loan["next"].period  # type: ignore[attr-defined]
    assert all(r.principal >= 0 and r.interest >= 0 for r in tail)


@settings(max_examples=150, deadline=None)
@given(prepaid_loans())
def test_shorten_term_payment_and_periods(loan: dict[str, object]) -> None:
    terms = loan["terms"]
    assert isinstance(terms, ScheduleTerms)
    principal = loan["principal"]
    current = loan["current_payment"]
    remaining = loan["remaining_periods"]
    assert isinstance(principal, Decimal)
    assert isinstance(current, Decimal)
    assert isinstance(remaining, int)
    # a tiny loan over many periods can round its level payment to 0.00: shortening the
    # term against a zero payment is refused (test_shorten_term_needs_a_payment)
    assume(principal > 0 and current > 0)
    tail = reamortise(
        principal=principal,
        annual_rate=terms.annual_rate,
        from_date=loan["paid"].due_date,  # type: ignore[attr-defined]
        next_due=loan["next"].due_date,  # type: ignore[attr-defined]
        remaining_periods=remaining,
        method="equal-installment",
        mode="shorten-term",
        current_payment=current,
        first_period=loan["next"].period,  # type: ignore[attr-defined]
        repayment_day=loan["anchor"],  # type: ignore[arg-type]
    )
    assert 1 <= len(tail) <= remaining
    level = level_payment(principal, terms.annual_rate, len(tail))
    if level > current:
        # Only when no term ≤ remaining fits (e.g. nothing prepaid and the original
        # payment was rounded down): the term cannot grow, so it stays.
        assert len(tail) == remaining
    else:
        assert all(r.payment <= current for r in tail[:-1])
        if len(tail) > 1:
            assert level_payment(principal, terms.annual_rate, len(tail) - 1) > current
    assert sum((r.principal for r in tail), D(0)) == principal


def test_shorten_term_needs_a_payment() -> None:
    with pytest.raises(ValueError, match="current_payment"):
        reamortise(
            principal=D("0.05"),
            annual_rate=D("0"),
            from_date=date(2026, 1, 15),
            next_due=date(2026, 2, 15),
            remaining_periods=12,
            method="equal-installment",
            mode="shorten-term",
            current_payment=D("0.00"),
            first_period=1,
        )
