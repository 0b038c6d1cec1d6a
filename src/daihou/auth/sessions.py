"""Web sessions (browser sign-in) and API tokens (bearer clients).

A session ends when idle for ``idle_minutes``, at ``absolute_hours`` after sign-in, or
on logout; each carries its own CSRF token, which every state-changing request made
with the session cookie must echo. An API token acts as the user who holds it (with
that user's current roles, so a role taken away is taken from the token too) until it
expires or is revoked. Creating and revoking tokens is audited.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Update, bindparam, select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from daihou.auth.actor import Actor
from daihou.auth.models import User, UserRole
from daihou.auth.permissions import authorize
from daihou.auth.service import actor_with_roles, get_user
from daihou.auth.session_models import ApiToken, WebSession
from daihou.compliance.audit.service import record as audit_record

TOKEN_PREFIX = "dht_"


class SessionSettings(BaseModel):
    """Session and token lifetimes (a deployment may shorten them)."""

    idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    absolute_hours: int = Field(default=12, ge=1, le=7 * 24)
    token_days: int = Field(default=90, ge=1, le=3650)
    touch_seconds: int = Field(default=60, ge=0)  # write last_seen at most this often


DEFAULT_SESSION_SETTINGS = SessionSettings()


class TokenError(ValueError):
    """Bad token request (name, lifetime)."""


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Resumed:
    actor: Actor
    csrf_token: str
    expires_at: datetime


def start_session(
    session: Session,
    *,
    actor: Actor,
    now: datetime,
    settings: SessionSettings = DEFAULT_SESSION_SETTINGS,
) -> tuple[str, str]:
    """A new session for a user who just signed in: ``(session id, csrf token)``."""
    raw = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            id_hash=_hash(raw),
            username=actor.user_id,
            csrf_token=csrf,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=settings.absolute_hours),
        )
    )
    session.flush()
    return raw, csrf


# What a request's sign-in check reads, as columns with statements built once (every
# request runs them: the ORM user with its roles cost more Python than the look-ups).
_ACTOR_COLUMNS = (
    User.username,
    User.display_name,
    User.team,
    User.territory,
    User.agency_id,
    User.active,
)
_SESSION = (
    select(
        WebSession.ended_at,
        WebSession.expires_at,
        WebSession.last_seen_at,
        WebSession.csrf_token,
        *_ACTOR_COLUMNS,
    )
    .join(User, User.username == WebSession.username)
    .where(WebSession.id_hash == bindparam("id_hash"))
)
_TOKEN = (
    select(ApiToken.id, ApiToken.revoked_at, ApiToken.expires_at, ApiToken.last_used_at)
    .add_columns(*_ACTOR_COLUMNS)
    .join(User, User.username == ApiToken.username)
    .where(ApiToken.token_hash == bindparam("token_hash"))
    .limit(1)
)
_ROLES = select(UserRole.role).where(UserRole.username == bindparam("username"))


def _active_actor(session: Session, user: Any) -> Actor | None:
    """The ``Actor`` of a row of ``_ACTOR_COLUMNS`` (as ``actor_of`` makes it from the
    user), or ``None`` if the user is deactivated."""
    if not user.active:
        return None
    return actor_with_roles(user, frozenset(session.scalars(_ROLES, {"username": user.username})))


def resume_session(
    session: Session,
    raw: str,
    *,
    now: datetime,
    settings: SessionSettings = DEFAULT_SESSION_SETTINGS,
) -> Resumed | None:
    """The actor of a live session, or ``None`` (unknown, ended, idle or expired, or
    the user was deactivated)."""
    id_hash = _hash(raw)
    row = session.execute(_SESSION, {"id_hash": id_hash}).first()
    if row is None or row.ended_at is not None or now >= row.expires_at:
        return None
    if now - row.last_seen_at >= timedelta(minutes=settings.idle_minutes):
        return None
    actor = _active_actor(session, row)
    if actor is None:
        return None
    if now - row.last_seen_at >= timedelta(seconds=settings.touch_seconds):
        _touch(
            session,
            update(WebSession).where(WebSession.id_hash == id_hash),
            now,
            "last_seen_at",
        )
    return Resumed(actor, row.csrf_token, row.expires_at)


def _touch(session: Session, statement: Update, now: datetime, column: str) -> None:
    """Best effort: record when a session or token was last used. In a read-only
    request on SQLite the write can lose a race with another writer; the use is then
    recorded by a later request rather than failing this one."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    if sqlite:  # wait briefly for the write lock, not the usual 30 s
        session.execute(text("PRAGMA busy_timeout=200"))
    try:
        with session.begin_nested():
            session.execute(statement.values({column: now}))
    except OperationalError:
        pass
    finally:
        if sqlite:
            session.execute(text("PRAGMA busy_timeout=30000"))


