"""Ledger commands."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from daihou.cli.common import DbOption, OutputFormat, console, parse_date, print_json, unit_of_work
from daihou.kernel.money import fmt

ledger_app = typer.Typer(help="Double-entry ledger.", no_args_is_help=True)


@ledger_app.command("trial-balance")
def trial_balance_cmd(
    as_of: Annotated[str | None, typer.Option("--as-of", help="Booked on or before")] = None,
    output: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """Debits and credits per account; the totals must be equal."""
    from daihou.ledger.service import trial_balance

    with unit_of_work(db) as session:
        tb = trial_balance(session, as_of=parse_date(as_of, field="--as-of") if as_of else None)
    if output is OutputFormat.json:
        print_json(
            {
                "accounts": [
                    {
                        "account": r.account,
                        "debit": r.debit,
                        "credit": r.credit,
                        "balance": r.balance,
                    }
                    for r in tb.rows
                ],
                "total_debit": tb.total_debit,
                "total_credit": tb.total_credit,
                "balanced": tb.balanced,
            }
        )
    else:
        table = Table(title="trial balance", show_footer=True)
        table.add_column("account", footer="total")
        table.add_column("debit", footer=fmt(tb.total_debit), justify="right")
        table.add_column("credit", footer=fmt(tb.total_credit), justify="right")
        table.add_column("balance", justify="right")
        for r in tb.rows:
            table.add_row(r.account, fmt(r.debit), fmt(r.credit), fmt(r.balance))
        console.print(table)
        console.print("[green]balanced[/]" if tb.balanced else "[bold red]NOT BALANCED[/]")
    if not tb.balanced:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(ledger_app, name="ledger")
