"""End-of-day and report commands."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from daihou.cli.common import (
    DbOption,
    OutputFormat,
    console,
    engine_for,
    friendly_errors,
    parse_date,
    print_json,
    unit_of_work,
)
from daihou.cli.plans import By, Reason, acting, say_request

eod_app = typer.Typer(help="End of day (日终).", invoke_without_command=True)


@eod_app.callback()
def eod(
    ctx: typer.Context,
    through: Annotated[
        str | None, typer.Option("--through", help="Close every open date up to this one")
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Recompute every loan, not only touched ones")
    ] = False,
    db: DbOption = None,
) -> None:
    """Close the current business date (or catch up through --through): due installments,
    days past due, 罚息/复利, buckets, 五级分类, events, snapshots, KPIs."""
    if ctx.invoked_subcommand is not None:
        return
    from daihou.eod.runner import run_eod

    engine = engine_for(db)
    with friendly_errors(), console.status("end of day") as status:

        def progress(d: date, step: str) -> None:
            status.update(f"end of day {d}: {step}")

        report = run_eod(
            engine,
            through=parse_date(through, field="--through") if through else None,
            full=full,
            progress=progress,
        )
    engine.dispose()
    if not report.dates:
        console.print("nothing to do: those dates are closed already")
        return
    console.print(
        f"closed {report.dates[0]} … {report.dates[-1]} ({len(report.dates)} dates, "
        f"{report.steps_run} steps run, {report.steps_skipped} already done) in "
        f"{report.seconds:.2f} s"
    )


@eod_app.command("history")
def eod_history(limit: int = 30, db: DbOption = None) -> None:
    """Recent end-of-day runs per date and step."""
    from daihou.eod.runner import run_history

    with unit_of_work(db) as session:
        runs = run_history(session, limit=limit)
    table = Table(title="end-of-day runs")
    for col in ("date", "step", "mode", "loans", "rows", "ms", "finished"):
        table.add_column(col)
    for r in runs:
        table.add_row(
            str(r.business_date),
            r.step,
            r.mode,
            str(r.loans),
            str(r.rows),
            str(r.duration_ms),
            str(r.finished_at),
        )
    console.print(table)


report_app = typer.Typer(help="Reports.", no_args_is_help=True)


@report_app.command("daily")
def report_daily(
    on: Annotated[str, typer.Option("--date", help="A closed business date")],
    output: Annotated[str, typer.Option("--format", help="table, json or xlsx")] = "table",
    out: Annotated[Path | None, typer.Option("--output", help="File for xlsx")] = None,
    db: DbOption = None,
) -> None:
    """The day's portfolio KPIs: balance, overdue and NPL, buckets, classes, roll rates."""
    from daihou.analytics.report import daily_report, write_xlsx

    with unit_of_work(db) as session:
        data = daily_report(session, parse_date(on, field="--date"))
    if output == "json":
        print_json(data)
    elif output == "xlsx":
        target = out or Path(f"daily-{on}.xlsx")
        write_xlsx(data, target)
        console.print(f"wrote {target}")
    elif output == "table":
        _print_report(data)
    else:
        raise typer.BadParameter("table, json or xlsx", param_hint="--format")


def _print_report(data: dict[str, Any]) -> None:
    console.print(
        f"[bold]{data['business_date']}[/]  loans {data['loans']}  balance {data['balance']}  "
        f"overdue {data['overdue_balance']} ({float(data['overdue_rate']):.2%})  "
        f"NPL {data['npl_balance']} ({float(data['npl_ratio']):.2%})"
    )
    for title, key in (("buckets", "by_bucket"), ("classes", "by_class")):
        table = Table(title=title)
        table.add_column(title[:-1])
        table.add_column("count", justify="right")
        table.add_column("balance", justify="right")
        for name, v in data[key].items():
            table.add_row(name, str(v["count"]), v["balance"])
        console.print(table)
    rolls = data.get("roll_rates")
    if rolls:
        console.print(json.dumps(rolls, ensure_ascii=False, indent=1))


def classify(
    loan_id: Annotated[str, typer.Argument(help="Loan id")],
    risk_class: Annotated[
        str, typer.Option("--class", help="special-mention, substandard, doubtful or loss")
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept with the request)")],
    by: By = None,
    db: DbOption = None,
) -> None:
    """Ask to raise a loan's five-tier class (a manager approves it with
    `daihou loan classify-approve`; never below the rules' floor)."""
    from daihou.collection.class_override import request_class_override

    with acting(db, by) as (session, actor):
        req = request_class_override(
            session=session, actor=actor, loan_id=loan_id, risk_class=risk_class, reason=reason
        )
        say_request(req, OutputFormat.table)


def _decide_class(
    request_id: int, reason: str, by: str | None, db: str | None, approve: bool
) -> None:
    from daihou.collection.class_override import decide_class_override

    with acting(db, by) as (session, actor):
        req = decide_class_override(
            session=session, actor=actor, request_id=request_id, approve=approve, reason=reason
        )
        say_request(req, OutputFormat.table)
        if approve:
            console.print(
                f"{req.loan_id}: {req.payload.get('from_class')} → {req.payload.get('risk_class')}"
            )


def classify_approve(request_id: int, reason: Reason, by: By = None, db: DbOption = None) -> None:
    """Approve a class override (a manager, not the requester): the class is raised now."""
    _decide_class(request_id, reason, by, db, approve=True)


def classify_reject(request_id: int, reason: Reason, by: By = None, db: DbOption = None) -> None:
    """Reject a class override."""
    _decide_class(request_id, reason, by, db, approve=False)


def register(app: typer.Typer, loan_app: typer.Typer) -> None:
    app.add_typer(eod_app, name="eod")
    app.add_typer(report_app, name="report")
    loan_app.command("classify")(classify)
    loan_app.command("classify-approve")(classify_approve)
    loan_app.command("classify-reject")(classify_reject)
