"""Calendar arithmetic for schedules: month steps, day counts, due dates (还款日).

Due dates are always computed from one anchor (the first due date and the anchor day
of month), never by adding a month to the previous due date: a loan due on the 31st
falls due on 29 Feb and then again on 31 Mar, not on 29 Mar.
"""

from __future__ import annotations

import calendar
from datetime import date

DAY_BASES: tuple[str, ...] = ("actual/360", "actual/365", "30/360")

_YEAR_DAYS: dict[str, int] = {"actual/360": 360, "actual/365": 365, "30/360": 360}


def add_months(d: date, months: int, *, day: int | None = None) -> date:
    """``d`` moved by ``months`` calendar months, clipped to the month's last day.

    ``day`` (1–31) replaces the day of month before clipping, so an anchor on the 31st
    gives 31 Jan → 29 Feb (leap year) → 31 Mar when each step starts from the anchor.
    """
    if day is not None and not 1 <= day <= 31:
        raise ValueError(f"day: {day} is not a day of month (1–31)")
    total = d.year * 12 + d.month - 1 + months
    year, month0 = divmod(total, 12)
    if not 1 <= year <= 9999:
        raise ValueError(f"months: {d.isoformat()} + {months} months is out of range")
    month = month0 + 1
    wanted = d.day if day is None else day
    if wanted > 28:
        wanted = min(wanted, calendar.monthrange(year, month)[1])
    return date(year, month, wanted)


def year_days(basis: str) -> int:
    """Days in the year of a day-count basis: 360 or 365."""
    try:
        return _YEAR_DAYS[basis]
    except KeyError:
        raise ValueError(
            f"basis: unknown day-count basis {basis!r}; expected {DAY_BASES}"
        ) from None


def days_between(a: date, b: date, basis: str) -> int:
    """Days from ``a`` to ``b`` (negative when ``b`` is earlier).

    ``actual/360`` and ``actual/365`` count actual days; ``30/360`` counts every month
    as 30 days, 30E/360 style (a 31st is treated as the 30th on both ends).
    """
    if basis in ("actual/360", "actual/365"):
        return (b - a).days
    if basis == "30/360":
        d1 = min(a.day, 30)
        d2 = min(b.day, 30)
        return 360 * (b.year - a.year) + 30 * (b.month - a.month) + (d2 - d1)
    raise ValueError(f"basis: unknown day-count basis {basis!r}; expected {DAY_BASES}")


def first_due_and_anchor(
    *, start: date, first_due: date | None, repayment_day: int | None
) -> tuple[date, int]:
    """The validated first due date and the anchor day of month of later due dates.

    First due = ``first_due`` if given; else ``repayment_day`` in the month after
    ``start`` (clipped); else one calendar month after ``start``. The anchor day is
    ``repayment_day`` when given; else the first due date's day when ``first_due`` is
    given; else the day of ``start`` (disbursed 31 Jan → 29 Feb, 31 Mar, 30 Apr: a
    clipped first due date must not pull later ones to the 29th).
    """
    if repayment_day is not None and not 1 <= repayment_day <= 31:
        raise ValueError(f"repayment_day: {repayment_day} is not a day of month (1–31)")
    if first_due is None:
        first = add_months(start, 1, day=repayment_day)
    else:
        if first_due <= start:
            raise ValueError(
                f"first_due: {first_due.isoformat()} must be after the start date "
                f"{start.isoformat()}"
            )
        latest = add_months(start, 2)
        if first_due > latest:
            raise ValueError(
                f"first_due: {first_due.isoformat()} is more than 2 months after the start "
                f"date {start.isoformat()} (latest {latest.isoformat()})"
            )
        first = first_due
    if repayment_day is not None:
        return first, repayment_day
    if first_due is None:
        return first, start.day
    return first, first.day


def due_dates(
    *, start: date, months: int, first_due: date | None, repayment_day: int | None
) -> list[date]:
    """The ``months`` due dates of a schedule, each computed from the anchor."""
    if months < 1:
        raise ValueError(f"months: {months} must be at least 1")
    first, anchor = first_due_and_anchor(
        start=start, first_due=first_due, repayment_day=repayment_day
    )
    return anchored_dates(first, months, anchor)


def anchored_dates(first: date, count: int, anchor_day: int) -> list[date]:
    """``first`` then ``count − 1`` monthly dates on ``anchor_day`` (clipped).

    Equal to ``[first] + [add_months(first, k, day=anchor_day) for k in 1..count−1]``,
    written as one loop because schedules for a whole book call it.
    """
    if not 1 <= anchor_day <= 31:
        raise ValueError(f"anchor_day: {anchor_day} is not a day of month (1–31)")
    if count < 1:
        return []
    add_months(first, count - 1, day=anchor_day)  # range check of the last date
    out = [first]
    append = out.append
    year, month = first.year, first.month
    monthrange = calendar.monthrange
    for _ in range(count - 1):
        if month == 12:
            year, month = year + 1, 1
        else:
            month += 1
        if anchor_day <= 28:
            append(date(year, month, anchor_day))
        else:
            append(date(year, month, min(anchor_day, monthrange(year, month)[1])))
    return out


def is_regular_first_period(start: date, first_due: date, anchor_day: int) -> bool:
    """Whether ``start`` → ``first_due`` is exactly one calendar month (no odd period).

    True when ``first_due`` is one month after ``start`` (31 Jan → 29 Feb), or when
    ``start`` is itself the previous anchored due date (29 Feb → 31 Mar for a loan due
    on the 31st), which is how a re-amortised tail starting on a due date looks.
    """
    if add_months(start, 1) == first_due:
        return True
    return add_months(first_due, -1, day=anchor_day) == start
