"""Read and set the system business date (业务日期)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from daihou.eod.models import SystemState


class NotInitialised(RuntimeError):
    """The database has no business date yet (`daihou init`)."""


def business_date(session: Session) -> date:
    """The current business date; nothing in business logic reads the wall clock."""
    value = session.execute(select(SystemState.business_date).where(SystemState.id == 1)).scalar()
    if value is None:
        raise NotInitialised("the database has no business date; run `daihou init` first")
    return value


class EodInProgress(RuntimeError):
    """End of day is running: try again when it has finished."""


def ensure_open(session: Session) -> date:
    """The business date, if postings are open. On PostgreSQL the state row is read
    with a share lock, so an end of day cannot start while this unit of work runs and
    this one cannot start while an end of day is under way (SQLite: the write lock)."""
    row = session.execute(
        select(SystemState.business_date, SystemState.eod_running)
        .where(SystemState.id == 1)
        .with_for_update(read=True)
    ).first()
    if row is None:
        raise NotInitialised("the database has no business date; run `daihou init` first")
    if row.eod_running:
        raise EodInProgress(
            f"end of day for {row.business_date} is running; post again when it has finished "
            "(the posting will then be dated on the next business date or backdated)"
        )
    today: date = row.business_date
    return today


def initialise_business_date(session: Session, value: date) -> None:
    """Set the business date once, at ``daihou init``; later only end of day moves it."""
    state = session.get(SystemState, 1)
    if state is None:
        session.add(SystemState(id=1, business_date=value))
