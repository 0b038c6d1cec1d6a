"""Pieces shared by the agency and litigation commands: who acts, refusals, dates."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from daihou.auth.actor import SYSTEM, Actor
from daihou.cli.common import err_console, parse_date, unit_of_work
from daihou.eod.calendar import business_date

By = Annotated[
    str | None,
    typer.Option(
        "--by",
        envvar="DAIHOU_USER",
        help="Username acting (default $DAIHOU_USER, else the system batch role)",
        show_default=False,
    ),
]
Reason = Annotated[str, typer.Option("--reason", help="Why (kept with the audit record)")]
DateOpt = Annotated[
    str | None, typer.Option("--date", help="Business date (default: the system's)")
]


def acting(session: Session, username: str | None) -> Actor:
    if username is None:
        return SYSTEM
    from daihou.auth.service import actor_for

    return actor_for(session, username)


@contextmanager
def work(db: str | None) -> Iterator[Session]:
    """``unit_of_work`` that also turns a permission refusal into exit code 1."""
    try:
        with unit_of_work(db) as session:
            yield session
    except PermissionError as exc:
        hint = "" if "--by" in str(exc) else " (pass --by USERNAME to act as a person)"
        err_console.print(f"[bold red]refused:[/] {exc}{hint}", highlight=False)
        raise typer.Exit(1) from None


def day(session: Session, value: str | None, *, field: str = "--date") -> date:
    return parse_date(value, field=field) if value else business_date(session)
