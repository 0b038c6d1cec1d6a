"""Loan-book commands: init, schedule, import, loan show, LPR, business date."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from daihou.cli.common import (
    DbOption,
    OutputFormat,
    TableJsonCsv,
    console,
    engine_for,
    friendly_errors,
    parse_date,
    print_json,
    unit_of_work,
)
from daihou.kernel.money import fmt, rounding_mode, to_money
from daihou.kernel.rates import parse_rate
from daihou.kernel.schedule import ScheduleTerms, generate_schedule, schedule_totals

Method = typer.Option(
    "equal-installment",
    "--method",
    help=(
        "equal-installment (等额本息) | equal-principal (等额本金) | "
        "interest-only (先息后本) | bullet (到期一次还本付息)"
    ),
)


def schedule(
    principal: Annotated[str, typer.Option("--principal", help="Loan amount, e.g. 1000000")],
    months: Annotated[int, typer.Option("--months", help="Number of monthly installments")],
    start: Annotated[str, typer.Option("--start", help="Disbursement date YYYY-MM-DD")],
    annual_rate: Annotated[
        str | None, typer.Option("--annual-rate", help="Annual rate: 4.9% or 0.049")
    ] = None,
    monthly_rate: Annotated[
        str | None, typer.Option("--monthly-rate", help="Monthly rate (月利率): 0.5%, 5‰ or 0.005")
    ] = None,
    method: str = Method,
    first_due: Annotated[
        str | None,
        typer.Option("--first-due", help="First due date (default: one month after start)"),
    ] = None,
    repayment_day: Annotated[
        int | None, typer.Option("--repayment-day", help="Fixed day of month (还款日), 1-31")
    ] = None,
    rounding: Annotated[
        str, typer.Option("--rounding", help="half-up, half-even, down, up")
    ] = "half-up",
    output: Annotated[
        TableJsonCsv, typer.Option("--format", help="table, json or csv")
    ] = TableJsonCsv.table,
) -> None:
    """Print a repayment schedule (还款计划) without touching any database."""
    with friendly_errors():
        if (annual_rate is None) == (monthly_rate is None):
            raise ValueError("give exactly one of --annual-rate or --monthly-rate")
        if annual_rate is not None:
            rate = parse_rate(annual_rate, kind="annual", field="--annual-rate")
        else:
            assert monthly_rate is not None
            rate = parse_rate(monthly_rate, kind="monthly", field="--monthly-rate")
        rows = generate_schedule(
            ScheduleTerms(
                principal=to_money(principal, field="--principal"),
                annual_rate=rate,
                months=months,
                method=method,
                start=parse_date(start, field="--start"),
                first_due=parse_date(first_due, field="--first-due") if first_due else None,
                repayment_day=repayment_day,
                rounding=rounding_mode(rounding),
            )
        )
    total_interest, total_payment = schedule_totals(rows)
    items = [
        {
            "period": r.period,
            "due_date": r.due_date.isoformat(),
            "principal": fmt(r.principal),
            "interest": fmt(r.interest),
            "payment": fmt(r.payment),
            "remaining_principal": fmt(r.remaining_principal),
        }
        for r in rows
    ]
    if output is TableJsonCsv.json:
        print_json(
            {
                "installments": items,
                "total_interest": fmt(total_interest),
                "total_payment": fmt(total_payment),
            }
        )
        return
    if output is TableJsonCsv.csv:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(items[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(items)
        typer.echo(buf.getvalue(), nl=False)
        return
    table = Table(title=f"{method} schedule", show_footer=True)
    for col, footer in (
        ("period", ""),
        ("due_date", "total"),
        ("principal", fmt(sum((r.principal for r in rows), Decimal(0)))),
        ("interest", fmt(total_interest)),
        ("payment", fmt(total_payment)),
        ("remaining_principal", ""),
    ):
        table.add_column(col, footer=footer, justify="right")
    for item in items:
        table.add_row(*(str(v) for v in item.values()))
    console.print(table)


def init(
    db: DbOption = None,
    business_date: Annotated[
        str | None,
        typer.Option("--business-date", help="Initial business date (default: today); set once"),
    ] = None,
) -> None:
    """Create or migrate the schema (Alembic), set the business date once and install
    the default message templates that have no active version."""
    from daihou.collection.message_templates import seed_templates
    from daihou.db.schema import init_database
    from daihou.eod.calendar import business_date as current
    from daihou.loans.lpr import seed_lpr_from_pack

    when = parse_date(business_date, field="--business-date") if business_date else date.today()
    engine = engine_for(db)
    with friendly_errors():
        init_database(engine=engine, business_date=when)
    with unit_of_work(db) as session:
        added = seed_lpr_from_pack(session)
        templates = seed_templates(session)
        today = current(session)
    console.print(
        f"schema at head; business date {today}; {added} LPR points loaded; "
        f"{len(templates)} default message templates activated  ({engine.url!r})"
    )
    engine.dispose()


import_app = typer.Typer(help="Import data files.", no_args_is_help=True)


@import_app.command("loans")
def import_loans_cmd(
    file: Annotated[
        Path, typer.Argument(help="CSV or XLSX loan book", exists=True, dir_okay=False)
    ],
    update: Annotated[
        bool, typer.Option("--update", help="Update loans that already exist")
    ] = False,
    db: DbOption = None,
) -> None:
    """Import a loan book. Every row is validated first; any error rejects the whole file."""
    from daihou.loans.book import import_loans

    engine = engine_for(db)
    with friendly_errors(), Progress(console=console, transient=True) as progress:
        task = progress.add_task("importing", total=None)

        def step(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        result = import_loans(engine=engine, path=file, update=update, progress=step)
    engine.dispose()
    console.print(
        f"imported {file.name}: {result.created} created, {result.updated} updated, "
        f"{result.unchanged} unchanged ({result.rows} rows)"
    )


loan_app = typer.Typer(help="Look at loans.", no_args_is_help=True)


@loan_app.command("show")
def loan_show(
    loan_id: Annotated[str, typer.Argument(help="Loan id")],
    output: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """A loan: status, outstanding principal, installments and transactions."""
    from dataclasses import asdict

    from daihou.loans.service import loan_view

    with unit_of_work(db) as session:
        view = loan_view(session, loan_id)
    if output is OutputFormat.json:
        data = asdict(view)
        for inst, src in zip(data["installments"], view.installments, strict=True):
            inst["total_due"], inst["total_paid"] = src.total_due, src.total_paid
        data["rate_changes"] = [
            {"effective_on": d, "old_rate": str(o), "new_rate": str(n), "reason": r}
            for d, o, n, r in view.rate_changes
        ]
        data["annual_rate"], data["current_rate"] = str(view.annual_rate), str(view.current_rate)
        print_json(data)
        return
    console.print(
        f"[bold]{view.loan_id}[/]  {view.product}/{view.method}  customer {view.customer_id}  "
        f"status [bold]{view.status}[/]"
        + (f" (settled {view.closed_on})" if view.closed_on else "")
    )
    console.print(
        f"principal {fmt(view.principal)}  rate {view.current_rate * 100:.4f}%  "
        f"outstanding principal [bold]{fmt(view.outstanding_principal)}[/]  "
        f"credit {fmt(view.credit_balance)}  business date {view.business_date}"
    )
    console.print(
        f"DPD {view.dpd}  bucket {view.bucket}  class {view.risk_class}  "
        f"罚息 accrued {fmt(view.penalty_accrued)}  复利 accrued {fmt(view.compound_accrued)}"
    )
    overdue = {k: v for k, v in view.overdue.items() if v}
    if overdue:
        console.print("overdue: " + ", ".join(f"{k} {fmt(v)}" for k, v in overdue.items()))
    table = Table(title="installments")
    for col in (
        "#",
        "due",
        "status",
        "principal",
        "interest",
        "fee",
        "due total",
        "paid",
        "paid on",
    ):
        table.add_column(col, justify="right")
    for i in view.installments:
        table.add_row(
            str(i.period),
            str(i.due_date),
            i.status,
            f"{fmt(i.paid['principal'])}/{fmt(i.due['principal'])}",
            f"{fmt(i.paid['interest'])}/{fmt(i.due['interest'])}",
            f"{fmt(i.paid['fee'])}/{fmt(i.due['fee'])}",
            f"{fmt(i.paid['penalty'])}/{fmt(i.due['penalty'])}",
            f"{fmt(i.paid['compound'])}/{fmt(i.due['compound'])}",
            fmt(i.total_due),
            fmt(i.total_paid),
            str(i.paid_on or ""),
        )
    console.print(table)
    txns = Table(title="transactions")
    for col in (
        "id",
        "kind",
        "value date",
        "amount",
        "channel",
        "reference",
        "status",
        "allocation",
    ):
        txns.add_column(col)
    for t in view.transactions:
        txns.add_row(
            str(t.id),
            t.kind + (f" of {t.reverses_id}" if t.reverses_id else ""),
            str(t.value_date),
            fmt(t.amount),
            t.channel or "",
            t.reference or "",
            t.status,
            ", ".join(f"{k} {fmt(v)}" for k, v in t.allocation.items()),
        )
    console.print(txns)


lpr_app = typer.Typer(help="Loan Prime Rate (LPR) history.", no_args_is_help=True)


@lpr_app.command("add")
def lpr_add(
    tenor: Annotated[str, typer.Option("--tenor", help="1y or 5y")],
    on: Annotated[str, typer.Option("--on", help="Effective date")],
    rate: Annotated[str, typer.Option("--rate", help="e.g. 3.5%")],
    db: DbOption = None,
) -> None:
    """Record an LPR fixing and reprice the floating-rate loans it affects."""
    from daihou.loans.lpr import add_lpr

    with unit_of_work(db) as session:
        repriced = add_lpr(
            session,
            tenor=tenor,
            effective_on=parse_date(on, field="--on"),
            rate=parse_rate(rate, field="--rate"),
        )
    console.print(f"LPR {tenor} {rate} from {on} recorded; {repriced} loans recomputed")


@lpr_app.command("list")
def lpr_list(db: DbOption = None) -> None:
    """Show the LPR history."""
    from daihou.loans.lpr import lpr_points

    with unit_of_work(db) as session:
        points = lpr_points(session)
    table = Table(title="LPR")
    for col in ("tenor", "effective on", "rate"):
        table.add_column(col)
    for tenor, when, rate in points:
        table.add_row(tenor, str(when), f"{rate * 100:.2f}%")
    console.print(table)


def business_date_cmd(db: DbOption = None) -> None:
    """Print the system business date (it advances only through end of day)."""
    from daihou.eod.calendar import business_date

    with unit_of_work(db) as session:
        typer.echo(business_date(session).isoformat())


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("schedule")(schedule)
    app.command("business-date")(business_date_cmd)
    app.add_typer(import_app, name="import")
    app.add_typer(loan_app, name="loan")
    app.add_typer(lpr_app, name="lpr")
