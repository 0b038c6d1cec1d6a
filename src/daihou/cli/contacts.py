"""Contact work commands: ``contact log|history|repair|evaluate``, ``promise
add|list|cancel|evaluate|rates`` and (``daihou.cli.visits``) ``visit …``.

``--by USER`` (or ``DAIHOU_USER``) names the person acting, with the roles and scope of
their user account; without it the command runs as ``system`` (which may log contacts
and run the daily evaluations, but not record promises or visits). Times are ISO 8601;
without an offset they are the borrower's local time (Asia/Shanghai by default). A
contact the gate refuses exits with code 3 and keeps the gate's record of the denial.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from daihou.auth.actor import SYSTEM, Actor
from daihou.cli.common import (
    DbOption,
    OutputFormat,
    console,
    err_console,
    parse_date,
    print_json,
    unit_of_work,
)

DENIED_EXIT = 3

contact_app = typer.Typer(
    help="Contact log (催记), contact repair (信息修复), lost contact (失联)."
)
promise_app = typer.Typer(help="Promises to pay (承诺还款).")

By = Annotated[
    str | None,
    typer.Option("--by", envvar="DAIHOU_USER", help="User acting (default: system)"),
]
Fmt = Annotated[OutputFormat, typer.Option("--format", help="table or json")]
CaseArg = Annotated[int, typer.Argument(help="Collection case id")]
OnDate = Annotated[str | None, typer.Option("--date", help="Business date (default: the system's)")]


def register(app: typer.Typer) -> None:
    from daihou.cli import visits
    from daihou.collection.gate_providers import register_case_providers

    register_case_providers()  # the gate sees promises and lost contact from the cases
    app.add_typer(contact_app, name="contact")
    app.add_typer(promise_app, name="promise")
    visits.register(app)


def acting(session: Session, username: str | None) -> Actor:
    if username is None:
        return SYSTEM
    from daihou.auth.service import actor_for

    return actor_for(session, username)


@contextmanager
def refused() -> Iterator[None]:
    try:
        yield
    except PermissionError as exc:
        err_console.print(f"[bold red]refused:[/] {exc}", highlight=False)
        raise typer.Exit(1) from None


def parse_time(value: str | None) -> datetime:
    """Now, or the given ISO time (naive: the borrower's local time)."""
    if value is None:
        return datetime.now(UTC)
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 time", param_hint="--at") from None


def business_day(session: Session, value: str | None) -> date:
    if value is not None:
        return parse_date(value, field="--date")
    from daihou.eod.calendar import business_date

    return business_date(session)


@contact_app.command("log")
def contact_log(
    case_id: CaseArg,
    channel: Annotated[str, typer.Option("--channel", help="call, sms, email, letter, visit, …")],
    outcome: Annotated[str, typer.Option("--outcome", help="rpc, no-answer, promise, …")],
    party: Annotated[str, typer.Option("--party", help="borrower, contact-person, …")] = "borrower",
    direction: Annotated[str, typer.Option("--direction", help="outbound or inbound")] = "outbound",
    number: Annotated[str | None, typer.Option("--number", help="Number or address")] = None,
    duration: Annotated[int | None, typer.Option("--duration", help="Seconds")] = None,
    note: Annotated[str | None, typer.Option("--note", help="Collector's note")] = None,
    attitude: Annotated[str | None, typer.Option("--attitude")] = None,
    next_action: Annotated[str | None, typer.Option("--next-action")] = None,
    next_on: Annotated[
        str | None, typer.Option("--next-on", help="Date of the next action")
    ] = None,
    task: Annotated[int | None, typer.Option("--task", help="Task id of the day's list")] = None,
    at: Annotated[str | None, typer.Option("--at", help="When (default: now)")] = None,
    tz: Annotated[str | None, typer.Option("--tz", help="Borrower's time zone")] = None,
    promise_amount: Annotated[str | None, typer.Option("--promise-amount")] = None,
    promise_date: Annotated[str | None, typer.Option("--promise-date")] = None,
    by: By = None,
    output: Fmt = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """Log a contact of a case and apply its outcome (RPC, refusal, promise, hold)."""
    from daihou.collection.casefile import task_of_case
    from daihou.collection.contacts import ContactDenied, log_contact
    from daihou.collection.tasks import mark_task_feedback

    denied: ContactDenied | None = None
    data: dict[str, Any] = {}
    with refused(), unit_of_work(db) as session:
        actor = acting(session, by)
        if task is not None:  # the task must be work on this case, as on the workbench
            task_of_case(session, task_id=task, case_id=case_id)
        try:
            done = log_contact(
                session,
                actor=actor,
                case_id=case_id,
                channel=channel,
                outcome=outcome,
                at=parse_time(at),
                party=party,
                direction=direction,
                address=number,
                duration_seconds=duration,
                note=note,
                attitude=attitude,
                next_action=next_action,
                next_action_on=parse_date(next_on, field="--next-on") if next_on else None,
                task_id=task,
                tz=tz,
                promise_amount=promise_amount,
                promise_date=parse_date(promise_date, field="--promise-date")
                if promise_date
                else None,
            )
            if task is not None:
                mark_task_feedback(session, task, datetime.now(UTC), actor=actor)
            data = {
                "log_id": done.log.id,
                "rpc": done.log.rpc,
                "note_flagged": done.log.note_flagged,
                "promise_id": done.promise.id if done.promise else None,
                "hold_id": done.hold.id if done.hold else None,
            }
        except ContactDenied as exc:  # commit: the gate's denial record stays
            denied = exc
    if denied is not None:
        d = denied.decision
        err_console.print(f"[bold red]DENY[/] {d.rule}: {d.message}", highlight=False)
        if d.next_allowed_at is not None:
            err_console.print(f"next allowed: {d.next_allowed_at.isoformat()}", highlight=False)
        raise typer.Exit(DENIED_EXIT)
    if output is OutputFormat.json:
        print_json(data)
        return
    extras = [f"{k} {v}" for k, v in data.items() if k.endswith("_id") and v and k != "log_id"]
    flag = " (note flagged for review)" if data["note_flagged"] else ""
    console.print(f"contact [bold]{data['log_id']}[/] logged{flag} {', '.join(extras)}".rstrip())


@contact_app.command("history")
def contact_history_cmd(
    case_id: CaseArg, by: By = None, output: Fmt = OutputFormat.table, db: DbOption = None
) -> None:
    """The case's contact log, newest first (numbers masked)."""
    from daihou.collection.contacts import contact_history
    from daihou.compliance.privacy.masking import mask_phone

    with refused(), unit_of_work(db) as session:
        rows = [
            {
                "id": r.id,
                "at_utc": r.at_utc.isoformat(),
                "channel": r.channel,
                "direction": r.direction,
                "party": r.party,
                "outcome": r.outcome,
                "rpc": r.rpc,
                "number": mask_phone(r.phone),
                "attitude": r.attitude,
                "next_action": r.next_action,
                "collector": r.collector,
                "note": r.note,
            }
            for r in contact_history(session, actor=acting(session, by), case_id=case_id)
        ]
    if output is OutputFormat.json:
        print_json(rows)
        return
    table = Table(title=f"contacts of case {case_id}")
    for col in ("id", "at (UTC)", "channel", "party", "outcome", "number", "by", "note"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            *(
                str(v or "")
                for v in (
                    r["id"],
                    r["at_utc"],
                    f"{r['channel']} {r['direction']}",
                    r["party"],
                    r["outcome"],
                    r["number"],
                    r["collector"],
                    r["note"],
                )
            )
        )
    console.print(table)


@contact_app.command("repair")
def contact_repair(
    case_id: CaseArg,
    kind: Annotated[str, typer.Option("--kind", help="phone, address, employer, email, wechat")],
    value: Annotated[str, typer.Option("--value", help="What was found")],
    source: Annotated[str, typer.Option("--source", help="carrier, police, social, …")],
    verified: Annotated[bool, typer.Option("--verified/--unverified")] = False,
    party: Annotated[str, typer.Option("--party")] = "borrower",
    note: Annotated[str | None, typer.Option("--note")] = None,
    by: By = None,
    db: DbOption = None,
) -> None:
    """Record contact information found for a case (stored encrypted)."""
    from daihou.collection.repair import record_repair

    with refused(), unit_of_work(db) as session:
        point = record_repair(
            session,
            actor=acting(session, by),
            case_id=case_id,
            kind=kind,
            value=value,
            source=source,
            verified=verified,
            party=party,
            note=note,
        )
        point_id = point.id
    console.print(f"repair [bold]{point_id}[/] recorded; case {case_id} is reachable")


@contact_app.command("evaluate")
def contact_evaluate(on: OnDate = None, by: By = None, db: DbOption = None) -> None:
    """Mark the cases that lost contact (失联) on the business date."""
    from daihou.collection.repair import evaluate_contact_status

    with refused(), unit_of_work(db) as session:
        day = business_day(session, on)
        run = evaluate_contact_status(session, day, actor=acting(session, by))
    console.print(f"{day}: {len(run.lost)} case(s) lost contact {run.lost or ''}".rstrip())


@promise_app.command("add")
def promise_add(
    case_id: CaseArg,
    amount: Annotated[str, typer.Option("--amount", help="Amount promised")],
    on: Annotated[str, typer.Option("--date", help="Date promised")],
    by: By = None,
    db: DbOption = None,
) -> None:
    """Record a promise to pay taken outside a logged contact."""
    from daihou.collection.promises import record_promise

    with refused(), unit_of_work(db) as session:
        p = record_promise(
            session,
            actor=acting(session, by),
            case_id=case_id,
            amount=amount,
            promised_on=parse_date(on, field="--date"),
        )
        pid, until = p.id, p.until
    console.print(f"promise [bold]{pid}[/] recorded; contact pauses through {until}")


@promise_app.command("list")
def promise_list(
    case_id: Annotated[int | None, typer.Option("--case")] = None,
    status: Annotated[str | None, typer.Option("--status", help="open, kept, broken, …")] = None,
    by: By = None,
    output: Fmt = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """Promises of the cases you may see, newest first."""
    from daihou.collection.promises import list_promises, promise_snapshot

    with refused(), unit_of_work(db) as session:
        actor = acting(session, by)
        rows = [
            promise_snapshot(p)
            for p in list_promises(session, actor=actor, case_id=case_id, status=status)
        ]
    if output is OutputFormat.json:
        print_json(rows)
        return
    table = Table(title="promises to pay")
    for col in ("id", "case", "amount", "date", "until", "status", "paid", "collector"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            *(str(r[k] if r[k] is not None else "") for k in ("id", "case_id", "amount")),
            str(r["promised_on"]),
            str(r["until"]),
            r["status"],
            str(r["paid"] or ""),
            r["collector"],
        )
    console.print(table)


@promise_app.command("cancel")
def promise_cancel(
    promise_id: Annotated[int, typer.Argument(help="Promise id")],
    reason: Annotated[str, typer.Option("--reason")],
    by: By = None,
    db: DbOption = None,
) -> None:
    """Withdraw an open promise recorded in error."""
    from daihou.collection.promises import cancel_promise

    with refused(), unit_of_work(db) as session:
        cancel_promise(session, actor=acting(session, by), promise_id=promise_id, reason=reason)
    console.print(f"promise [bold]{promise_id}[/] cancelled")


@promise_app.command("evaluate")
def promise_evaluate(on: OnDate = None, by: By = None, db: DbOption = None) -> None:
    """Settle open promises as kept or broken on the business date."""
    from daihou.collection.promises import evaluate_promises

    with refused(), unit_of_work(db) as session:
        day = business_day(session, on)
        run = evaluate_promises(session, day, actor=acting(session, by))
    console.print(f"{day}: {len(run.kept)} kept, {len(run.broken)} broken")


@promise_app.command("rates")
def promise_rates(
    since: Annotated[str, typer.Option("--since")],
    until: Annotated[str, typer.Option("--until")],
    by: By = None,
    output: Fmt = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """Kept rate (兑现率) per collector, by count and by amount (supervisors and up)."""
    from daihou.collection.promises import kept_rates

    with refused(), unit_of_work(db) as session:
        rates = kept_rates(
            session,
            actor=acting(session, by),
            since=parse_date(since, field="--since"),
            until=parse_date(until, field="--until"),
        )
    rows = [
        {
            "collector": r.collector,
            "kept": r.kept,
            "broken": r.broken,
            "rate": r.rate,
            "kept_amount": r.kept_amount,
            "promised_amount": r.promised_amount,
            "amount_rate": r.amount_rate,
        }
        for r in rates
    ]
    if output is OutputFormat.json:
        print_json(rows)
        return
    table = Table(title=f"kept rate {since} – {until}")
    for col in ("collector", "kept", "broken", "rate %", "kept amount", "promised", "amount %"):
        table.add_column(col)
    for r in rows:
        table.add_row(*(str(v) for v in r.values()))
    console.print(table)
