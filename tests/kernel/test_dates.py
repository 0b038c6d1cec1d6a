from __future__ import annotations

import itertools
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daihou.kernel.dates import (
    add_months,
    anchored_dates,
    days_between,
    due_dates,
    is_regular_first_period,
    year_days,
)


def test_add_months_clips_month_end_from_the_anchor() -> None:
    jan31 = date(2024, 1, 31)
    assert add_months(jan31, 1) == date(2024, 2, 29)
    assert add_months(jan31, 2) == date(2024, 3, 31)
    assert add_months(jan31, 3) == date(2024, 4, 30)
    assert add_months(date(2023, 1, 31), 1) == date(2023, 2, 28)
    assert add_months(jan31, -2) == date(2023, 11, 30)
    assert add_months(jan31, 12) == date(2025, 1, 31)
    assert add_months(date(2024, 12, 15), 1) == date(2025, 1, 15)


def test_add_months_day_override() -> None:
    assert add_months(date(2024, 2, 29), 1, day=31) == date(2024, 3, 31)
    assert add_months(date(2024, 1, 10), 1, day=31) == date(2024, 2, 29)
    assert add_months(date(2024, 1, 10), 0, day=5) == date(2024, 1, 5)
    with pytest.raises(ValueError, match="day"):
        add_months(date(2024, 1, 10), 1, day=32)
    with pytest.raises(ValueError, match="day"):
        add_months(date(2024, 1, 10), 1, day=0)


def test_days_between_and_year_days() -> None:
    a, b = date(2024, 1, 31), date(2024, 2, 29)
    assert days_between(a, b, "actual/360") == 29
    assert days_between(a, b, "actual/365") == 29
    assert days_between(b, a, "actual/360") == -29
    # 30E/360: a 31st counts as the 30th on both ends.
    assert days_between(date(2024, 1, 31), date(2024, 2, 28), "30/360") == 28
    assert days_between(date(2024, 1, 15), date(2024, 2, 15), "30/360") == 30
    assert days_between(date(2024, 1, 31), date(2024, 3, 31), "30/360") == 60
    assert days_between(date(2024, 1, 10), date(2025, 1, 10), "30/360") == 360
    assert year_days("actual/360") == 360
    assert year_days("30/360") == 360
    assert year_days("actual/365") == 365
    with pytest.raises(ValueError, match="basis"):
        days_between(a, b, "act/act")
    with pytest.raises(ValueError, match="basis"):
        year_days("act/act")


def test_due_dates_roll_month_end_in_leap_and_common_years() -> None:
    assert due_dates(start=date(2023, 12, 31), months=4, first_due=None, repayment_day=None) == [
        date(2024, 1, 31),
        date(2024, 2, 29),
        date(2024, 3, 31),
        date(2024, 4, 30),
    ]
    # Disbursed on the 31st: the anchor is the disbursement day, not the clipped 29 Feb.
    assert due_dates(start=date(2024, 1, 31), months=3, first_due=None, repayment_day=None) == [
        date(2024, 2, 29),
        date(2024, 3, 31),
        date(2024, 4, 30),
    ]
    assert due_dates(start=date(2023, 1, 31), months=2, first_due=None, repayment_day=None) == [
        date(2023, 2, 28),
        date(2023, 3, 31),
    ]
    assert due_dates(start=date(2022, 12, 31), months=3, first_due=None, repayment_day=None) == [
        date(2023, 1, 31),
        date(2023, 2, 28),
        date(2023, 3, 31),
    ]


def test_due_dates_with_repayment_day_and_first_due() -> None:
    assert due_dates(start=date(2024, 1, 10), months=3, first_due=None, repayment_day=20) == [
        date(2024, 2, 20),
        date(2024, 3, 20),
        date(2024, 4, 20),
    ]
    # repayment_day 31 keeps the anchor at month end even after a clipped February.
    assert due_dates(start=date(2024, 1, 5), months=3, first_due=None, repayment_day=31) == [
        date(2024, 2, 29),
        date(2024, 3, 31),
        date(2024, 4, 30),
    ]
    # Without repayment_day the anchor is the first due date's day.
    assert due_dates(
        start=date(2024, 1, 10), months=3, first_due=date(2024, 2, 25), repayment_day=None
    ) == [date(2024, 2, 25), date(2024, 3, 25), date(2024, 4, 25)]
    assert due_dates(
        start=date(2024, 1, 10), months=2, first_due=date(2024, 2, 29), repayment_day=31
    ) == [date(2024, 2, 29), date(2024, 3, 31)]


def test_due_dates_validation_names_the_field() -> None:
    start = date(2024, 1, 10)
    with pytest.raises(ValueError, match="first_due"):
        due_dates(start=start, months=3, first_due=start, repayment_day=None)
    with pytest.raises(ValueError, match="first_due"):
        due_dates(start=start, months=3, first_due=date(2024, 3, 11), repayment_day=None)
    assert due_dates(start=start, months=1, first_due=date(2024, 3, 10), repayment_day=None) == [
        date(2024, 3, 10)
    ]
    with pytest.raises(ValueError, match="repayment_day"):
        due_dates(start=start, months=3, first_due=None, repayment_day=32)
    with pytest.raises(ValueError, match="repayment_day"):
        due_dates(start=start, months=3, first_due=None, repayment_day=0)
    with pytest.raises(ValueError, match="months"):
        due_dates(start=start, months=0, first_due=None, repayment_day=None)


def test_regular_first_period() -> None:
    assert is_regular_first_period(date(2024, 1, 31), date(2024, 2, 29), 31)
    assert is_regular_first_period(date(2024, 2, 29), date(2024, 3, 31), 31)
    assert is_regular_first_period(date(2023, 2, 28), date(2023, 3, 31), 31)
    assert is_regular_first_period(date(2024, 1, 15), date(2024, 2, 15), 15)
    assert not is_regular_first_period(date(2024, 1, 10), date(2024, 2, 20), 20)
    assert is_regular_first_period(date(2024, 2, 29), date(2024, 3, 29), 29)
    assert not is_regular_first_period(date(2024, 1, 10), date(2024, 2, 15), 15)


@given(
    first=st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31)),
    count=st.integers(min_value=1, max_value=400),
    anchor=st.integers(min_value=1, max_value=31),
)
def test_anchored_dates_match_add_months(first: date, count: int, anchor: int) -> None:
    got = anchored_dates(first, count, anchor)
    assert got == [first] + [add_months(first, k, day=anchor) for k in range(1, count)]
    assert all(a < b for a, b in itertools.pairwise(got))
