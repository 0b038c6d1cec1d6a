"""``daihou payment batch FILE.csv``: post a repayment file (批量代扣/还款文件)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from daihou.auth.actor import SYSTEM, Actor
from daihou.cli.common import (
    DbOption,
    OutputFormat,
    console,
    engine_for,
    err_console,
    friendly_errors,
    print_json,
)

if TYPE_CHECKING:
    from daihou.payments.batch import PaymentRequest

COLUMNS = ("loan_id", "amount", "value_date", "channel", "reference")
ROWS_REJECTED_EXIT = 4  # the file was posted, but some rows were refused (see the report)

payment_app = typer.Typer(help="Repayment files (批量代扣/还款文件).")


def register(app: typer.Typer) -> None:
    app.add_typer(payment_app, name="payment")


def read_requests(path: Path) -> list[PaymentRequest]:
    """The rows of a repayment CSV as ``PaymentRequest`` (row numbers as in the file,
    the header being row 1). A missing column or an unreadable file raises ValueError."""
    from daihou.loans.import_file import NOT_TEXT, csv_text
    from daihou.payments.batch import PaymentRequest

    text = csv_text(path.read_bytes())
    if text is None:
        raise ValueError(f"{path.name}: {NOT_TEXT}")
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise ValueError(f"{path.name}: missing column(s) {', '.join(missing)}")
    reader.fieldnames = header
    return [
        PaymentRequest(
            loan_id=(row.get("loan_id") or "").strip(),
            amount=(row.get("amount") or "").strip(),
            value_date=(row.get("value_date") or "").strip(),
            channel=(row.get("channel") or "").strip(),
            reference=(row.get("reference") or "").strip(),
            row=n,
        )
        for n, row in enumerate(reader, start=2)
    ]


@contextmanager
def refused() -> Iterator[None]:
    """The user may not post payments: a red message and exit code 1."""
    try:
        yield
    except PermissionError as exc:
        err_console.print(f"[bold red]refused:[/] {exc}", highlight=False)
        raise typer.Exit(1) from None


@payment_app.command("batch")
def batch(
    file: Annotated[
        Path, typer.Argument(help="CSV: loan_id, amount, value_date, channel, reference")
    ],
    by: Annotated[
        str | None, typer.Option("--by", help="User posting the file (default: system)")
    ] = None,
    chunk: Annotated[int, typer.Option("--chunk", help="Rows per database transaction")] = 500,
    output: Annotated[OutputFormat, typer.Option("--format", help="table or json")] = (
        OutputFormat.table
    ),
    db: DbOption = None,
) -> None:
    """Post a repayment file. Each row posts fully or is reported with its row and
    column; a reference already posted returns the original (re-running a file is
    safe). Rejected rows are written to FILE.errors.csv beside the file; the exit code
    is then 4."""
    from daihou.auth.service import actor_for
    from daihou.db.engine import transaction
    from daihou.payments.batch import post_payments

    engine = engine_for(db)
    try:
        with refused(), friendly_errors():
            requests = read_requests(file)
            actor: Actor = SYSTEM
            if by:
                with transaction(engine) as session:
                    actor = actor_for(session, by)
            result = post_payments(engine, requests, actor=actor, chunk=chunk)
    finally:
        engine.dispose()
    report = file.with_name(file.name + ".errors.csv")
    if result.errors:
        with report.open("w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh)
            out.writerow(["row", "loan_id", "reference", "field", "error"])
            for r in result.errors:
                out.writerow([r.row, r.loan_id, r.reference, r.field or "", r.error])
    elif report.exists():  # a report of an earlier run of this file is out of date
        report.unlink()
    if output is OutputFormat.json:
        print_json(
            {
                "file": str(file),
                "digest": result.digest,
                "rows": len(result.rows),
                "posted": result.posted,
                "duplicates": result.duplicates,
                "errors": [
                    {"row": r.row, "field": r.field, "error": r.error} for r in result.errors
                ],
                "error_report": str(report) if result.errors else None,
            }
        )
    else:
        console.print(
            f"{file.name}: {len(result.rows)} rows — [bold]{result.posted}[/] posted, "
            f"{result.duplicates} already posted (same reference), "
            f"{len(result.errors)} rejected (sha256 {result.digest[:16]}…)",
            soft_wrap=True,
        )
        if result.errors:
            table = Table(title=f"rejected rows (also in {report.name})")
            for col in ("row", "loan", "field", "error"):
                table.add_column(col)
            for r in result.errors:
                table.add_row(str(r.row), r.loan_id, r.field or "—", r.error or "")
            console.print(table)
    if result.errors:
        raise typer.Exit(ROWS_REJECTED_EXIT)