def end_session(session: Session, raw: str, *, now: datetime) -> bool:
    """Logout: the session id stops working at once."""
    result = session.execute(
        update(WebSession)
        .where(WebSession.id_hash == _hash(raw), WebSession.ended_at.is_(None))
        .values(ended_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def create_token(
    session: Session,
    *,
    actor: Actor,
    name: str,
    now: datetime,
    days: int | None = None,
    username: str | None = None,
    settings: SessionSettings = DEFAULT_SESSION_SETTINGS,
) -> tuple[str, ApiToken]:
    """A new API token ``(secret, row)``; the secret is shown once and never stored.

    A user makes tokens for themselves; making one for someone else needs
    ``user.manage``.
    """
    owner = username or actor.user_id
    basis = authorize(actor, "user.manage").as_dict() if owner != actor.user_id else None
    problems = []
    name = name.strip()
    if not name or len(name) > 64:
        problems.append("name: 1–64 characters are required")
    life = settings.token_days if days is None else days
    if not 1 <= life <= 3650:
        problems.append("days: must be between 1 and 3650")
    if problems:
        raise TokenError("; ".join(problems))
    user = get_user(session, owner)
    if not user.active:
        raise TokenError(f"username: user {owner!r} is deactivated")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        username=owner,
        name=name,
        prefix=raw[: len(TOKEN_PREFIX) + 6],
        token_hash=_hash(raw),
        created_at=now,
        expires_at=now + timedelta(days=life),
    )
    session.add(row)
    session.flush()
    audit_record(
        session,
        actor=actor,
        action="token.create",
        object_type="api_token",
        object_id=str(row.id),
        after={"username": owner, "name": name, "expires_at": row.expires_at},
        basis=basis or "self-service",
        clock=lambda: now,
    )
    return raw, row


def revoke_token(session: Session, *, actor: Actor, token_id: int, now: datetime) -> ApiToken:
    """Revoke a token: one's own, or anyone's with ``user.manage``."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise LookupError(f"no API token {token_id}")
    basis = authorize(actor, "user.manage").as_dict() if row.username != actor.user_id else None
    if row.revoked_at is None:
        row.revoked_at = now
        row.revoked_by = actor.user_id
        session.flush()
        audit_record(
            session,
            actor=actor,
            action="token.revoke",
            object_type="api_token",
            object_id=str(row.id),
            after={"username": row.username, "name": row.name},
            basis=basis or "self-service",
            clock=lambda: now,
        )
    return row


def list_tokens(session: Session, *, actor: Actor, everyone: bool = False) -> list[ApiToken]:
    """The actor's own tokens; everyone's with ``user.manage``."""
    query = select(ApiToken).order_by(ApiToken.id)
    if everyone:
        authorize(actor, "user.manage")
    else:
        query = query.where(ApiToken.username == actor.user_id)
    return list(session.scalars(query))


def token_actor(session: Session, raw: str, *, now: datetime) -> Actor | None:
    """The actor of a live token, or ``None``."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    row = session.execute(_TOKEN, {"token_hash": _hash(raw)}).first()
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and now >= row.expires_at:
        return None
    actor = _active_actor(session, row)
    if actor is None:
        return None
    if row.last_used_at is None or now - row.last_used_at >= timedelta(minutes=1):
        _touch(session, update(ApiToken).where(ApiToken.id == row.id), now, "last_used_at")
    return actor


__all__ = [
    "DEFAULT_SESSION_SETTINGS",
    "Resumed",
    "SessionSettings",
    "TokenError",
    "create_token",
    "end_session",
    "list_tokens",
    "resume_session",
    "revoke_token",
    "start_session",
    "token_actor",
]
