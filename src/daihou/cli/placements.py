"""Placement commands (委外分案): ``daihou placement batch/place/recall/expire/list``."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy import select

from daihou.cli.agency_common import By, DateOpt, Reason, acting, day, work
from daihou.cli.common import DbOption, OutputFormat, console, print_json
from daihou.collection.agencies import registry
from daihou.collection.agencies.models import Placement
from daihou.collection.agencies.placement import place_batch, place_case
from daihou.collection.agencies.recall import expire_placements, recall_case

placement_app = typer.Typer(help="Placements (委外分案): batches, recall, expiry.")
Fmt = Annotated[OutputFormat, typer.Option("--format", help="table or json")]


def register(app: typer.Typer) -> None:
    app.add_typer(placement_app, name="placement")


def _table(columns: list[str], rows: list[list[Any]]) -> None:
    table = Table(*columns)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)


@placement_app.command("batch")
def batch(
    date_: DateOpt = None,
    limit: Annotated[int | None, typer.Option("--limit", help="At most N cases")] = None,
    by: By = None,
    output: Fmt = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """Place the eligible cases in your scope across agencies by performance."""
    with work(db) as session:
        result = place_batch(
            session, actor=acting(session, by), business_date=day(session, date_), limit=limit
        )
        data: dict[str, Any] = {
            "batch": result.id,
            "cases": result.cases,
            "allocation": result.allocation,
        }
    if output is OutputFormat.json:
        print_json(data)
        return
    console.print(f"batch [bold]{data['batch']}[/]: {data['cases']} case(s) placed")
    _table(
        ["agency", "rank", "weight", "capacity", "placed"],
        [
            [a, v["rank"], v["weight"], v["capacity"], v["placed"]]
            for a, v in data["allocation"].items()
        ],
    )


@placement_app.command("place")
def place(
    case_id: int,
    agency: Annotated[str, typer.Option("--agency")],
    reason: Reason,
    by: By = None,
    db: DbOption = None,
) -> None:
    """Place one case with a chosen agency."""
    with work(db) as session:
        p = place_case(
            session,
            actor=acting(session, by),
            case_id=case_id,
            agency_id=agency,
            business_date=day(session, None),
            reason=reason,
        )
        console.print(f"case {case_id} placed with {agency} until {p.due_back_on}")


@placement_app.command("recall")
def recall(case_id: int, reason: Reason, by: By = None, db: DbOption = None) -> None:
    """Recall a case from its agency now (召回)."""
    with work(db) as session:
        recall_case(session, actor=acting(session, by), case_id=case_id, reason=reason)
    console.print(f"case {case_id} recalled")


@placement_app.command("expire")
def expire(date_: DateOpt = None, db: DbOption = None) -> None:
    """Daily job: recall expired placements and those of closed cases."""
    with work(db) as session:
        n = expire_placements(session, day(session, date_))
    console.print(f"{n} placement(s) ended")


@placement_app.command("list")
def list_placements(
    agency: Annotated[str | None, typer.Option("--agency")] = None,
    active: Annotated[bool, typer.Option("--active/--all")] = True,
    by: By = None,
    output: Fmt = OutputFormat.table,
    db: DbOption = None,
) -> None:
    with work(db) as session:
        registry.list_agencies(session, actor=acting(session, by))  # agency.manage
        query = select(Placement).order_by(Placement.id)
        if agency:
            query = query.where(Placement.agency_id == agency)
        if active:
            query = query.where(Placement.status == "active")
        rows = [
            {
                "id": p.id,
                "case_id": p.case_id,
                "loan_id": p.loan_id,
                "agency_id": p.agency_id,
                "status": p.status,
                "placed_on": p.placed_on,
                "due_back_on": p.due_back_on,
                "ended_on": p.ended_on,
                "reason": p.recall_reason,
                "bucket": p.bucket,
                "overdue_amount": p.overdue_amount,
                "rate": p.commission_rate,
            }
            for p in session.execute(query).scalars()
        ]
    if output is OutputFormat.json:
        print_json(rows)
        return
    _table(list(rows[0]) if rows else ["id"], [list(r.values()) for r in rows])
