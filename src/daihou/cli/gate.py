"""Contact gate commands: ``gate check``, ``hold place|release|list``, ``optout …``."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy import select

from daihou.auth.actor import SYSTEM, Actor
from daihou.cli.common import DbOption, OutputFormat, console, err_console, print_json, unit_of_work

DENIED_EXIT = 3

gate_app = typer.Typer(help="The contact gate (联系闸门): may this contact happen now?")
hold_app = typer.Typer(
    help="Holds (停催): dispute, complaint, legal, hardship, deceased, bankruptcy."
)
optout_app = typer.Typer(help="Opt-outs (退订) of a channel such as sms or email.")

Fmt = Annotated[OutputFormat, typer.Option("--format", help="table or json")]
Customer = Annotated[str, typer.Option("--customer", help="Customer id")]
By = Annotated[
    str | None,
    typer.Option("--by", help="Who acts (user id; default $DAIHOU_USER, else system)"),
]
Reason = Annotated[str, typer.Option("--reason", help="Why (kept with the record)")]


def register(app: typer.Typer) -> None:
    app.add_typer(gate_app, name="gate")
    app.add_typer(hold_app, name="hold")
    app.add_typer(optout_app, name="optout")


def _actor(by: str | None) -> Actor:
    user = by or os.environ.get("DAIHOU_USER")
    return Actor(user_id=user, roles=frozenset({"operations"}), display=user) if user else SYSTEM


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


@gate_app.command("check")
def check(
    customer: Customer,
    channel: Annotated[str, typer.Option("--channel", help="call, sms, email, letter, visit, …")],
    at: Annotated[str, typer.Option("--at", help="Local time of the contact, ISO 8601")],
    tz: Annotated[str, typer.Option("--tz", help="Borrower's time zone, e.g. Asia/Shanghai")],
    party: Annotated[
        str, typer.Option("--party", help="borrower, contact-person, guarantor, third-party")
    ] = "borrower",
    loan: Annotated[str | None, typer.Option("--loan", help="Loan id (the debt)")] = None,
    number: Annotated[
        str | None, typer.Option("--number", help="Number or address contacted")
    ] = None,
    purpose: Annotated[
        str, typer.Option("--purpose", help="e.g. collection, reminder, leave-message")
    ] = "collection",
    organisation: Annotated[
        str, typer.Option("--organisation", help="lender, or the agency's id")
    ] = "lender",
    packs: Annotated[
        str | None,
        typer.Option("--packs", help="Packs, comma-separated (default $DAIHOU_COMPLIANCE_PACKS)"),
    ] = None,
    record: Annotated[
        bool, typer.Option("--record/--no-record", help="Record a denial (default: yes)")
    ] = True,
    output: Fmt = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """Ask the gate; exit 0 when allowed, 3 when denied (with the rule and next time)."""
    from daihou.compliance.gate.packs import load_rules
    from daihou.compliance.gate.schema import ContactRequest
    from daihou.compliance.gate.service import check_contact

    with unit_of_work(db) as session:
        try:
            when = datetime.fromisoformat(at)
        except ValueError:
            raise ValueError(f"--at {at!r} is not an ISO 8601 time") from None
        request = ContactRequest(
            customer_id=customer,
            channel=channel,
            party=party,  # type: ignore[arg-type]  # validated by ContactRequest
            at=when,
            tz=tz,
            loan_id=loan,
            address=number,
            purpose=purpose,
            organisation=organisation,
        )
        rules = load_rules(packs, on=request.local_date)
        decision = check_contact(session, request, rules=rules, record_denial=record)
    data = {
        "allowed": decision.allowed,
        "rule": decision.rule,
        "message_zh": decision.message_zh,
        "message_en": decision.message_en,
        "next_allowed_at": _iso(decision.next_allowed_at),
        "local_time": request.at.isoformat(),
        "packs": list(decision.packs),
    }
    if output is OutputFormat.json:
        print_json(data)
    elif decision.allowed:
        console.print(
            f"[bold green]ALLOW[/] {request.at.isoformat()} ({', '.join(decision.packs)})"
        )
    else:
        console.print(f"[bold red]DENY[/] [bold]{decision.rule}[/]", highlight=False)
        console.print(decision.message_zh, highlight=False)
        console.print(decision.message_en, highlight=False)
        nxt = _iso(decision.next_allowed_at) or "only after a release (no time)"
        console.print(f"next allowed: {nxt}", highlight=False)
    if not decision.allowed:
        raise typer.Exit(DENIED_EXIT)


def _warn_unknown_customer(session: Any, customer_id: str) -> None:
    from daihou.loans.models import Customer as CustomerRow

    if session.scalar(select(CustomerRow.id).where(CustomerRow.id == customer_id)) is None:
        err_console.print(
            f"[yellow]warning:[/] no customer {customer_id!r} in the loan book", highlight=False
        )


def _hold_data(hold: Any) -> dict[str, Any]:
    return {
        "id": hold.id,
        "customer_id": hold.customer_id,
        "loan_id": hold.loan_id,
        "kind": hold.kind,
        "reason": hold.reason,
        "placed_by": hold.placed_by,
        "placed_at": _iso(hold.placed_at),
        "released_by": hold.released_by,
        "released_at": _iso(hold.released_at),
        "release_reason": hold.release_reason,
    }


@hold_app.command("place")
def hold_place(
    customer: Customer,
    kind: Annotated[
        str,
        typer.Option("--kind", help="dispute, complaint, legal, hardship, deceased or bankruptcy"),
    ],
    reason: Reason,
    loan: Annotated[str | None, typer.Option("--loan", help="Only this loan")] = None,
    by: By = None,
    output: Fmt = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """Place a hold (停催): contacts stop as the compliance packs say until released."""
    from daihou.compliance.gate.holds import place_hold

    with unit_of_work(db) as session:
        _warn_unknown_customer(session, customer)
        hold = place_hold(
            session, customer_id=customer, loan_id=loan, kind=kind, reason=reason, actor=_actor(by)
        )
        data = _hold_data(hold)
    if output is OutputFormat.json:
        print_json(data)
    else:
        scope = f"loan {loan}" if loan else "every loan"
        console.print(f"hold [bold]{data['id']}[/] placed: {kind} on customer {customer} ({scope})")


@hold_app.command("release")
def hold_release(
    hold_id: Annotated[int, typer.Argument(help="Hold id")],
    reason: Reason,
    by: By = None,
    output: Fmt = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """Release a hold; the record stays with who released it and why."""
    from daihou.compliance.gate.holds import release_hold

    with unit_of_work(db) as session:
        data = _hold_data(release_hold(session, hold_id=hold_id, reason=reason, actor=_actor(by)))
    if output is OutputFormat.json:
        print_json(data)
    else:
        console.print(f"hold [bold]{hold_id}[/] released by {data['released_by']}")


@hold_app.command("list")
def hold_list(
    customer: Customer,
    all_: Annotated[bool, typer.Option("--all", help="Include released holds")] = False,
    output: Fmt = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """List a customer's holds (active only unless --all)."""
    from daihou.compliance.gate.holds import active_holds, hold_history

    with unit_of_work(db) as session:
        holds = hold_history(session, customer) if all_ else active_holds(session, customer)
        rows = [_hold_data(h) for h in holds]
    if output is OutputFormat.json:
        print_json(rows)
        return
    table = Table(title=f"holds of {customer}")
    for col in ("id", "kind", "loan", "placed", "by", "reason", "released", "by ", "why"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["kind"],
            r["loan_id"] or "all",
            r["placed_at"],
            r["placed_by"],
            r["reason"],
            r["released_at"] or "—",
            r["released_by"] or "",
            r["release_reason"] or "",
        )
    console.print(table)


