"""Shared CLI pieces: the ``--db`` option, output formats, friendly errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from daihou.db.engine import make_engine, transaction
from daihou.kernel.money import fmt

console = Console()
err_console = Console(stderr=True)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL or SQLite path (default: $DAIHOU_DATABASE_URL or sqlite:///daihou.db).",
        show_default=False,
    ),
]


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


class TableJsonCsv(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def engine_for(db: str | None) -> Engine:
    return make_engine(db)


@contextmanager
def unit_of_work(db: str | None) -> Iterator[Session]:
    """A session in one transaction; errors become a red message and exit code 1."""
    engine = engine_for(db)
    try:
        with friendly_errors(), transaction(engine) as session:
            yield session
    finally:
        engine.dispose()


@contextmanager
def friendly_errors() -> Iterator[None]:
    try:
        yield
    except (ValueError, LookupError, RuntimeError) as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True)
        raise typer.Exit(1) from None


def parse_date(value: str, *, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date (YYYY-MM-DD)", param_hint=field
        ) from None


def jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return fmt(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def print_json(value: Any) -> None:
    typer.echo(json.dumps(jsonable(value), ensure_ascii=False, indent=2))
