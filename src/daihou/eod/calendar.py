"""Read and set the system business date (业务日期)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from daihou.eod.models import SystemState


class NotInitialised(RuntimeError):
    pass


def business_date(session: Session) -> date:
    """The current business date; nothing in business logic reads the wall clock."""
    value = session.execute(select(SystemState.business_date).where(SystemState.id == 1)).scalar()
    if value is None:
        raise NotInitialised("the database has no business date; run `daihou init` first")
    return value


def initialise_business_date(session: Session, value: date) -> None:
    """Set the business date once, at ``daihou init``; later only end of day moves it."""
    state = session.get(SystemState, 1)
    if state is None:
        session.add(SystemState(id=1, business_date=value))
