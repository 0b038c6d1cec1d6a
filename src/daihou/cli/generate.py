"""``daihou demo generate``: a large generated book, bulk-written, for benchmarks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from daihou.cli.common import console, friendly_errors, parse_date


def generate(
    loans: Annotated[int, typer.Option("--loans", min=1, help="Number of loans")] = 100_000,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Database URL or SQLite path (default: DAIHOU_DATABASE_URL)"),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same book)")] = 42,
    business_date: Annotated[
        str, typer.Option("--business-date", help="Business date of a new database")
    ] = "2026-03-31",
) -> None:
    """Write a generated book (about 90% current, the rest M1–M7) straight into an empty
    database with bulk inserts: the state importing the loans and posting their past
    repayments would leave. Creates the schema if needed. 1 M loans take minutes; on
    SQLite, scratch files next to the database (about 4 GB at 1 M) until the end."""
    from daihou.compliance.privacy.crypto import KeyNotConfigured, current_keyring
    from daihou.db.engine import make_engine, transaction
    from daihou.db.schema import init_database
    from daihou.demo.generate import generate_book
    from daihou.demo.run import demo_key
    from daihou.loans.lpr import seed_lpr_from_pack

    when = parse_date(business_date, field="--business-date")
    with friendly_errors():
        engine = make_engine(db)
        if engine.dialect.name == "sqlite":
            demo_key(Path(engine.url.database or "daihou.db"))
        else:
            try:
                current_keyring()
            except KeyNotConfigured as exc:
                raise typer.BadParameter(str(exc), param_hint="DAIHOU_DATA_KEY") from None
        init_database(engine=engine, business_date=when)
        with transaction(engine) as s:
            seed_lpr_from_pack(s)
        result = generate_book(
            engine, loans=loans, seed=seed, progress=lambda m: console.print(f"  {m}")
        )
        engine.dispose()
    seconds = result.seconds or {}
    console.print(
        f"generated {result.loans:,} loans of {result.customers:,} customers: "
        f"{result.installments:,} installments, {result.repayments:,} opening repayments, "
        f"{result.delinquent:,} delinquent, in {seconds.get('total', 0):.1f} s"
    )
    console.print("next: daihou eod  (the first end of day is a full run)")
