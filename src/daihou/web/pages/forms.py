"""Helpers for page forms: run a form's service call in a savepoint and turn a refusal
into a message shown next to the form (never a 500), and read form text as dates,
times and whole numbers with errors that name the field."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar
from zoneinfo import ZoneInfo

from daihou.collection.contacts import ContactDenied
from daihou.web.deps import Ctx
from daihou.web.errors import _field_of

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FormError:
    form: str  # contact | promise | plan | waiver | visit | reveal
    message: str
    field: str | None


def attempt(ctx: Ctx, form: str, call: Callable[[], T]) -> tuple[T | None, FormError | None, int]:
    """Run one form's service call in a savepoint: (result, None, 303) or, when the
    services refuse, (None, the error, status) with the savepoint rolled back — except
    a gate refusal, whose recorded denial is kept."""
    savepoint = ctx.session.begin_nested()
    try:
        result = call()
    except ContactDenied as exc:
        savepoint.commit()
        d = exc.decision
        text = d.message_zh if ctx.locale == "zh_CN" else d.message_en
        return None, FormError(form, f"{text} ({d.rule})", "at"), 403
    except ValueError as exc:
        savepoint.rollback()
        return None, FormError(form, str(exc), _field_of(exc)), 422
    savepoint.commit()
    return result, None, 303


def when(value: str, tz: str) -> datetime | None:
    """A datetime-local field, read in time zone ``tz``; empty: None."""
    if not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"at: {value!r} is not a date and time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(tz))
    return moment


def day(value: str, field: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{field}: {value!r} is not a date (YYYY-MM-DD)") from None


def integer(value: str, field: str) -> int | None:
    if not value.strip():
        return None
    if not value.strip().isdigit() or len(value.strip()) > 18:
        raise ValueError(f"{field}: {value!r} is not a whole number")
    return int(value.strip())
