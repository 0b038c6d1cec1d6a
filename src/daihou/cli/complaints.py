"""Complaint commands (投诉): add, list, show, respond, investigate, resolve, extend,
close, reopen, report.

``--as USER`` (or ``DAIHOU_USER``) names the person acting; handling a complaint needs
a compliance officer, so those commands refuse to run as ``system``. Times are ISO
8601; without an offset they are read in the complaint time zone (Asia/Shanghai).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Annotated, Any, cast

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from daihou.auth.actor import SYSTEM, Actor
from daihou.cli.common import DbOption, OutputFormat, console, err_console, print_json, unit_of_work
from daihou.compliance.complaints.models import Complaint
from daihou.compliance.complaints.sla import DEFAULT_SETTINGS, Category, Channel, Priority

AsUser = Annotated[
    str | None,
    typer.Option(
        "--as", envvar="DAIHOU_USER", help="Username acting (default: system)", show_default=False
    ),
]
At = Annotated[str | None, typer.Option("--at", help="When it happened, ISO 8601 (default: now)")]
Fmt = Annotated[OutputFormat, typer.Option("--format", help="table or json")]


@contextmanager
def refused() -> Iterator[None]:
    try:
        yield
    except PermissionError as exc:
        hint = "" if "--as" in str(exc) else " (pass --as USERNAME to act as a person)"
        err_console.print(f"[bold red]refused:[/] {exc}{hint}", highlight=False)
        raise typer.Exit(1) from None


def parse_time(value: str | None, *, field: str) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a time (e.g. 2026-03-02T10:30 or 2026-03-02T10:30+08:00)",
            param_hint=field,
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=DEFAULT_SETTINGS.zone)
    return moment


def acting(session: Session, username: str | None) -> Actor:
    if username is None:
        return SYSTEM
    from daihou.auth.service import actor_for

    return actor_for(session, username)


def _local(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(DEFAULT_SETTINGS.zone).isoformat(timespec="minutes")


def _data(c: Complaint) -> dict[str, Any]:
    return {
        "id": c.id,
        "state": c.state,
        "priority": c.priority,
        "channel": c.channel,
        "category": c.category,
        "customer_id": c.customer_id,
        "loan_id": c.loan_id,
        "collector": c.collector_user_id,
        "agency_id": c.agency_id,
        "regulator_ref": c.regulator_ref,
        "description": c.description,
        "received_at": _local(c.received_at),
        "response_due_at": _local(c.response_due_at),
        "investigation_due_at": _local(c.investigation_due_at),
        "regulatory_due_at": _local(c.regulatory_due_at),
        "extensions": c.extensions,
        "responded_at": _local(c.responded_at) or None,
        "investigation_completed_at": _local(c.investigation_completed_at) or None,
        "fed_back_at": _local(c.fed_back_at) or None,
        "closed_at": _local(c.closed_at) or None,
        "result": c.result,
        "upheld": c.upheld,
        "hold_id": c.hold_id,
    }


def _summary(c: Complaint) -> str:
    return (
        f"complaint [bold]{c.id}[/] {c.state} ({c.priority}, {c.category} via {c.channel}); "
        f"respond by {_local(c.response_due_at)}, investigate by "
        f"{_local(c.investigation_due_at)}, result by {_local(c.regulatory_due_at)}"
        + (f"; collection on hold (hold {c.hold_id})" if c.hold_id else "")
    )


def add(
    channel: Annotated[
        str,
        typer.Option(
            "--channel", help="hotline, app, letter, regulator-referral (监管转办), email, walk-in"
        ),
    ],
    category: Annotated[
        str,
        typer.Option(
            "--category",
            help="collection-conduct, harassment, privacy, fees-interest, repayment-dispute, other",
        ),
    ],
    description: Annotated[str, typer.Option("--description", help="What the complaint says")],
    priority: Annotated[
        str | None, typer.Option("--priority", help="normal or urgent (regulator: urgent)")
    ] = None,
    customer: Annotated[str | None, typer.Option("--customer", help="Customer id")] = None,
    loan: Annotated[str | None, typer.Option("--loan", help="Loan id")] = None,
    collector: Annotated[
        str | None, typer.Option("--collector", help="Username complained about")
    ] = None,
    agency: Annotated[str | None, typer.Option("--agency", help="Agency complained about")] = None,
    regulator_ref: Annotated[
        str | None, typer.Option("--regulator-ref", help="Regulator's reference (转办编号)")
    ] = None,
    received_at: Annotated[
        str | None, typer.Option("--received-at", help="When received (default: now)")
    ] = None,
    as_user: AsUser = None,
    output: Fmt = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """Take a complaint and start its SLA timers."""
    from daihou.compliance.complaints.service import create_complaint

    when = parse_time(received_at, field="--received-at")
    with refused(), unit_of_work(db) as session:
        complaint = create_complaint(
            session,
            actor=acting(session, as_user),
            channel=cast(Channel, channel),  # the service validates all three
            category=cast(Category, category),
            priority=cast(Priority | None, priority),
            description=description,
            received_at=when,
            customer_id=customer,
            loan_id=loan,
            collector_user_id=collector,
            agency_id=agency,
            regulator_ref=regulator_ref,
        )
        data, summary = _data(complaint), _summary(complaint)
    if output is OutputFormat.json:
        print_json(data)
    else:
        console.print(summary, soft_wrap=True)


def list_cmd(
    overdue: Annotated[
        bool, typer.Option("--overdue", help="Only timers past their deadline (alerts)")
    ] = False,
    state: Annotated[str | None, typer.Option("--state", help="Only this state")] = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only open complaints")] = False,
    now: Annotated[str | None, typer.Option("--now", help="As of (default: now)")] = None,
    as_user: AsUser = None,
    output: Fmt = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """Complaints, urgent first; --overdue lists each late timer instead."""
    from daihou.compliance.complaints.service import list_complaints
    from daihou.compliance.complaints.sla import overdue_timers

    moment = parse_time(now, field="--now")
    with refused(), unit_of_work(db) as session:
        actor = acting(session, as_user)
        if overdue:
            rows = [
                {
                    "id": a.complaint.id,
                    "priority": a.complaint.priority,
                    "category": a.complaint.category,
                    "state": a.complaint.state,
                    "timer": a.timer,
                    "due_at": _local(a.due_at),
                    "overdue_hours": round(a.overdue_by.total_seconds() / 3600, 1),
                }
                for a in overdue_timers(session, now=moment, actor=actor)
            ]
        else:
            rows = [
                _data(c)
                for c in list_complaints(session, actor=actor, state=state, open_only=open_only)
            ]
    if output is OutputFormat.json:
        print_json(rows)
        return
    columns = (
        ("id", "priority", "category", "state", "timer", "due_at", "overdue_hours")
        if overdue
        else ("id", "priority", "state", "category", "channel", "received_at", "regulatory_due_at")
    )
    table = Table(title="overdue complaint timers" if overdue else "complaints")
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*(str(row[c] if row[c] is not None else "") for c in columns))
    console.print(table)


def show(
    complaint_id: Annotated[int, typer.Argument(help="Complaint id")],
    now: Annotated[str | None, typer.Option("--now", help="As of (default: now)")] = None,
    as_user: AsUser = None,
    output: Fmt = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """One complaint: details, SLA timers and history."""
    from daihou.compliance.complaints.service import get_complaint, history
    from daihou.compliance.complaints.sla import timers

    moment = parse_time(now, field="--now")
    with refused(), unit_of_work(db) as session:
        events = history(session, actor=acting(session, as_user), complaint_id=complaint_id)
        complaint = get_complaint(session, complaint_id)
        data = _data(complaint)
        data["timers"] = [
            {"timer": t.timer, "due_at": _local(t.due_at), "state": t.state}
            for t in timers(complaint, now=moment)
        ]
        data["history"] = [
            {
                "at": _local(e.at),
                "action": e.action,
                "by": e.actor_id,
                "role": e.role,
                "to": e.to_state,
                "note": e.note,
            }
            for e in events
        ]
    if output is OutputFormat.json:
        print_json(data)
        return
    for key, value in data.items():
        if key not in {"timers", "history"} and value not in (None, ""):
            console.print(f"{key}: {value}", highlight=False)
    for t in data["timers"]:
        console.print(f"timer {t['timer']}: due {t['due_at']} — {t['state']}")
    for e in data["history"]:
        console.print(
            f"{e['at']} {e['action']} by {e['by']} ({e['role']}) → {e['to']}"
            + (f": {e['note']}" if e["note"] else ""),
            highlight=False,
        )


def _handle(
    db: str | None, as_user: str | None, action: Any, complaint_id: int, **kwargs: Any
) -> None:
    with refused(), unit_of_work(db) as session:
        complaint = action(
            session, actor=acting(session, as_user), complaint_id=complaint_id, **kwargs
        )
        summary = _summary(complaint)
    console.print(summary, soft_wrap=True)


def respond_cmd(
    complaint_id: Annotated[int, typer.Argument(help="Complaint id")],
    note: Annotated[str, typer.Option("--note", help="What was told to the complainant")],
    at: At = None,
    as_user: AsUser = None,
    db: DbOption = None,
) -> None:
    """First response (within 24 hours)."""
    from daihou.compliance.complaints.service import respond

    _handle(db, as_user, respond, complaint_id, note=note, at=parse_time(at, field="--at"))


def investigate_cmd(
    complaint_id: Annotated[int, typer.Argument(help="Complaint id")],
    findings: Annotated[str, typer.Option("--findings", help="What the investigation found")],
    ongoing: Annotated[
        bool, typer.Option("--ongoing", help="Progress only; the investigation is not done")
    ] = False,
    at: At = None,
    as_user: AsUser = None,
    db: DbOption = None,
) -> None:
    """Record investigation findings (done within 3 working days)."""
    from daihou.compliance.complaints.service import record_investigation

    _handle(
        db,
        as_user,
        record_investigation,
        complaint_id,
        findings=findings,
        complete=not ongoing,
        at=parse_time(at, field="--at"),
    )


def resolve_cmd(
    complaint_id: Annotated[int, typer.Argument(help="Complaint id")],
    result: Annotated[str, typer.Option("--result", help="The result fed back")],
    fed_back_at: Annotated[
        str | None, typer.Option("--fed-back-at", help="When it was fed back (default: now)")
    ] = None,
    upheld: Annotated[
        bool | None,
        typer.Option("--upheld/--not-upheld", help="Was the complaint justified (有责)?"),
    ] = None,
    as_user: AsUser = None,
    db: DbOption = None,
) -> None:
    """Record the result and when it was fed back to the complainant."""
    from daihou.compliance.complaints.service import resolve

    _handle(
        db,
        as_user,
        resolve,
        complaint_id,
        result=result,
        upheld=upheld,
        fed_back_at=parse_time(fed_back_at, field="--fed-back-at"),
    )


def extend_cmd(
    complaint_id: Annotated[int, typer.Argument(help="Complaint id")],
    reason: Annotated[str, typer.Option("--reason", help="Why more time is needed")],
    at: At = None,
    as_user: AsUser = None,
    db: DbOption = None,
) -> None:
    """Extend the regulatory deadline (+15 days, once)."""
    from daihou.compliance.complaints.service import extend

    _handle(db, as_user, extend, complaint_id, reason=reason, at=parse_time(at, field="--at"))


def close_cmd(
    complaint_id: Annotated[int, typer.Argument(help="Complaint id")],
    note: Annotated[str | None, typer.Option("--note")] = None,
    at: At = None,
    as_user: AsUser = None,
    db: DbOption = None,
) -> None:
    """Close a resolved complaint (releases its hold on the case)."""
    from daihou.compliance.complaints.service import close

    _handle(db, as_user, close, complaint_id, note=note, at=parse_time(at, field="--at"))


def reopen_cmd(
    complaint_id: Annotated[int, typer.Argument(help="Complaint id")],
    reason: Annotated[str, typer.Option("--reason", help="Why it is reopened")],
    at: At = None,
    as_user: AsUser = None,
    db: DbOption = None,
) -> None:
    """Reopen a resolved or closed complaint."""
    from daihou.compliance.complaints.service import reopen

    _handle(db, as_user, reopen, complaint_id, reason=reason, at=parse_time(at, field="--at"))


def report(
    month: Annotated[str, typer.Option("--month", help="YYYY-MM")],
    as_user: AsUser = None,
    output: Fmt = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """Monthly analysis: counts by category, channel, collector, agency; SLA rates."""
    from daihou.compliance.complaints.sla import month_window, monthly_analysis

    try:
        first = date.fromisoformat(f"{month}-01")
    except ValueError:
        raise typer.BadParameter(f"{month!r} is not YYYY-MM", param_hint="--month") from None
    as_of = min(datetime.now(UTC), month_window(first)[1])
    with refused(), unit_of_work(db) as session:
        result = monthly_analysis(session, month=first, as_of=as_of, actor=acting(session, as_user))
    groups = {
        "category": result.by_category,
        "channel": result.by_channel,
        "priority": result.by_priority,
        "collector": result.by_collector,
        "agency": result.by_agency,
    }
    data: dict[str, Any] = {
        "month": month,
        "as_of": _local(result.as_of),
        "total": result.total,
        "upheld": result.upheld,
        "by_category": result.by_category,
        "by_channel": result.by_channel,
        "by_priority": result.by_priority,
        "by_collector": result.by_collector,
        "by_agency": result.by_agency,
        "sla": {
            name: {"met": f.met, "breached": f.breached, "pending": f.pending, "rate": f.rate}
            for name, f in result.sla.items()
        },
        "sla_rate": result.sla_rate,
    }
    if output is OutputFormat.json:
        print_json(data)
        return
    console.print(
        f"complaints received in {month}: [bold]{result.total}[/] "
        f"(upheld {result.upheld}), as of {data['as_of']}"
    )
    for name, group in groups.items():
        counts = ", ".join(f"{k} {v}" for k, v in group.items() if v) or "—"
        console.print(f"{name}: {counts}", highlight=False)
    table = Table(title="SLA")
    for col in ("timer", "met", "breached", "pending", "rate"):
        table.add_column(col, justify="right")
    for name, f in result.sla.items():
        table.add_row(name, str(f.met), str(f.breached), str(f.pending), _pct(f.rate))
    table.add_row("all", "", "", "", _pct(result.sla_rate))
    console.print(table)


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.1%}"


def register(app: typer.Typer) -> None:
    complaint_app = typer.Typer(
        help="Complaints (投诉) with SLA timers on working days.",
        no_args_is_help=True,
        add_completion=False,
    )
    complaint_app.command("add")(add)
    complaint_app.command("list")(list_cmd)
    complaint_app.command("show")(show)
    complaint_app.command("respond")(respond_cmd)
    complaint_app.command("investigate")(investigate_cmd)
    complaint_app.command("resolve")(resolve_cmd)
    complaint_app.command("extend")(extend_cmd)
    complaint_app.command("close")(close_cmd)
    complaint_app.command("reopen")(reopen_cmd)
    complaint_app.command("report")(report)
    app.add_typer(complaint_app, name="complaint")
