"""``daihou demo`` and ``daihou simulate``: a living synthetic book run day by day
through servicing, end of day and collections; two strategies compared side by side."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from daihou.cli.common import console, friendly_errors, parse_date

LoansOpt = Annotated[int, typer.Option("--loans", min=1, help="Number of loans")]
DaysOpt = Annotated[int, typer.Option("--days", min=1, help="Business days to simulate")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed (same seed, same result)")]
StartOpt = Annotated[str, typer.Option("--start", help="First simulated business date")]
BehaviourOpt = Annotated[
    Path | None, typer.Option("--behaviour", help="Borrower behaviour YAML (default: packaged)")
]


@contextmanager
def _bars() -> Iterator[Progress]:
    with Progress(
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        yield bar


def _progress(bar: Progress, prefix: str = "") -> Callable[[str, int, int], None]:
    tasks: dict[str, TaskID] = {}

    def update(stage: str, done: int, total: int) -> None:
        key = f"{prefix}{stage}"
        if key not in tasks:
            tasks[key] = bar.add_task(key, total=total)
        bar.update(tasks[key], completed=done, total=total)

    return update


def demo(
    ctx: typer.Context,
    loans: LoansOpt = 10_000,
    days: DaysOpt = 120,
    seed: SeedOpt = 42,
    db: Annotated[Path, typer.Option("--db", help="SQLite file to (re)create")] = Path("demo.db"),
    start: StartOpt = "2026-05-01",
    behaviour: BehaviourOpt = None,
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Print the summary and exit (no workbench)")
    ] = False,
    port: Annotated[int, typer.Option("--port", help="Workbench port")] = 8000,
) -> None:
    """Create a fresh SQLite book of synthetic loans and run it day by day: borrowers
    pay, pay late, partly or not at all; end of day, collections, collectors and the
    supervisor work each day. Prints the summary (same seed, same result), then opens
    the web workbench with a demo account for every role."""
    if ctx.invoked_subcommand is not None:  # e.g. ``daihou demo generate``
        return
    from daihou.demo.behaviour import load_behaviour
    from daihou.demo.run import fresh_sqlite, run_simulation

    first = parse_date(start, field="--start")
    with friendly_errors(), _bars() as bar:
        summary = run_simulation(
            fresh_sqlite(db),
            loans=loans,
            days=days,
            seed=seed,
            start=first,
            behaviour=load_behaviour(behaviour),
            progress=_progress(bar),
        )
    table = Table(title=f"daihou demo — {loans} loans, {days} days, seed {seed}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for label, value in summary.rows():
        table.add_row(label, value)
    console.print(table)
    console.print(
        f"database: {db} — try: daihou report daily --db {db}; "
        f"daihou ledger trial-balance --db {db}"
    )
    _print_accounts(loans)
    if not no_serve:
        from daihou.cli.web import serve

        serve(port=port, plain_logs=True, db=f"sqlite:///{db}")


def _print_accounts(loans: int) -> None:
    from daihou.demo.staff import DEMO_PASSWORD, staff_for

    table = Table(title=f"demo accounts (password for all: {DEMO_PASSWORD})")
    table.add_column("user")
    table.add_column("role")
    for user in staff_for(loans):
        table.add_row(user.username, user.role + (f" ({user.tier})" if user.tier else ""))
    console.print(table)


def simulate(
    strategy: Annotated[str, typer.Option("--strategy", help="Policy pack A (name or YAML)")],
    vs: Annotated[str, typer.Option("--vs", help="Policy pack B (name or YAML)")],
    loans: LoansOpt = 2_000,
    days: DaysOpt = 120,
    seed: SeedOpt = 42,
    start: StartOpt = "2026-05-01",
    behaviour: BehaviourOpt = None,
) -> None:
    """Run the same book and the same borrower draws under two policy packs and print
    recoveries, cost, cure and roll rates, promises, contacts, denials and complaints
    side by side."""
    from daihou.demo.behaviour import load_behaviour
    from daihou.demo.run import fresh_sqlite, run_simulation
    from daihou.policy import load_pack

    first = parse_date(start, field="--start")
    with friendly_errors(), tempfile.TemporaryDirectory() as tmp, _bars() as bar:
        model = load_behaviour(behaviour)
        results = []
        for tag, name in (("A", strategy), ("B", vs)):
            pack = load_pack(name)
            results.append(
                run_simulation(
                    fresh_sqlite(Path(tmp) / f"{tag}.db"),
                    loans=loans,
                    days=days,
                    seed=seed,
                    start=first,
                    pack=pack,
                    behaviour=model,
                    progress=_progress(bar, f"{tag} "),
                )
            )
    table = Table(title=f"strategy comparison — {loans} loans, {days} days, seed {seed}")
    table.add_column("figure")
    table.add_column(f"A: {strategy}", justify="right")
    table.add_column(f"B: {vs}", justify="right")
    for (label, a), (_, b) in zip(results[0].rows(), results[1].rows(), strict=True):
        table.add_row(label, a, b)
    console.print(table)


def register(app: typer.Typer) -> None:
    from daihou.cli.generate import generate

    # ``daihou demo`` runs the simulation; ``daihou demo generate`` (self-contained in
    # daihou.cli.generate) bulk-loads a large synthetic book for the benchmarks
    demo_app = typer.Typer(invoke_without_command=True)
    demo_app.callback()(demo)
    demo_app.command("generate")(generate)
    app.add_typer(demo_app, name="demo")
    app.command("simulate")(simulate)


__all__ = ["register"]
