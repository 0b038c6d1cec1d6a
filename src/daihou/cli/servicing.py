"""Servicing commands: pay, reverse, prepay, refund, fee."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from daihou.cli.common import DbOption, OutputFormat, console, parse_date, print_json, unit_of_work
from daihou.kernel.money import fmt
from daihou.payments.service import Posting


def _show(posting: Posting, output: OutputFormat) -> None:
    data = {
        "transaction_id": posting.transaction_id,
        "loan_id": posting.loan_id,
        "kind": posting.kind,
        "amount": posting.amount,
        "value_date": posting.value_date,
        "channel": posting.channel,
        "reference": posting.reference,
        "created": posting.created,
        "loan_status": posting.loan_status,
        "allocation": [
            {"period": a.period, "component": a.component, "amount": a.amount}
            for a in posting.allocation
        ],
        "note": posting.note,
    }
    if output is OutputFormat.json:
        print_json(data)
        return
    head = "posted" if posting.created else "already posted (same reference), unchanged"
    console.print(
        f"transaction [bold]{posting.transaction_id}[/] {head}: {posting.kind} "
        f"{fmt(posting.amount)} on {posting.value_date} for loan {posting.loan_id} "
        f"(loan {posting.loan_status})"
    )
    if posting.allocation:
        table = Table(title="allocation")
        for col in ("period", "component", "amount"):
            table.add_column(col, justify="right")
        for a in posting.allocation:
            table.add_row(str(a.period or "—"), a.component, fmt(a.amount))
        console.print(table)
    if posting.note:
        console.print(posting.note)


Fmt = Annotated[OutputFormat, typer.Option("--format", help="table or json")]


def pay(
    loan_id: Annotated[str, typer.Argument(help="Loan id")],
    amount: Annotated[str, typer.Argument(help="Amount, e.g. 5307.27")],
    on: Annotated[str, typer.Option("--on", help="Value date (arrival) YYYY-MM-DD")],
    channel: Annotated[
        str, typer.Option("--channel", help="bank-debit, online, counter, transfer")
    ],
    reference: Annotated[str, typer.Option("--reference", help="Unique channel reference")],
    output: Fmt = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """Post a repayment (还款). The same channel reference twice returns the first posting."""
    from daihou.payments.service import post_payment

    with unit_of_work(db) as session:
        posting = post_payment(
            session=session,
            loan_id=loan_id,
            amount=amount,
            value_date=parse_date(on, field="--on"),
            channel=channel,
            reference=reference,
        )
    _show(posting, output)


def reverse(
    transaction_id: Annotated[int, typer.Argument(help="Transaction id to reverse")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept with the reversal)")],
    output: Fmt = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """Reverse (冲正) a repayment, prepayment, fee or refund; the loan is replayed without it."""
    from daihou.payments.service import reverse_transaction

    with unit_of_work(db) as session:
        posting = reverse_transaction(session=session, transaction_id=transaction_id, reason=reason)
    _show(posting, output)


def prepay_cmd(
    loan_id: Annotated[str, typer.Argument(help="Loan id")],
    amount: Annotated[str, typer.Argument(help="Amount paid (ignored with --quote)")] = "0",
    on: Annotated[str, typer.Option("--on", help="Value date YYYY-MM-DD")] = "",
    full: Annotated[bool, typer.Option("--full", help="Pay the loan off")] = False,
    mode: Annotated[
        str, typer.Option("--mode", help="shorten-term or reduce-installment (partial)")
    ] = "reduce-installment",
    channel: Annotated[str, typer.Option("--channel")] = "counter",
    reference: Annotated[str | None, typer.Option("--reference", help="Channel reference")] = None,
    quote: Annotated[bool, typer.Option("--quote", help="Only show the payoff amount")] = False,
    output: Fmt = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """Prepay (提前还款): partial (shorten term or reduce installment) or full, with the
    product's penalty (违约金) and its calculation shown."""
    from daihou.payments.quote import payoff_quote
    from daihou.payments.service import prepay

    if not on:
        raise typer.BadParameter("--on is required", param_hint="--on")
    when = parse_date(on, field="--on")
    with unit_of_work(db) as session:
        if quote:
            q = payoff_quote(session, loan_id, on=when)
            if output is OutputFormat.json:
                print_json(
                    {
                        "loan_id": q.loan_id,
                        "on": q.on,
                        "total": q.total,
                        "by_component": q.by_component,
                        "explanation": q.explanation,
                    }
                )
            else:
                parts = ", ".join(f"{k} {fmt(v)}" for k, v in q.by_component.items())
                console.print(
                    f"payoff on {q.on}: [bold]{fmt(q.total)}[/] ({parts})\n{q.explanation}"
                )
            return
        posting = prepay(
            session=session,
            loan_id=loan_id,
            amount=amount,
            value_date=when,
            full=full,
            mode=mode,
            channel=channel,
            reference=reference,
        )
    _show(posting, output)


def refund(
    loan_id: Annotated[str, typer.Argument(help="Loan id")],
    amount: Annotated[str | None, typer.Argument(help="Amount (default: all credit)")] = None,
    on: Annotated[
        str | None, typer.Option("--on", help="Value date (default: business date)")
    ] = None,
    channel: Annotated[str, typer.Option("--channel")] = "transfer",
    reference: Annotated[str | None, typer.Option("--reference")] = None,
    output: Fmt = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """Refund customer credit (溢缴款) to the borrower."""
    from daihou.payments.service import refund_credit

    with unit_of_work(db) as session:
        posting = refund_credit(
            session=session,
            loan_id=loan_id,
            amount=amount,
            value_date=parse_date(on, field="--on") if on else None,
            channel=channel,
            reference=reference,
        )
    _show(posting, output)


def fee(
    loan_id: Annotated[str, typer.Argument(help="Loan id")],
    amount: Annotated[str, typer.Argument(help="Fee amount")],
    on: Annotated[str, typer.Option("--on", help="Value date YYYY-MM-DD")],
    reason: Annotated[str, typer.Option("--reason", help="What the fee is for")],
    output: Fmt = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """Charge a fee on the loan (paid first under the default allocation order)."""
    from daihou.payments.service import charge_fee

    with unit_of_work(db) as session:
        posting = charge_fee(
            session=session,
            loan_id=loan_id,
            amount=amount,
            value_date=parse_date(on, field="--on"),
            reason=reason,
        )
    _show(posting, output)


def register(app: typer.Typer) -> None:
    app.command("pay")(pay)
    app.command("reverse")(reverse)
    app.command("prepay")(prepay_cmd)
    app.command("refund")(refund)
    app.command("fee")(fee)
