"""Complaint settings (the numbers), SLA deadlines, overdue alerts and the monthly
analysis.

Three timers run from the moment a complaint is received (POLICY.md §9):

- ``response``: first response within ``response_hours`` clock hours (24 h);
- ``investigation``: investigation done within ``investigation_working_days`` working
  days (3) on the Chinese calendar with 调休, counted from the day after receipt and
  due at 24:00 local time of the last day;
- ``resolution``: the result fed back to the complainant within ``regulatory_days``
  calendar days (15), plus ``extension_days`` (15) per recorded extension.

A timer is met when its event happened at or before its deadline; it is overdue when
the event has not happened and the deadline has passed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Literal, NamedTuple
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from daihou.auth.actor import SYSTEM, Actor
from daihou.auth.permissions import authorize
from daihou.compliance.complaints.calendar import WorkingCalendar, make_calendar
from daihou.compliance.complaints.models import Complaint

Channel = Literal["hotline", "app", "letter", "regulator-referral", "email", "walk-in"]
Category = Literal[
    "collection-conduct", "harassment", "privacy", "fees-interest", "repayment-dispute", "other"
]
Priority = Literal["normal", "urgent"]
Timer = Literal["response", "investigation", "resolution"]

CHANNELS: tuple[Channel, ...] = (
    "hotline",  # 客服热线
    "app",
    "letter",  # 来信
    "regulator-referral",  # 监管转办
    "email",
    "walk-in",  # 临柜
)
CATEGORIES: tuple[Category, ...] = (
    "collection-conduct",  # 催收行为
    "harassment",  # 骚扰
    "privacy",  # 个人信息
    "fees-interest",  # 费用利息
    "repayment-dispute",  # 还款争议
    "other",
)
PRIORITIES: tuple[Priority, ...] = ("normal", "urgent")
TIMERS: tuple[Timer, ...] = ("response", "investigation", "resolution")


class ComplaintSettings(BaseModel):
    """Every complaint number in one place; a policy pack can carry it as
    ``complaints:``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = "Asia/Shanghai"
    response_hours: int = Field(default=24, gt=0)
    investigation_working_days: int = Field(default=3, gt=0)
    regulatory_days: int = Field(default=15, gt=0)
    extension_days: int = Field(default=15, gt=0)
    max_extensions: int = Field(default=1, ge=0)
    urgent_channels: tuple[Channel, ...] = ("regulator-referral",)
    # A complaint in these categories stops collection on the case until it is closed
    # (停催); the empty tuple switches holds off.
    hold_categories: tuple[Category, ...] = (
        "collection-conduct",
        "harassment",
        "privacy",
        "repayment-dispute",
    )
    hold_scope: Literal["customer", "loan"] = "customer"  # "loan": only the linked loan
    release_hold_on_close: bool = True
    calendar_strict: bool = False
    extra_holidays: tuple[date, ...] = ()
    extra_workdays: tuple[date, ...] = ()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (KeyError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def calendar(self) -> WorkingCalendar:
        return _calendar(self.extra_holidays, self.extra_workdays, self.calendar_strict)


@lru_cache(maxsize=8)
def _calendar(
    holidays: tuple[date, ...], workdays: tuple[date, ...], strict: bool
) -> WorkingCalendar:
    return make_calendar(extra_holidays=holidays, extra_workdays=workdays, strict=strict)


DEFAULT_SETTINGS = ComplaintSettings()


@dataclass(frozen=True, slots=True)
class Deadlines:
    response_due_at: datetime
    investigation_due_at: datetime
    regulatory_due_at: datetime


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"{name} must be a time-zone-aware datetime, got {value}")
    return value


def local_date(at: datetime, settings: ComplaintSettings = DEFAULT_SETTINGS) -> date:
    return _aware(at, "time").astimezone(settings.zone).date()


