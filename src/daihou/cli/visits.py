"""Field visit commands (外访): ``visit plan|record|photo|missing|eligible``.

Registered by ``daihou.cli.contacts``; ``--by``, times and the denial exit code work the
same way. Photos are read from the given files and stored under
``$DAIHOU_VISIT_PHOTO_DIR`` (default ``./visit-photos``) with their SHA-256.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from daihou.cli.common import (
    DbOption,
    OutputFormat,
    console,
    err_console,
    parse_date,
    print_json,
    unit_of_work,
)
from daihou.cli.contacts import (
    DENIED_EXIT,
    By,
    CaseArg,
    Fmt,
    OnDate,
    acting,
    business_day,
    parse_time,
    refused,
)

visit_app = typer.Typer(help="Field visits (外访 / 下户催收) with photos.")


def register(app: typer.Typer) -> None:
    app.add_typer(visit_app, name="visit")


@visit_app.command("plan")
def visit_plan(
    case_id: CaseArg,
    kind: Annotated[str, typer.Option("--kind", help="home, workplace or other")],
    place: Annotated[str, typer.Option("--place", help="Address to visit")],
    on: Annotated[str, typer.Option("--on", help="Planned date")],
    visitor: Annotated[
        list[str] | None, typer.Option("--visitor", help="Repeat per visitor")
    ] = None,
    by: By = None,
    db: DbOption = None,
) -> None:
    """Plan a visit."""
    from daihou.collection.visits import plan_visit

    with refused(), unit_of_work(db) as session:
        visit = plan_visit(
            session,
            actor=acting(session, by),
            case_id=case_id,
            kind=kind,
            place=place,
            planned_on=parse_date(on, field="--on"),
            visitors=visitor,
        )
        visit_id = visit.id
    console.print(f"visit [bold]{visit_id}[/] planned for {on}")


@visit_app.command("record")
def visit_record(
    case_id: CaseArg,
    result: Annotated[str, typer.Option("--result", help="met-borrower, not-at-home, moved, …")],
    visit_id: Annotated[int | None, typer.Option("--visit", help="The planned visit")] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="Unplanned: home, …")] = None,
    place: Annotated[str | None, typer.Option("--place", help="Unplanned: the address")] = None,
    visitor: Annotated[list[str] | None, typer.Option("--visitor")] = None,
    photo: Annotated[list[Path] | None, typer.Option("--photo", help="Photo file; repeat")] = None,
    note: Annotated[str | None, typer.Option("--note")] = None,
    at: Annotated[str | None, typer.Option("--at", help="When (default: now)")] = None,
    promise_amount: Annotated[str | None, typer.Option("--promise-amount")] = None,
    promise_date: Annotated[str | None, typer.Option("--promise-date")] = None,
    by: By = None,
    db: DbOption = None,
) -> None:
    """Record a visit that happened, with its result and photos."""
    from daihou.collection.contacts import ContactDenied
    from daihou.collection.visits import record_visit

    files = [(p.name, p.read_bytes()) for p in photo or []]
    denied: ContactDenied | None = None
    with refused(), unit_of_work(db) as session:
        try:
            done = record_visit(
                session,
                actor=acting(session, by),
                case_id=case_id,
                at=parse_time(at),
                result=result,
                visit_id=visit_id,
                kind=kind,
                place=place,
                visitors=visitor,
                note=note,
                photos=files,
                promise_amount=promise_amount,
                promise_date=parse_date(promise_date, field="--promise-date")
                if promise_date
                else None,
            )
            summary = (done.visit.id, [p.sha256 for p in done.photos])
        except ContactDenied as exc:
            denied = exc
    if denied is not None:
        err_console.print(f"[bold red]DENY[/] {denied.decision.message}", highlight=False)
        raise typer.Exit(DENIED_EXIT)
    console.print(f"visit [bold]{summary[0]}[/] recorded: {result}")
    for sha in summary[1]:
        console.print(f"  photo sha256 {sha}", highlight=False)


@visit_app.command("photo")
def visit_photo(
    photo_id: Annotated[int, typer.Argument(help="Photo id")],
    out: Annotated[Path, typer.Option("--out", help="Write the verified photo here")],
    db: DbOption = None,
) -> None:
    """Check a stored photo against its SHA-256 and write it out."""
    from daihou.collection.visits import read_photo

    with unit_of_work(db) as session:
        data = read_photo(session, photo_id)
    out.write_bytes(data)
    console.print(f"photo {photo_id} verified ({len(data)} bytes) → {out}")


@visit_app.command("missing")
def visit_missing(on: OnDate = None, output: Fmt = OutputFormat.table, db: DbOption = None) -> None:
    """Open cases whose overdue amount needs a home visit that has not happened."""
    from daihou.collection.visits import cases_missing_home_visit

    with unit_of_work(db) as session:
        day = business_day(session, on)
        rows = [
            {"case_id": c, "loan_id": loan, "overdue": amount}
            for c, loan, amount in cases_missing_home_visit(session, day)
        ]
    if output is OutputFormat.json:
        print_json(rows)
        return
    table = Table(title=f"home visit required, not done ({day})")
    for col in ("case", "loan", "overdue"):
        table.add_column(col)
    for r in rows:
        table.add_row(str(r["case_id"]), str(r["loan_id"]), str(r["overdue"]))
    console.print(table)


@visit_app.command("eligible")
def visit_eligible(case_id: CaseArg, db: DbOption = None) -> None:
    """Whether failed visits make the case eligible for early agency placement."""
    from daihou.collection.visits import early_placement_eligible

    with unit_of_work(db) as session:
        eligible = early_placement_eligible(session, case_id)
    console.print(
        f"case {case_id}: {'eligible' if eligible else 'not eligible'} for early placement"
    )
