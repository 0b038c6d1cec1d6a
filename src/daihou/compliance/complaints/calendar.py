"""Chinese working days with 调休 (make-up working days), for SLA deadlines.

The data comes from the ``chinese-calendar`` package (State Council holiday notices;
1.11.0 covers 2004–2026). A weekend that is a make-up working day (2025-09-28, a
Sunday) counts as a working day; a weekday inside a public holiday (2025-10-01..08)
does not. ``extra_holidays`` / ``extra_workdays`` override or extend the package, e.g.
with next year's notice before a package release.

Outside the package's years the calendar falls back to weekends-only and warns
(``CalendarFallbackWarning``, once per year): complaint intake and overdue alerts must
not stop on 1 January, and weekends-only only moves a deadline *earlier* across a
holiday (an early alert) or by one day across an unknown 调休 Saturday. With
``strict=True`` it raises ``CalendarNotCovered`` instead.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache

import chinese_calendar  # type: ignore[import-untyped]

log = logging.getLogger(__name__)


class CalendarNotCovered(LookupError):
    """The date's year is not in the holiday data and the calendar is strict."""


class CalendarFallbackWarning(UserWarning):
    """A working-day computation used weekends only (year not in the holiday data)."""


@lru_cache(maxsize=1)
def _package_data() -> tuple[frozenset[date], frozenset[date], range]:
    holidays = frozenset(chinese_calendar.holidays)
    workdays = frozenset(chinese_calendar.workdays)
    years = {d.year for d in holidays}
    return holidays, workdays, range(min(years), max(years) + 1)


def covered_years() -> range:
    """The years whose holidays and 调休 days the installed package knows."""
    return _package_data()[2]


@dataclass(frozen=True)
class WorkingCalendar:
    extra_holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()
    strict: bool = False
    _warned: set[int] = field(default_factory=set, compare=False, repr=False)

    def __post_init__(self) -> None:
        both = self.extra_holidays & self.extra_workdays
        if both:
            raise ValueError(f"dates both holiday and working day: {sorted(both)}")

    def is_working_day(self, day: date) -> bool:
        if day in self.extra_workdays:
            return True
        if day in self.extra_holidays:
            return False
        holidays, workdays, years = _package_data()
        if day.year not in years:
            self._fallback(day.year)
            return day.weekday() < 5
        return day in workdays or (day.weekday() < 5 and day not in holidays)

    def _fallback(self, year: int) -> None:
        years = covered_years()
        message = (
            f"no holiday data for {year} (chinese-calendar {chinese_calendar.__version__} "
            f"covers {years.start}–{years.stop - 1})"
        )
        if self.strict:
            raise CalendarNotCovered(
                f"{message}; upgrade chinese-calendar or configure that year's holidays"
            )
        if year not in self._warned:
            self._warned.add(year)
            text = f"{message}: counting Monday–Friday as working days"
            log.warning(text)
            warnings.warn(text, CalendarFallbackWarning, stacklevel=3)

    def add_working_days(self, start: date, n: int) -> date:
        """The ``n``-th working day after ``start`` (``start`` itself not counted, as in
        a legal time limit); ``n == 0`` gives ``start``."""
        if n < 0:
            raise ValueError(f"n must not be negative, got {n}")
        day = start
        while n:
            day += timedelta(days=1)
            if self.is_working_day(day):
                n -= 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]; negative when ``end`` is before ``start``."""
        if end < start:
            return -self.working_days_between(end, start)
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            count += self.is_working_day(day)
        return count


def make_calendar(
    *,
    extra_holidays: Iterable[date] = (),
    extra_workdays: Iterable[date] = (),
    strict: bool = False,
) -> WorkingCalendar:
    return WorkingCalendar(frozenset(extra_holidays), frozenset(extra_workdays), strict)


DEFAULT_CALENDAR = WorkingCalendar()


def is_working_day(day: date, *, calendar: WorkingCalendar = DEFAULT_CALENDAR) -> bool:
    return calendar.is_working_day(day)


def add_working_days(start: date, n: int, *, calendar: WorkingCalendar = DEFAULT_CALENDAR) -> date:
    return calendar.add_working_days(start, n)
