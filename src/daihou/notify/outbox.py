"""The transactional outbox: queue a message in the caller's transaction; list, retry
and cancel messages.

``enqueue`` renders the active template version now (so a bad template or a missing
variable fails the caller's transaction, not a worker hours later) and inserts the row
with ``INSERT … ON CONFLICT (dedupe_key) DO NOTHING``: queuing the same key again,
even from two transactions at once, returns the first message's id.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, NamedTuple, cast

from sqlalchemy import CursorResult, Table, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from daihou.auth.actor import Actor
from daihou.auth.permissions import authorize
from daihou.compliance.audit.service import record
from daihou.compliance.language.models import MessageTemplate
from daihou.notify.models import CHANNELS, STATUSES, MessageEvent, OutboxMessage
from daihou.notify.templates import active_template, render

LETTER_KINDS = ("reminder", "overdue-notice", "collection-letter")


def utc_naive(moment: datetime | None = None) -> datetime:
    """Naive UTC as stored; ``None`` is now; a naive value is taken as UTC."""
    if moment is None:
        return datetime.now(UTC).replace(tzinfo=None)
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


_SCALARS = frozenset({str, int, float, bool})


def _plain(value: Any) -> Any:
    # the common case first: a plain scalar passes as it is (the ``Mapping`` check below
    # is an ABC check, the slowest of them, and most values are strings)
    if value is None or type(value) in _SCALARS:
        return value
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _insert(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    table = cast(Table, OutboxMessage.__table__)
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=["dedupe_key"])
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=["dedupe_key"])
    return insert(table)


def build_row(
    session: Session,
    *,
    customer_id: str,
    loan_id: str | None,
    case_id: str | int | None,
    channel: str,
    purpose: str,
    template: str,
    language: str,
    variables: Mapping[str, Any],
    dedupe_key: str,
    not_before: datetime | None = None,
    now: datetime | None = None,
    templates: dict[tuple[str, str, str], MessageTemplate] | None = None,
) -> dict[str, Any]:
    """The row ``enqueue`` inserts (validated and rendered). Pass the same
    ``templates`` dict to a run of calls to look each active template up once."""
    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {list(CHANNELS)}, not {channel!r}")
    if not customer_id:
        raise ValueError("customer_id is required")
    if not dedupe_key or len(dedupe_key) > 200:
        raise ValueError("dedupe_key is required (at most 200 characters)")
    if not purpose:
        raise ValueError("purpose is required")
    data = _plain(dict(variables))
    template_id: int | None = None
    subject: str | None
    if channel == "letter":
        if template not in LETTER_KINDS:
            raise ValueError(f"a letter's template is a document kind: one of {LETTER_KINDS}")
        if not loan_id:
            raise ValueError("a letter needs a loan_id")
        subject, body = None, f"[letter: {template}]"
    else:
        cache = {} if templates is None else templates
        found = cache.get((channel, language, template))
        if found is None:
            found = active_template(session, channel=channel, language=language, name=template)
            cache[(channel, language, template)] = found
        template_id = found.id
        subject, body = render(found, data)
    stamp = utc_naive(now)
    return {
        "id": uuid.uuid4().hex,
        "dedupe_key": dedupe_key,
        "customer_id": customer_id,
        "loan_id": loan_id,
        "case_id": None if case_id is None else str(case_id),
        "channel": channel,
        "purpose": purpose,
        "template": template,
        "template_id": template_id,
        "language": language,
        "variables": data,
        "subject": subject,
        "body": body,
        "status": "queued",
        "attempts": 0,
        "next_attempt_at": utc_naive(not_before) if not_before else stamp,
        "created_at": stamp,
        "updated_at": stamp,
    }


def enqueue(
    session: Session,
    *,
    customer_id: str,
    loan_id: str | None,
    case_id: str | int | None,
    channel: str,
    purpose: str,
    template: str,
    language: str,
    variables: Mapping[str, Any],
    dedupe_key: str,
    not_before: datetime | None = None,
) -> str:
    """Queue a message in the caller's transaction; returns its id (32 hex digits).

    ``channel``: sms, email or letter. ``template``: the name of an active template
    for the channel and language, or for a letter the document kind (``reminder``,
    ``overdue-notice``, ``collection-letter``). ``purpose`` is what the contact gate is
    told (``reminder``, ``collection``, ...). ``not_before``: not delivered earlier.
    The same ``dedupe_key`` queued again returns the existing message's id.
    """
    row = build_row(
        session,
        customer_id=customer_id,
        loan_id=loan_id,
        case_id=case_id,
        channel=channel,
        purpose=purpose,
        template=template,
        language=language,
        variables=variables,
        dedupe_key=dedupe_key,
        not_before=not_before,
    )
    session.flush()
    result = cast(CursorResult[Any], session.execute(_insert(session).values(**row)))
    if result.rowcount == 1:
        return str(row["id"])
    return str(
        session.execute(
            select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)
        ).scalar_one()
    )


class Enqueued(NamedTuple):
    ids: dict[str, str]  # dedupe key → message id
    new: int  # how many rows were inserted


_KEYS_CHUNK = 500  # dedupe keys per IN list (SQLite binds at most 32,766 values)


def _ids_of(session: Session, keys: Sequence[str]) -> dict[str, str]:
    table = cast(Table, OutboxMessage.__table__)
    found: dict[str, str] = {}
    for start in range(0, len(keys), _KEYS_CHUNK):
        chunk = keys[start : start + _KEYS_CHUNK]
        rows = session.execute(
            select(table.c.dedupe_key, table.c.id).where(table.c.dedupe_key.in_(chunk))
        )
        found.update((key, message_id) for key, message_id in rows)
    return found


def enqueue_rows(session: Session, rows: Sequence[Mapping[str, Any]]) -> Enqueued:
    """Insert prepared rows (``build_row``) in one statement; a key already queued keeps
    its message (the first row of a key repeated in ``rows`` wins). Returns every key's
    message id and how many rows were new.

    The new rows' ids are the ones ``build_row`` drew, when the driver confirms that
    every row went in (SQLite counts the rows of an ``executemany``); otherwise (another
    transaction queued one of the keys meanwhile, or psycopg, which does not count)
    they are read back.
    """
    if not rows:
        return Enqueued({}, 0)
    ids = _ids_of(session, [r["dedupe_key"] for r in rows])
    fresh: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["dedupe_key"] not in ids and r["dedupe_key"] not in fresh:
            fresh[r["dedupe_key"]] = dict(r)
    if not fresh:
        return Enqueued(ids, 0)
    result = cast(CursorResult[Any], session.execute(_insert(session), list(fresh.values())))
    if result.rowcount == len(fresh):
        ids.update((key, row["id"]) for key, row in fresh.items())
        return Enqueued(ids, len(fresh))
    found = _ids_of(session, list(fresh))
    ids.update(found)
    return Enqueued(ids, sum(found.get(key) == row["id"] for key, row in fresh.items()))


def add_event(
    session: Session,
    message_id: str,
    status: str,
    *,
    attempt: int = 0,
    detail: str | None = None,
    at: datetime | None = None,
) -> None:
    session.add(
        MessageEvent(
            message_id=message_id,
            at=utc_naive(at),
            status=status,
            attempt=attempt,
            detail=detail[:2000] if detail else None,
        )
    )


def get_message(session: Session, message_id: str) -> OutboxMessage:
    message = session.get(OutboxMessage, message_id)
    if message is None:
        raise LookupError(f"no message {message_id}")
    return message


def list_messages(
    session: Session,
    *,
    status: str | None = None,
    channel: str | None = None,
    customer_id: str | None = None,
    loan_id: str | None = None,
    limit: int = 100,
) -> Sequence[OutboxMessage]:
    if status is not None and status not in STATUSES:
        raise ValueError(f"status must be one of {list(STATUSES)}, not {status!r}")
    query = select(OutboxMessage)
    if status:
        query = query.where(OutboxMessage.status == status)
    if channel:
        query = query.where(OutboxMessage.channel == channel)
    if customer_id:
        query = query.where(OutboxMessage.customer_id == customer_id)
    if loan_id:
        query = query.where(OutboxMessage.loan_id == loan_id)
    return session.scalars(
        query.order_by(OutboxMessage.created_at, OutboxMessage.id).limit(limit)
    ).all()


def events(session: Session, message_id: str) -> Sequence[MessageEvent]:
    return session.scalars(
        select(MessageEvent).where(MessageEvent.message_id == message_id).order_by(MessageEvent.id)
    ).all()


def _state(m: OutboxMessage) -> dict[str, Any]:
    return {"id": m.id, "status": m.status, "attempts": m.attempts, "channel": m.channel}


def retry(session: Session, message_id: str, *, actor: Actor, reason: str) -> OutboxMessage:
    """Queue a failed, dead or cancelled message again now (attempts start over)."""
    authorize(actor, "message.manage")
    if not reason.strip():
        raise ValueError("reason is required")
    message = get_message(session, message_id)
    if message.status not in ("failed", "dead", "cancelled"):
        raise ValueError(
            f"message {message_id} is {message.status}; only failed, dead or cancelled "
            "messages can be retried"
        )
    before = _state(message)
    now = utc_naive()
    message.status, message.attempts = "queued", 0
    message.next_attempt_at, message.updated_at = now, now
    message.attempt_token = message.lease_until = None
    add_event(session, message.id, "queued", detail=f"retry by {actor.user_id}: {reason}")
    session.flush()
    record(
        session,
        actor=actor,
        action="message.retry",
        object_type="outbox_message",
        object_id=message.id,
        before=before,
        after=_state(message),
        basis={"permission": "message.manage", "reason": reason},
    )
    return message


def cancel(session: Session, message_id: str, *, actor: Actor, reason: str) -> OutboxMessage:
    """Cancel a message that has not been handed to a provider."""
    authorize(actor, "message.manage")
    if not reason.strip():
        raise ValueError("reason is required")
    message = get_message(session, message_id)
    if message.status not in ("queued", "deferred", "failed"):
        raise ValueError(f"message {message_id} is {message.status} and cannot be cancelled")
    before = _state(message)
    message.status, message.updated_at = "cancelled", utc_naive()
    message.next_attempt_at = None
    message.last_error = f"cancelled by {actor.user_id}: {reason}"
    add_event(session, message.id, "cancelled", detail=message.last_error)
    session.flush()
    record(
        session,
        actor=actor,
        action="message.cancel",
        object_type="outbox_message",
        object_id=message.id,
        before=before,
        after=_state(message),
        basis={"permission": "message.manage", "reason": reason},
    )
    return message
