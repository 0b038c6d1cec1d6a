"""Litigation commands (诉讼): ``daihou legal check/prepare/refer/stage/evidence/cost/show``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select

from daihou.cli.agency_common import By, DateOpt, acting, day, work
from daihou.cli.common import DbOption, console, parse_date, print_json
from daihou.collection.legal.models import LegalFile
from daihou.collection.legal.records import add_cost, set_evidence
from daihou.collection.legal.service import (
    advance,
    eligibility,
    legal_file_view,
    prepare_legal_files,
    refer,
)

legal_app = typer.Typer(help="Litigation (诉讼): referral, stages, evidence list, costs.")


def register(app: typer.Typer) -> None:
    app.add_typer(legal_app, name="legal")


@legal_app.command("check")
def check(case_id: int, date_: DateOpt = None, db: DbOption = None) -> None:
    """Whether a case meets the file-preparation and referral rules (POLICY.md §5)."""
    with work(db) as session:
        verdict = eligibility(session, case_id=case_id, on=day(session, date_))
    print_json(
        {
            "case_id": case_id,
            "prepare_file": verdict.prepare_file,
            "refer": verdict.refer,
            "met": verdict.met,
            "unmet": verdict.unmet,
        }
    )


@legal_app.command("prepare")
def prepare(date_: DateOpt = None, db: DbOption = None) -> None:
    """Daily job: open a legal file with its evidence list for cases at 60+ DPD."""
    with work(db) as session:
        n = prepare_legal_files(session, day(session, date_))
    console.print(f"{n} legal file(s) opened")


@legal_app.command("refer")
def refer_cmd(
    case_id: int,
    note: Annotated[str, typer.Option("--note", help="Why this case goes to court")],
    by: By = None,
    db: DbOption = None,
) -> None:
    """Refer a case to litigation (a supervisor; the rules met are the basis)."""
    with work(db) as session:
        file = refer(session, actor=acting(session, by), case_id=case_id, note=note)
        console.print(f"case {case_id} referred: legal file [bold]{file.id}[/]")


@legal_app.command("stage")
def stage(
    legal_file_id: int,
    to: Annotated[str, typer.Option("--to", help="filed, hearing, judgment, enforcement, closed")],
    note: Annotated[str | None, typer.Option("--note")] = None,
    court: Annotated[str | None, typer.Option("--court")] = None,
    docket: Annotated[str | None, typer.Option("--docket", help="案号")] = None,
    by: By = None,
    db: DbOption = None,
) -> None:
    with work(db) as session:
        advance(
            session,
            actor=acting(session, by),
            legal_file_id=legal_file_id,
            to_stage=to,
            note=note,
            court=court,
            docket_no=docket,
        )
    console.print(f"legal file {legal_file_id}: {to}")


@legal_app.command("evidence")
def evidence(
    legal_file_id: int,
    kind: Annotated[str, typer.Option("--kind")],
    status: Annotated[str, typer.Option("--status", help="missing, requested, attached, verified")],
    file: Annotated[Path | None, typer.Option("--file", help="Document to attach")] = None,
    by: By = None,
    db: DbOption = None,
) -> None:
    document = file.read_bytes() if file is not None else None
    with work(db) as session:
        item = set_evidence(
            session,
            actor=acting(session, by),
            legal_file_id=legal_file_id,
            kind=kind,
            status=status,
            document=document,
            file_name=file.name if file is not None else None,
        )
        console.print(f"{kind}: {item.status} {item.file_hash or ''}")


@legal_app.command("cost")
def cost(
    legal_file_id: int,
    kind: Annotated[str, typer.Option("--kind", help="court-fee, lawyer-fee, other")],
    amount: Annotated[str, typer.Option("--amount")],
    on: Annotated[str, typer.Option("--on", help="Date incurred")],
    note: Annotated[str | None, typer.Option("--note")] = None,
    by: By = None,
    db: DbOption = None,
) -> None:
    with work(db) as session:
        add_cost(
            session,
            actor=acting(session, by),
            legal_file_id=legal_file_id,
            kind=kind,
            amount=amount,
            incurred_on=parse_date(on, field="--on"),
            note=note,
        )
    console.print(f"legal file {legal_file_id}: {kind} {amount}")


@legal_app.command("show")
def show(
    legal_file_id: Annotated[int | None, typer.Argument()] = None,
    case: Annotated[int | None, typer.Option("--case", help="The case's latest file")] = None,
    by: By = None,
    db: DbOption = None,
) -> None:
    """A legal file: stage history, evidence list, costs and totals (JSON)."""
    with work(db) as session:
        if legal_file_id is None:
            if case is None:
                raise typer.BadParameter("give a legal file id or --case")
            legal_file_id = (
                session.execute(
                    select(LegalFile.id)
                    .where(LegalFile.case_id == case)
                    .order_by(LegalFile.id.desc())
                )
                .scalars()
                .first()
            )
            if legal_file_id is None:
                raise LookupError(f"case {case} has no legal file")
        print_json(legal_file_view(session, actor=acting(session, by), legal_file_id=legal_file_id))
