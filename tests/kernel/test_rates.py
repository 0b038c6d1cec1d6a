from __future__ import annotations

from decimal import Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daihou.kernel.rates import annual_from_monthly, monthly_rate, parse_rate


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4.9%", "0.049"),
        (" 4.9 % ", "0.049"),
        ("4.90%", "0.049"),
        ("4.9％", "0.049"),
        ("0.049", "0.049"),
        (".049", "0.049"),
        ("5‰", "0.005"),
        ("0", "0"),
        ("0%", "0"),
        ("99.99%", "0.9999"),
    ],
)
def test_parse_annual_rate(text: str, expected: str) -> None:
    assert parse_rate(text) == Decimal(expected)


def test_parse_monthly_rate_converts_to_annual_exactly() -> None:
    assert parse_rate("5‰", kind="monthly") == Decimal("0.06")
    assert parse_rate("2%", kind="monthly") == Decimal("0.24")
    assert parse_rate("0.004", kind="monthly") == Decimal("0.048")
    assert annual_from_monthly(Decimal("0.0045")) == Decimal("0.054")


def test_bare_number_of_one_or_more_is_ambiguous() -> None:
    with pytest.raises(ValueError) as info:
        parse_rate("4.9", field="annual_rate")
    message = str(info.value)
    assert "annual_rate" in message
    assert '"4.9%"' in message
    assert '"0.049"' in message
    with pytest.raises(ValueError, match="ambiguous"):
        parse_rate("1")


@pytest.mark.parametrize(
    ("text", "kind", "words"),
    [
        ("-4.9%", "annual", "negative"),
        ("-0.01", "annual", "negative"),
        ("NaN", "annual", "not a rate"),
        ("nan%", "annual", "not a rate"),
        ("Infinity", "annual", "not a rate"),
        ("abc", "annual", "not a rate"),
        ("", "annual", "not a rate"),
        ("   ", "annual", "not a rate"),
        ("4.9%%", "annual", "not a rate"),
        ("1e-2", "annual", "not a rate"),
        ("4,9%", "annual", "not a rate"),
        ("100%", "annual", "100%"),
        ("150%", "annual", "100%"),
        ("1000‰", "annual", "100%"),
        ("9%", "monthly", "100%"),
    ],
)
def test_rate_errors_name_the_field(text: str, kind: str, words: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_rate(text, kind=kind, field="contract_rate")  # type: ignore[arg-type]
    assert str(info.value).startswith("contract_rate:")
    assert words in str(info.value)


def test_monthly_rate_keeps_34_digits_regardless_of_the_thread_context() -> None:
    assert monthly_rate(Decimal("0.06")) == Decimal("0.005")
    with localcontext() as ctx:
        ctx.prec = 5
        m = monthly_rate(Decimal("0.049"))
    assert m == Decimal("0.004083333333333333333333333333333333")
    assert abs(m * 12 - Decimal("0.049")) < Decimal("1e-33")


fractions = st.integers(min_value=0, max_value=999_999_999).map(lambda n: Decimal(n).scaleb(-9))


@given(fractions)
def test_parse_rate_round_trips(rate: Decimal) -> None:
    assert parse_rate(f"{rate:f}") == rate
    assert parse_rate(f"{rate.scaleb(2):f}%") == rate
    assert parse_rate(f" {rate.scaleb(3):f} ‰") == rate


@given(st.integers(min_value=0, max_value=83_333_333).map(lambda n: Decimal(n).scaleb(-9)))
def test_parse_monthly_round_trips(monthly: Decimal) -> None:
    assert parse_rate(f"{monthly.scaleb(2):f}%", kind="monthly") == monthly * 12
    assert monthly_rate(parse_rate(f"{monthly:f}", kind="monthly")) == monthly


@given(
    st.integers(min_value=1, max_value=10_000),
    st.integers(min_value=0, max_value=999),
)
def test_bare_numbers_of_one_or_more_are_always_rejected(whole: int, frac: int) -> None:
    text = f"{whole}.{frac:03d}"
    with pytest.raises(ValueError, match="ambiguous"):
        parse_rate(text)
    with pytest.raises(ValueError, match="ambiguous"):
        parse_rate(text, kind="monthly")
