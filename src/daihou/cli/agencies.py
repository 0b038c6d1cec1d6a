"""Agency commands (委外): ``daihou agency add/list/show/suspend/eliminate/admit/statement/
kpis/cases``; ``register`` also adds ``daihou placement …`` (``cli.placements``) and
``daihou legal …`` (``cli.legal``). ``--by USER`` names who acts.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy import func, select

from daihou.cli import legal, placements
from daihou.cli.agency_common import By, Reason, acting, day, work
from daihou.cli.common import DbOption, OutputFormat, console, parse_date, print_json
from daihou.collection.agencies import registry
from daihou.collection.agencies.commission import (
    commission_statement,
    statement_csv,
    write_statement_xlsx,
)
from daihou.collection.agencies.kpis import agency_kpis
from daihou.collection.agencies.models import Placement
from daihou.collection.agencies.portal import my_cases
from daihou.collection.agencies.settings import settings

agency_app = typer.Typer(help="Collection agencies (委外机构): whitelist, contracts, KPIs.")
Fmt = Annotated[OutputFormat, typer.Option("--format", help="table or json")]


class StatementFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    xlsx = "xlsx"


def register(app: typer.Typer) -> None:
    app.add_typer(agency_app, name="agency")
    placements.register(app)
    legal.register(app)


def _table(columns: list[str], rows: list[list[Any]]) -> None:
    table = Table(*columns)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)


@agency_app.command("add")
def add(
    agency_id: Annotated[str, typer.Argument(help="Agency id")],
    name: Annotated[str, typer.Option("--name")],
    licence: Annotated[str, typer.Option("--licence", help="Licence number")],
    licence_expires: Annotated[str, typer.Option("--licence-expires")],
    contract_from: Annotated[str, typer.Option("--contract-from")],
    contract_until: Annotated[str, typer.Option("--contract-until")],
    max_cases: Annotated[int, typer.Option("--max-cases")],
    reason: Reason,
    product: Annotated[
        list[str] | None, typer.Option("--product", help="Repeat; none: any")
    ] = None,
    bucket: Annotated[list[str] | None, typer.Option("--bucket", help="Repeat; none: any")] = None,
    territory: Annotated[list[str] | None, typer.Option("--territory")] = None,
    rate: Annotated[
        list[str] | None, typer.Option("--rate", help="BUCKET=RATE, e.g. M3=22%; repeat")
    ] = None,
    contact: Annotated[
        list[str] | None, typer.Option("--contact", help="NAME[:PHONE[:EMAIL]]; repeat")
    ] = None,
    by: By = None,
    db: DbOption = None,
) -> None:
    """Admit an agency to the whitelist with its contract (准入)."""
    rates: dict[str, str] = {}
    for item in rate or []:
        bucket_name, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"{item!r} is not BUCKET=RATE", param_hint="--rate")
        rates[bucket_name.strip()] = value.strip()
    contacts = []
    for item in contact or []:
        parts = item.split(":")
        contacts.append(dict(zip(("name", "phone", "email"), parts, strict=False)))
    terms = registry.AgencyTerms(
        name=name,
        licence_no=licence,
        licence_expires_on=parse_date(licence_expires, field="--licence-expires"),
        contract_from=parse_date(contract_from, field="--contract-from"),
        contract_until=parse_date(contract_until, field="--contract-until"),
        max_cases=max_cases,
        products=product or [],
        buckets=bucket or [],
        territories=territory or [],
        commission_rates=rates,
        contacts=contacts,
    )
    with work(db) as session:
        registry.add_agency(
            session, actor=acting(session, by), agency_id=agency_id, terms=terms, reason=reason
        )
    console.print(f"agency [bold]{agency_id}[/] whitelisted")


@agency_app.command("list")
def list_(
    status: Annotated[str | None, typer.Option("--status")] = None,
    by: By = None,
    output: Fmt = OutputFormat.table,
    db: DbOption = None,
) -> None:
    with work(db) as session:
        today = day(session, None)
        counts = {
            agency_id: int(n)
            for agency_id, n in session.execute(
                select(Placement.agency_id, func.count())
                .where(Placement.status == "active")
                .group_by(Placement.agency_id)
            )
        }
        rows = [
            {
                **registry.snapshot(a),
                "active_cases": counts.get(a.id, 0),
                "usable": not registry.usable_on(a, today),
            }
            for a in registry.list_agencies(session, actor=acting(session, by), status=status)
        ]
    if output is OutputFormat.json:
        print_json(rows)
        return
    _table(
        ["id", "name", "status", "licence", "expires", "contract", "cases", "max"],
        [
            [
                r["id"],
                r["name"],
                r["status"],
                r["licence_no"],
                r["licence_expires_on"],
                f"{r['contract_from']}…{r['contract_until']}",
                r["active_cases"],
                r["max_cases"],
            ]
            for r in rows
        ],
    )


@agency_app.command("show")
def show(agency_id: str, by: By = None, db: DbOption = None) -> None:
    """An agency's contract, rates (contract overrides and pack defaults) and status."""
    with work(db) as session:
        registry.list_agencies(session, actor=acting(session, by))  # authorises
        agency = registry.get_agency(session, agency_id)
        data = registry.snapshot(agency)
        data["effective_rates"] = {
            b: registry.commission_rate(agency, b) for b in settings().commission_rates
        }
        data["usable_problems"] = registry.usable_on(agency, day(session, None))
    print_json(data)


