"""``daihou waiver`` (减免罚息) and ``daihou writeoff`` (核销) commands, acting ``--by USER``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from daihou.cli.common import (
    DbOption,
    OutputFormat,
    TableJsonCsv,
    console,
    parse_date,
    print_json,
    unit_of_work,
)
from daihou.cli.plans import By, Fmt, Reason, acting, say_request
from daihou.kernel.money import fmt

waiver_app = typer.Typer(help="Penalty waivers (减免罚息): request, approve, reject.")
writeoff_app = typer.Typer(help="Write-off (核销): propose, approve, recoveries report.")


# -- waivers -----------------------------------------------------------------------------
@waiver_app.command("request")
def waiver_request(
    loan_id: str,
    amount: Annotated[str, typer.Option("--amount", help="罚息/复利 to waive")],
    reason: Annotated[str | None, typer.Option("--reason")] = None,
    by: By = None,
    db: DbOption = None,
    output: Fmt = OutputFormat.table,
) -> None:
    """Ask to waive part of the 罚息/复利 (first overdue, DPD ≤ 30, contact made, ≤ 20%)."""
    from daihou.collection.waivers import request_waiver

    with acting(db, by) as (session, actor):
        req = request_waiver(
            session=session, actor=actor, loan_id=loan_id, amount=amount, reason=reason
        )
        say_request(req, output)


@waiver_app.command("approve")
def waiver_approve(
    request_id: int,
    reason: Reason,
    by: By = None,
    db: DbOption = None,
    output: Fmt = OutputFormat.table,
) -> None:
    """Approve and post the waiver."""
    from daihou.collection.waivers import decide_waiver

    with acting(db, by) as (session, actor):
        req = decide_waiver(session=session, actor=actor, request_id=request_id, reason=reason)
        say_request(req, output)


@waiver_app.command("reject")
def waiver_reject(request_id: int, reason: Reason, by: By = None, db: DbOption = None) -> None:
    from daihou.collection.waivers import decide_waiver

    with acting(db, by) as (session, actor):
        req = decide_waiver(
            session=session, actor=actor, request_id=request_id, approve=False, reason=reason
        )
        say_request(req, OutputFormat.table)


# -- write-off ---------------------------------------------------------------------------
@writeoff_app.command("propose")
def writeoff_propose(
    loan_id: str,
    reason: Reason,
    by: By = None,
    db: DbOption = None,
    output: Fmt = OutputFormat.table,
) -> None:
    """Propose writing a loan off (a supervisor; loss class by default)."""
    from daihou.collection.writeoff import propose_writeoff

    with acting(db, by) as (session, actor):
        say_request(
            propose_writeoff(session=session, actor=actor, loan_id=loan_id, reason=reason), output
        )


@writeoff_app.command("approve")
def writeoff_approve(
    request_id: int,
    reason: Reason,
    by: By = None,
    db: DbOption = None,
    output: Fmt = OutputFormat.table,
) -> None:
    """Approve and post a write-off (a manager, not the proposer)."""
    from daihou.collection.writeoff import decide_writeoff

    with acting(db, by) as (session, actor):
        say_request(
            decide_writeoff(session=session, actor=actor, request_id=request_id, reason=reason),
            output,
        )


@writeoff_app.command("reject")
def writeoff_reject(request_id: int, reason: Reason, by: By = None, db: DbOption = None) -> None:
    from daihou.collection.writeoff import decide_writeoff

    with acting(db, by) as (session, actor):
        req = decide_writeoff(
            session=session, actor=actor, request_id=request_id, approve=False, reason=reason
        )
        say_request(req, OutputFormat.table)


@writeoff_app.command("recoveries")
def writeoff_recoveries(
    since: Annotated[str | None, typer.Option("--since", help="From value date")] = None,
    until: Annotated[str | None, typer.Option("--until", help="To value date")] = None,
    db: DbOption = None,
    output: Annotated[TableJsonCsv, typer.Option("--format")] = TableJsonCsv.table,
) -> None:
    """Recoveries after write-off (核销后收回) per written-off loan."""
    from daihou.collection.writeoff import recoveries

    start = parse_date(since, field="--since") if since else None
    end = parse_date(until, field="--until") if until else None
    with unit_of_work(db) as session:
        lines_ = recoveries(session, since=start, until=end)
    rows = [
        {
            "loan_id": x.loan_id,
            "written_off_on": x.written_off_on,
            "written_off": x.written_off,
            "recovered": x.recovered,
            "recovered_total": x.recovered_total,
            "payments": x.payments,
        }
        for x in lines_
    ]
    if output is TableJsonCsv.json:
        print_json(rows)
        return
    if output is TableJsonCsv.csv:
        typer.echo("loan_id,written_off_on,written_off,recovered,recovered_total,payments")
        for r in rows:
            typer.echo(
                f"{r['loan_id']},{r['written_off_on']},{fmt(r['written_off'])},"  # type: ignore[arg-type]
                f"{fmt(r['recovered'])},{fmt(r['recovered_total'])},{r['payments']}"  # type: ignore[arg-type]
            )
        return
    table = Table(title="recoveries after write-off")
    for col in rows[0] if rows else ("loan_id",):
        table.add_column(col, justify="right")
    for x in lines_:
        table.add_row(
            x.loan_id,
            str(x.written_off_on),
            fmt(x.written_off),
            fmt(x.recovered),
            fmt(x.recovered_total),
            str(x.payments),
        )
    console.print(table)