def _opt_data(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "customer_id": row.customer_id,
        "medium": row.medium,
        "reason": row.reason,
        "opted_out_by": row.opted_out_by,
        "opted_out_at": _iso(row.opted_out_at),
        "opted_in_by": row.opted_in_by,
        "opted_in_at": _iso(row.opted_in_at),
        "opt_in_reason": row.opt_in_reason,
    }


Channel = Annotated[str, typer.Option("--channel", help="sms, email, call, letter, app …")]


@optout_app.command("add")
def optout_add(
    customer: Customer,
    channel: Channel,
    reason: Reason,
    by: By = None,
    output: Fmt = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """Record that the customer opted out of a channel."""
    from daihou.compliance.gate.holds import opt_out

    with unit_of_work(db) as session:
        _warn_unknown_customer(session, customer)
        data = _opt_data(
            opt_out(session, customer_id=customer, channel=channel, actor=_actor(by), reason=reason)
        )
    if output is OutputFormat.json:
        print_json(data)
    else:
        console.print(f"customer {customer} opted out of {data['medium']} (record {data['id']})")


@optout_app.command("remove")
def optout_remove(
    customer: Customer,
    channel: Channel,
    reason: Reason,
    by: By = None,
    output: Fmt = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """Close the customer's opt-out of a channel (the customer opted in again)."""
    from daihou.compliance.gate.holds import opt_in

    with unit_of_work(db) as session:
        data = _opt_data(
            opt_in(session, customer_id=customer, channel=channel, actor=_actor(by), reason=reason)
        )
    if output is OutputFormat.json:
        print_json(data)
    else:
        console.print(f"customer {customer} opted in to {data['medium']} again")


@optout_app.command("list")
def optout_list(customer: Customer, output: Fmt = OutputFormat.table, db: DbOption = None) -> None:
    """List the customer's open opt-outs."""
    from daihou.compliance.gate.holds import active_opt_outs

    with unit_of_work(db) as session:
        rows = [_opt_data(r) for r in active_opt_outs(session, customer)]
    if output is OutputFormat.json:
        print_json(rows)
        return
    for r in rows:
        console.print(f"{r['medium']}: since {r['opted_out_at']} ({r['reason']})", highlight=False)
    if not rows:
        console.print(f"customer {customer} has no open opt-out")
