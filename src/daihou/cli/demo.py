"""``daihou demo``: build a sample book, import it, post months of repayments, show it."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from sqlalchemy.orm import Session

from daihou.cli.common import console, friendly_errors, parse_date
from daihou.kernel.money import ZERO, fmt


def demo(
    ctx: typer.Context,
    loans: Annotated[int, typer.Option("--loans", min=1, help="Number of loans")] = 300,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same result)")] = 42,
    db: Annotated[Path, typer.Option("--db", help="SQLite file to (re)create")] = Path("demo.db"),
    business_date: Annotated[
        str, typer.Option("--business-date", help="Business date the book is run up to")
    ] = "2026-06-30",
    show: Annotated[int, typer.Option("--show", help="Loans to print")] = 12,
) -> None:
    """Create a fresh SQLite book, import synthetic loans, post repayments (on time,
    late, partial, stopped, prepaid, reversed, refunded) and print the loan states."""
    if ctx.invoked_subcommand is not None:
        return
    from daihou.db.engine import make_engine, transaction
    from daihou.demo.run import run_demo
    from daihou.loans.service import loan_view

    when = parse_date(business_date, field="--business-date")
    with (
        friendly_errors(),
        Progress(
            TextColumn("{task.description:<12}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as bar,
    ):
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        result = run_demo(db_path=db, loans=loans, seed=seed, business_date=when, progress=progress)

    engine = make_engine(result.db_url)
    table = Table(title=f"loan states on {result.business_date}")
    for col in (
        "loan",
        "product",
        "method",
        "status",
        "principal",
        "outstanding",
        "overdue",
        "credit",
        "paid / due installments",
    ):
        table.add_column(col, justify="right")
    with transaction(engine) as s:
        picked = _interesting(s, show, when)
        for loan_id in picked:
            v = loan_view(s, loan_id)
            due = [i for i in v.installments if i.due_date <= when]
            table.add_row(
                v.loan_id,
                v.product,
                v.method,
                v.status + (f" {v.closed_on}" if v.closed_on else ""),
                fmt(v.principal),
                fmt(v.outstanding_principal),
                fmt(sum(v.overdue.values(), ZERO)),
                fmt(v.credit_balance),
                f"{sum(i.status == 'paid' for i in due)}/{len(due)}",
            )
    engine.dispose()
    console.print(table)
    behaviours = ", ".join(f"{k} {v}" for k, v in sorted(result.behaviours.items()))
    console.print(
        f"{result.loans} loans ({behaviours}); "
        f"{result.postings} repayments, {result.prepayments} full prepayments, "
        f"{result.reversals} reversals, {result.refunds} refunds"
    )
    console.print(
        f"statuses: {dict(result.statuses)}; outstanding principal {fmt(result.outstanding)}; "
        f"overdue {fmt(result.overdue)} on {result.overdue_loans} loans; "
        f"ledger {'[green]balanced[/]' if result.balanced else '[red]NOT balanced[/]'}"
    )
    example = picked[0] if picked else "L000000001"
    console.print(
        f"database: {db}  — try: daihou loan show {example} --db {db}; "
        f"daihou ledger trial-balance --db {db}"
    )


def _interesting(session: Session, limit: int, today: date) -> list[str]:
    """A few loans of each kind: overdue, settled, current."""
    from sqlalchemy import select

    from daihou.loans.models import Installment, Loan

    overdue = session.scalars(
        select(Installment.loan_id)
        .where(Installment.status == "due", Installment.due_date < today)
        .distinct()
        .order_by(Installment.loan_id)
        .limit(limit // 3)
    ).all()
    closed = session.scalars(
        select(Loan.id).where(Loan.status == "closed").order_by(Loan.id).limit(limit // 4)
    ).all()
    rest = session.scalars(select(Loan.id).order_by(Loan.id).limit(limit)).all()
    picked: list[str] = []
    for loan_id in [*overdue, *closed, *rest]:
        if loan_id not in picked:
            picked.append(loan_id)
    return sorted(picked[:limit])


def register(app: typer.Typer) -> None:
    from daihou.cli.generate import generate

    demo_app = typer.Typer(invoke_without_command=True)
    demo_app.callback()(demo)
    demo_app.command("generate")(generate)
    app.add_typer(demo_app, name="demo")
