"""Working days with 调休 on real 2025/2026 dates, and the SLA deadlines built on them."""

from __future__ import annotations

import warnings
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from daihou.compliance.complaints.calendar import (
    CalendarFallbackWarning,
    CalendarNotCovered,
    add_working_days,
    covered_years,
    is_working_day,
    make_calendar,
)
from daihou.compliance.complaints.sla import (
    ComplaintSettings,
    deadlines,
    priority_for,
    regulatory_due_at,
    timer_status,
)

CST = timezone(timedelta(hours=8))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=CST)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        ("2025-09-26", True),  # Friday
        ("2025-09-27", False),  # Saturday
        ("2025-09-28", True),  # Sunday, 调休 working day before National Day
        ("2025-10-01", False),  # National Day + Mid-Autumn: 1–8 October
        ("2025-10-06", False),  # a Monday inside the holiday
        ("2025-10-08", False),
        ("2025-10-09", True),
        ("2025-10-11", True),  # Saturday, 调休 working day
        ("2025-10-12", False),
        ("2026-01-01", False),  # New Year's Day
        ("2026-01-04", True),  # Sunday, 调休
        ("2026-02-14", True),  # Saturday, 调休 before the Spring Festival
        ("2026-02-16", False),  # Spring Festival: 15–23 February
        ("2026-02-23", False),
        ("2026-02-24", True),
        ("2026-02-28", True),  # Saturday, 调休
        ("2026-09-20", True),  # Sunday, 调休 before National Day 2026
        ("2026-10-07", False),
        ("2026-10-08", True),
        ("2026-10-10", True),  # Saturday, 调休
    ],
)
def test_is_working_day(day: str, working: bool) -> None:
    assert is_working_day(date.fromisoformat(day)) is working


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        ("2025-06-06", 3, "2025-06-11"),  # Friday: over a plain weekend
        ("2025-06-07", 3, "2025-06-11"),  # received on a Saturday
        ("2025-09-26", 3, "2025-09-30"),  # Sunday 28th is a 调休 working day
        ("2025-09-30", 3, "2025-10-11"),  # across Golden Week, ending on a 调休 Saturday
        ("2025-09-30", 1, "2025-10-09"),
        ("2026-02-12", 3, "2026-02-24"),  # 调休 Saturday 14th, then the Spring Festival
        ("2026-02-12", 0, "2026-02-12"),
    ],
)
def test_add_working_days(start: str, n: int, expected: str) -> None:
    assert add_working_days(date.fromisoformat(start), n) == date.fromisoformat(expected)


def test_negative_working_days_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        add_working_days(date(2026, 3, 2), -1)


def test_package_covers_2025_and_2026() -> None:
    years = covered_years()
    assert 2025 in years and 2026 in years and years.start <= 2020


def test_uncovered_year_falls_back_to_weekends_with_a_warning() -> None:
    year = covered_years().stop  # the first year without data
    calendar = make_calendar()
    new_year = date(year, 1, 1)
    with pytest.warns(CalendarFallbackWarning, match=f"no holiday data for {year}"):
        assert calendar.is_working_day(new_year) is (new_year.weekday() < 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once per year, not on every day
        calendar.is_working_day(new_year + timedelta(days=1))


def test_uncovered_year_raises_when_strict_and_can_be_configured() -> None:
    year = covered_years().stop
    with pytest.raises(CalendarNotCovered, match="upgrade chinese-calendar"):
        make_calendar(strict=True).is_working_day(date(year, 1, 5))
    configured = make_calendar(extra_holidays=[date(year, 1, 5)], strict=True)
    assert configured.is_working_day(date(year, 1, 5)) is False
    extra_workday = make_calendar(extra_workdays=[date(2026, 3, 7)])  # a Saturday
    assert extra_workday.add_working_days(date(2026, 3, 6), 1) == date(2026, 3, 7)


def test_deadlines_across_golden_week_and_a_tiaoxiu_saturday() -> None:
    due = deadlines(at("2025-09-30T15:00"))
    assert due.response_due_at == at("2025-10-01T15:00")  # 24 clock hours, holiday or not
    assert due.investigation_due_at == at("2025-10-12T00:00")  # end of Saturday 11 Oct
    assert due.regulatory_due_at == at("2025-10-16T00:00")  # end of day 15 (calendar days)


def test_deadlines_count_from_the_local_receipt_date() -> None:
    received = datetime(2025, 9, 30, 20, 0, tzinfo=UTC)  # 1 October 04:00 in Beijing
    due = deadlines(received)
    assert due.investigation_due_at == at("2025-10-12T00:00")
    assert due.regulatory_due_at == at("2025-10-17T00:00")
    assert due.response_due_at == received + timedelta(hours=24)


def test_deadlines_across_a_weekend_and_the_spring_festival() -> None:
    friday = deadlines(at("2026-03-06T17:30"))
    assert friday.investigation_due_at == at("2026-03-12T00:00")  # Mon, Tue, Wed 11th
    festival = deadlines(at("2026-02-12T10:00"))
    assert festival.investigation_due_at == at("2026-02-25T00:00")  # end of Tue 24th


def test_numbers_come_from_the_settings() -> None:
    settings = ComplaintSettings(
        response_hours=12, investigation_working_days=5, regulatory_days=10, extension_days=5
    )
    due = deadlines(at("2026-03-02T09:00"), settings)
    assert due.response_due_at == at("2026-03-02T21:00")
    assert due.investigation_due_at == at("2026-03-10T00:00")  # Mon 2nd + 5 → Mon 9th
    assert due.regulatory_due_at == at("2026-03-13T00:00")
    assert regulatory_due_at(at("2026-03-02T09:00"), 1, settings) == at("2026-03-18T00:00")
    with pytest.raises(ValueError, match="time zone"):
        ComplaintSettings(timezone="Mars/Olympus")
    with pytest.raises(ValueError, match="time-zone-aware"):
        deadlines(datetime(2026, 3, 2, 9, 0))


def test_regulator_referrals_are_urgent() -> None:
    assert priority_for("regulator-referral", "normal") == "urgent"
    assert priority_for("hotline", None) == "normal"
    assert priority_for("hotline", "urgent") == "urgent"


def test_timer_status() -> None:
    due = at("2026-03-03T09:00")
    assert timer_status("response", due, at("2026-03-03T09:00"), due).state == "met"
    late = timer_status("response", due, at("2026-03-03T10:00"), due)
    assert (late.state, late.overdue_by) == ("breached", timedelta(hours=1))
    running = timer_status("response", due, None, at("2026-03-03T08:00"))
    assert (running.state, running.remaining) == ("running", timedelta(hours=1))
    assert timer_status("response", due, None, at("2026-03-03T09:30")).state == "overdue"