def end_of_day(day: date, settings: ComplaintSettings = DEFAULT_SETTINGS) -> datetime:
    """24:00 local time of ``day`` (midnight starting the next day)."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=settings.zone)


def regulatory_due_at(
    received_at: datetime, extensions: int, settings: ComplaintSettings = DEFAULT_SETTINGS
) -> datetime:
    days = settings.regulatory_days + extensions * settings.extension_days
    return end_of_day(local_date(received_at, settings) + timedelta(days=days), settings)


def deadlines(received_at: datetime, settings: ComplaintSettings = DEFAULT_SETTINGS) -> Deadlines:
    received = local_date(_aware(received_at, "received_at"), settings)
    last_investigation_day = settings.calendar.add_working_days(
        received, settings.investigation_working_days
    )
    return Deadlines(
        response_due_at=received_at + timedelta(hours=settings.response_hours),
        investigation_due_at=end_of_day(last_investigation_day, settings),
        regulatory_due_at=regulatory_due_at(received_at, 0, settings),
    )


def priority_for(
    channel: Channel, requested: Priority | None, settings: ComplaintSettings = DEFAULT_SETTINGS
) -> Priority:
    """Regulator referrals (监管转办) are always urgent; otherwise as requested."""
    if channel in settings.urgent_channels:
        return "urgent"
    return requested or "normal"


@dataclass(frozen=True, slots=True)
class TimerStatus:
    """One timer of one complaint as of ``now``: met, breached, running or overdue."""

    timer: Timer
    due_at: datetime
    done_at: datetime | None
    state: Literal["met", "breached", "running", "overdue"]
    overdue_by: timedelta | None  # how late (done late or still open past due)
    remaining: timedelta | None  # time left while running


def timer_status(
    timer: Timer, due_at: datetime, done_at: datetime | None, now: datetime
) -> TimerStatus:
    _aware(now, "now")
    if done_at is not None:
        late = done_at > due_at
        return TimerStatus(
            timer,
            due_at,
            done_at,
            "breached" if late else "met",
            done_at - due_at if late else None,
            None,
        )
    if now > due_at:
        return TimerStatus(timer, due_at, None, "overdue", now - due_at, None)
    return TimerStatus(timer, due_at, None, "running", None, due_at - now)


# --- queries: overdue alerts and the monthly analysis ----------------------------------


def _due_and_done(timer: Timer) -> tuple[Any, Any]:
    if timer == "response":
        return Complaint.response_due_at, Complaint.responded_at
    if timer == "investigation":
        return Complaint.investigation_due_at, Complaint.investigation_completed_at
    return Complaint.regulatory_due_at, Complaint.fed_back_at


def due_at_of(complaint: Complaint, timer: Timer) -> datetime:
    due, _ = _due_and_done(timer)
    value: datetime = getattr(complaint, due.key)
    return value


def done_at_of(complaint: Complaint, timer: Timer) -> datetime | None:
    _, done = _due_and_done(timer)
    value: datetime | None = getattr(complaint, done.key)
    return value


def timers(complaint: Complaint, *, now: datetime) -> list[TimerStatus]:
    """The three timers of one complaint as of ``now`` (the SLA countdown)."""
    return [
        timer_status(timer, due_at_of(complaint, timer), done_at_of(complaint, timer), now)
        for timer in TIMERS
    ]


class OverdueTimer(NamedTuple):
    complaint: Complaint
    timer: Timer
    due_at: datetime
    overdue_by: timedelta


def overdue_timers(session: Session, *, now: datetime, actor: Actor = SYSTEM) -> list[OverdueTimer]:
    """Every timer past its deadline whose event has not happened (alerts), most
    overdue first. One set-based query over all open complaints."""
    authorize(actor, "complaint.view")
    if now.tzinfo is None:
        raise ValueError("now must be a time-zone-aware datetime")
    parts = []
    for timer in TIMERS:
        due, done = _due_and_done(timer)
        parts.append(
            select(
                Complaint.id.label("complaint_id"),
                literal(TIMERS.index(timer)).label("timer"),
            ).where(done.is_(None), due < now, Complaint.state != "closed")
        )
    late = union_all(*parts).subquery()
    pairs = [(int(r.complaint_id), TIMERS[int(r.timer)]) for r in session.execute(select(late))]
    ids = sorted({cid for cid, _ in pairs})
    by_id = (
        {c.id: c for c in session.scalars(select(Complaint).where(Complaint.id.in_(ids)))}
        if ids
        else {}
    )
    alerts = []
    for cid, timer in pairs:
        complaint = by_id[cid]
        due_at = due_at_of(complaint, timer)
        alerts.append(OverdueTimer(complaint, timer, due_at, now - due_at))
    alerts.sort(key=lambda a: (-a.overdue_by, a.complaint.id, TIMERS.index(a.timer)))
    return alerts


@dataclass(frozen=True)
class SlaFigures:
    met: int
    breached: int
    pending: int

    @property
    def rate(self) -> float | None:
        decided = self.met + self.breached
        return self.met / decided if decided else None


@dataclass(frozen=True)
class MonthlyAnalysis:
    """Complaints received in ``month`` (local time): counts and SLA compliance.

    A timer is *met* when its event happened by the deadline, *breached* when it
    happened late or is still open past the deadline at ``as_of``, else *pending*.
    """

    month: date
    as_of: datetime
    total: int
    by_category: dict[str, int]
    by_channel: dict[str, int]
    by_priority: dict[str, int]
    by_collector: dict[str, int]
    by_agency: dict[str, int]
    upheld: int
    sla: dict[str, SlaFigures] = field(default_factory=dict)

    @property
    def sla_rate(self) -> float | None:
        """Share of decided timers (all three kinds) that were met."""
        met = sum(f.met for f in self.sla.values())
        decided = met + sum(f.breached for f in self.sla.values())
        return met / decided if decided else None


def month_window(
    month: date, settings: ComplaintSettings = DEFAULT_SETTINGS
) -> tuple[datetime, datetime]:
    start = month.replace(day=1)
    following = (start + timedelta(days=32)).replace(day=1)
    return (
        datetime.combine(start, time(0), tzinfo=settings.zone),
        datetime.combine(following, time(0), tzinfo=settings.zone),
    )


def _counts(
    session: Session, column: Any, window: ColumnElement[bool], keys: Sequence[str] = ()
) -> dict[str, int]:
    rows = session.execute(
        select(column, func.count()).where(window, column.is_not(None)).group_by(column)
    )
    counts = dict.fromkeys(keys, 0)
    for key, n in rows:
        counts[str(key)] = int(n)
    return counts


def monthly_analysis(
    session: Session,
    *,
    month: date,
    as_of: datetime | None = None,
    actor: Actor = SYSTEM,
    settings: ComplaintSettings = DEFAULT_SETTINGS,
) -> MonthlyAnalysis:
    """Monthly complaint analysis (投诉分析) by category, channel, collector and agency,
    with the SLA compliance rate per timer. ``as_of`` defaults to the end of the month
    (right for a closed month); pass the current time for the month in course."""
    authorize(actor, "complaint.view")
    start, end = month_window(month, settings)
    as_of = as_of or end
    window = and_(Complaint.received_at >= start, Complaint.received_at < end)
    sums = []
    for timer in TIMERS:
        due, done = _due_and_done(timer)
        met = and_(done.is_not(None), done <= due)
        breached = or_(and_(done.is_not(None), done > due), and_(done.is_(None), due < as_of))
        sums += [
            func.coalesce(func.sum(case((met, 1), else_=0)), 0),
            func.coalesce(func.sum(case((breached, 1), else_=0)), 0),
        ]
    upheld = func.coalesce(func.sum(case((Complaint.upheld.is_(True), 1), else_=0)), 0)
    row = session.execute(select(func.count(), upheld, *sums).where(window)).one()
    total = int(row[0])
    sla: dict[str, SlaFigures] = {}
    for i, timer in enumerate(TIMERS):
        met_n, breached_n = int(row[2 + 2 * i]), int(row[3 + 2 * i])
        sla[timer] = SlaFigures(met_n, breached_n, total - met_n - breached_n)
    return MonthlyAnalysis(
        month=start.date(),
        as_of=as_of,
        total=total,
        by_category=_counts(session, Complaint.category, window, CATEGORIES),
        by_channel=_counts(session, Complaint.channel, window, CHANNELS),
        by_priority=_counts(session, Complaint.priority, window, PRIORITIES),
        by_collector=_counts(session, Complaint.collector_user_id, window),
        by_agency=_counts(session, Complaint.agency_id, window),
        upheld=int(row[1]),
        sla=sla,
    )