def _status(agency_id: str, status: str, reason: str, by: str | None, db: str | None) -> None:
    with work(db) as session:
        _, recalled = registry.set_status(
            session, actor=acting(session, by), agency_id=agency_id, status=status, reason=reason
        )
    console.print(f"agency [bold]{agency_id}[/] {status}; {recalled} case(s) recalled")


@agency_app.command("suspend")
def suspend(agency_id: str, reason: Reason, by: By = None, db: DbOption = None) -> None:
    """Suspend an agency: no new cases, and its cases are recalled."""
    _status(agency_id, "suspended", reason, by, db)


@agency_app.command("eliminate")
def eliminate(agency_id: str, reason: Reason, by: By = None, db: DbOption = None) -> None:
    """Eliminate an agency (末位淘汰): its cases are recalled."""
    _status(agency_id, "eliminated", reason, by, db)


@agency_app.command("admit")
def admit(agency_id: str, reason: Reason, by: By = None, db: DbOption = None) -> None:
    """Put an agency back on the whitelist."""
    _status(agency_id, "whitelisted", reason, by, db)


@agency_app.command("statement")
def statement(
    month: Annotated[str, typer.Option("--month", help="YYYY-MM")],
    agency: Annotated[
        str | None, typer.Option("--agency", help="One agency (default: all)")
    ] = None,
    output: Annotated[StatementFormat, typer.Option("--format")] = StatementFormat.table,
    out_file: Annotated[Path | None, typer.Option("--output", help="File for csv/xlsx")] = None,
    by: By = None,
    db: DbOption = None,
) -> None:
    """Monthly commission statement (佣金结算单): recovered × rate at placement."""
    if output is StatementFormat.xlsx and (out_file is None or agency is None):
        raise typer.BadParameter("xlsx needs --agency and --output FILE", param_hint="--format")
    with work(db) as session:
        actor = acting(session, by)
        ids = [agency] if agency else [a.id for a in registry.list_agencies(session, actor=actor)]
        statements = [
            commission_statement(session, actor=actor, agency_id=a, month=month) for a in ids
        ]
    if output is StatementFormat.json:
        print_json([s.as_dict() for s in statements])
    elif output is StatementFormat.csv:
        text = "".join(statement_csv(s) for s in statements)
        if out_file is None:
            typer.echo(text, nl=False)
        else:
            out_file.write_text(text, encoding="utf-8")
    elif output is StatementFormat.xlsx:
        assert out_file is not None
        write_statement_xlsx(statements[0], out_file)
        console.print(f"wrote {out_file}")
    else:
        _table(
            ["agency", "month", "lines", "recovered", "commission"],
            [[s.agency_id, s.month, len(s.lines), s.recovered, s.commission] for s in statements],
        )


@agency_app.command("kpis")
def kpis(
    start: Annotated[str | None, typer.Option("--from", help="Placed on or after")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Placed before")] = None,
    by: By = None,
    output: Fmt = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """Recovery, complaint and compliance rate per agency, ranked, with elimination flags
    (default period: the pack's performance window up to the business date)."""
    with work(db) as session:
        end = day(session, until, field="--until") if until else day(session, None) + timedelta(1)
        begin = (
            parse_date(start, field="--from")
            if start
            else end - timedelta(days=settings().placement.performance_window_days + 1)
        )
        ranked = agency_kpis(session, actor=acting(session, by), start=begin, end=end)
    rows: list[dict[str, Any]] = [
        {
            "rank": k.rank,
            "agency_id": k.agency_id,
            "status": k.status,
            "placements": k.placements,
            "placed_amount": k.placed_amount,
            "recovered": k.recovered,
            "recovery_rate": k.recovery_rate,
            "complaints": k.complaints,
            "complaint_rate": k.complaint_rate,
            "compliance_rate": k.compliance_rate,
            "eliminate": k.eliminate,
            "flags": k.flags,
        }
        for k in ranked
    ]
    if output is OutputFormat.json:
        print_json({"from": begin, "until": end, "agencies": rows})
        return
    _table(
        ["#", "agency", "placed", "recovered", "recovery", "complaints", "compliance", "flag"],
        [
            [
                r["rank"],
                r["agency_id"],
                r["placements"],
                r["recovered"],
                r["recovery_rate"],
                r["complaint_rate"],
                r["compliance_rate"],
                "; ".join(r["flags"]),
            ]
            for r in rows
        ],
    )


@agency_app.command("cases")
def cases(by: By = None, output: Fmt = OutputFormat.table, db: DbOption = None) -> None:
    """An agency user's placed cases (masked personal data)."""
    with work(db) as session:
        rows = my_cases(session, actor=acting(session, by))
    data = [
        {
            "case_id": c.case_id,
            "loan_id": c.loan_id,
            "dpd": c.dpd,
            "bucket": c.bucket,
            "overdue_amount": c.overdue_amount,
            "due_back_on": c.due_back_on,
            "name": c.customer.name,
            "phone": c.customer.phone,
        }
        for c in rows
    ]
    if output is OutputFormat.json:
        print_json(data)
        return
    _table(list(data[0]) if data else ["case_id"], [list(d.values()) for d in data])
