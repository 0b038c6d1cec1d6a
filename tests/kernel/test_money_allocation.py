"""Largest-remainder split, allocation orders, and the delinquency rule tables."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daihou.kernel.allocation import Outstanding, allocate
from daihou.kernel.delinquency import Bucket, Floor, bucket_for, class_floor, effective_class
from daihou.kernel.money import split_largest_remainder, to_money
from daihou.policy.schema import FLOORS_CARD, FLOORS_CN_2023, Delinquency

D = Decimal


def test_largest_remainder_split_is_exact_and_fair() -> None:
    assert split_largest_remainder(D("100.00"), [D(1), D(1), D(1)]) == [
        D("33.34"),
        D("33.33"),
        D("33.33"),
    ]
    assert split_largest_remainder(D("0.05"), [D(3), D(1)]) == [D("0.04"), D("0.01")]
    assert split_largest_remainder(D("-10.00"), [D(1), D(2)]) == [D("-3.33"), D("-6.67")]
    with pytest.raises(ValueError):
        split_largest_remainder(D("1.00"), [D(0), D(0)])


@given(
    total=st.decimals(min_value=D("-1000000"), max_value=D("1000000"), places=2),
    weights=st.lists(
        st.decimals(min_value=D("0.01"), max_value=D("1000"), places=2), min_size=1, max_size=12
    ),
)
def test_split_parts_sum_to_the_whole(total: Decimal, weights: list[Decimal]) -> None:
    parts = split_largest_remainder(total, weights)
    assert sum(parts) == total
    assert all(p == p.quantize(D("0.01")) for p in parts)


def test_money_parsing_refuses_floats_and_sub_fen() -> None:
    assert to_money("1,234.50") == D("1234.50")
    with pytest.raises(TypeError):
        to_money(1.5)
    with pytest.raises(ValueError, match="two decimals"):
        to_money("1.005")


ROWS = [
    Outstanding(
        1,
        {
            "fee": D("5"),
            "penalty": D("2"),
            "compound": D("1"),
            "interest": D("10"),
            "principal": D("100"),
        },
    ),
    Outstanding(
        2,
        {
            "fee": D("0"),
            "penalty": D("0"),
            "compound": D("0"),
            "interest": D("9"),
            "principal": D("101"),
        },
    ),
]


def test_default_order_pays_each_installment_in_full_oldest_first() -> None:
    parts, left = allocate(D("125"), ROWS)
    assert [(p.period, p.component, p.amount) for p in parts] == [
        (1, "fee", D("5")),
        (1, "penalty", D("2")),
        (1, "compound", D("1")),
        (1, "interest", D("10")),
        (1, "principal", D("100")),
        (2, "interest", D("7")),
    ]
    assert left == 0


def test_by_component_pays_all_interest_before_any_principal() -> None:
    parts, _ = allocate(
        D("30"),
        ROWS,
        by="component",
        components=["interest", "principal", "fee", "penalty", "compound"],
    )
    assert [(p.period, p.component) for p in parts] == [
        (1, "interest"),
        (2, "interest"),
        (1, "principal"),
    ]
    assert parts[-1].amount == D("11")


def test_newest_first_and_overpayment_leftover() -> None:
    parts, left = allocate(D("300"), ROWS, newest_first=True)
    assert parts[0].period == 2 and left == D("300") - D("228")


def test_bucket_and_class_tables() -> None:
    buckets = [Bucket(b.name, b.min_dpd, b.max_dpd) for b in Delinquency().buckets]
    assert [bucket_for(d, buckets) for d in (0, 1, 30, 31, 90, 91, 180, 181, 999)] == [
        "M0",
        "M1",
        "M1",
        "M2",
        "M3",
        "M4",
        "M6",
        "M7",
        "M7",
    ]
    cn = [Floor(f.min_dpd, f.risk_class) for f in FLOORS_CN_2023]
    card = [Floor(f.min_dpd, f.risk_class) for f in FLOORS_CARD]
    assert [class_floor(d, cn) for d in (0, 1, 90, 91, 270, 271, 360, 361)] == [
        "normal",
        "special-mention",
        "special-mention",
        "substandard",
        "substandard",
        "doubtful",
        "doubtful",
        "loss",
    ]
    assert [class_floor(d, card) for d in (90, 91, 120, 121, 180, 181)] == [
        "special-mention",
        "substandard",
        "substandard",
        "doubtful",
        "doubtful",
        "loss",
    ]
    assert class_floor(0, cn, restructured=True) == "special-mention"
    assert (
        effective_class("substandard", "special-mention") == "substandard"
    )  # never below the floor
    assert effective_class("normal", "doubtful") == "doubtful"
    assert Delinquency(classification="card").effective_floors() == FLOORS_CARD


def test_buckets_must_cover_every_dpd() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="must start at"):
        Delinquency(
            buckets=[{"name": "M0", "min_dpd": 0, "max_dpd": 0}, {"name": "M1", "min_dpd": 2}]
        )
