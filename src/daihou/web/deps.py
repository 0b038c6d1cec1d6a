"""Per-request dependencies: one database transaction, who is asking, CSRF.

A request is authenticated by an ``Authorization: Bearer`` API token or by the session
cookie. With the cookie, every state-changing request must carry the session's CSRF
token (form field ``csrf_token`` or header ``X-CSRF-Token``); a bearer token is not
sent by the browser on its own, so it needs none.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from daihou.auth.actor import Actor
from daihou.auth.sessions import resume_session, token_actor
from daihou.db.engine import transaction
from daihou.web.settings import LOCALES, WebSettings

SESSION_COOKIE = "daihou_session"
LANG_COOKIE = "daihou_lang"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class NotAuthenticated(Exception):
    """No valid session or token: 401 for the API, the login page for pages."""


class CsrfFailed(Exception):
    """A cookie-authenticated change without the session's CSRF token."""


@dataclass(frozen=True, slots=True)
class Ctx:
    """What a route works with: the transaction, the actor, and how they signed in."""

    session: Session
    actor: Actor
    via: Literal["session", "token"]
    csrf: str | None
    now: datetime
    locale: str


def settings_of(request: Request) -> WebSettings:
    settings: WebSettings = request.app.state.settings
    return settings


def db_session(request: Request) -> Iterator[Session]:
    """One unit of work per request: committed when the route returns, rolled back
    when it raises (before the response is sent). GET requests read: on SQLite their
    transaction is deferred, so they do not wait for the write lock."""
    state = request.app.state
    engine = state.read_engine if request.method in SAFE_METHODS else state.engine
    with transaction(engine) as session:
        yield session


DbSession = Annotated[Session, Depends(db_session, scope="function")]


def locale_of(request: Request) -> str:
    wanted = request.cookies.get(LANG_COOKIE)
    if wanted in LOCALES:
        return str(wanted)
    return settings_of(request).default_locale


async def submitted_csrf(request: Request) -> str | None:
    header = request.headers.get("x-csrf-token")
    if header:
        return header
    if request.method in SAFE_METHODS:
        return None
    kind = request.headers.get("content-type", "")
    if kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get("csrf_token")
        return value if isinstance(value, str) else None
    return None


def _resolve(request: Request, session: Session, csrf_sent: str | None) -> Ctx:
    now = datetime.now(UTC)
    settings = settings_of(request)
    auth = request.headers.get("authorization", "")
    if auth:
        scheme, _, value = auth.partition(" ")
        actor = token_actor(session, value.strip(), now=now) if scheme.lower() == "bearer" else None
        if actor is None:
            raise NotAuthenticated("the bearer token is unknown, expired or revoked")
        return Ctx(session, actor, "token", None, now, locale_of(request))
    raw = request.cookies.get(SESSION_COOKIE)
    resumed = resume_session(session, raw, now=now, settings=settings.sessions) if raw else None
    if resumed is None:
        raise NotAuthenticated("sign in first (no session, or it expired)")
    if request.method not in SAFE_METHODS and (
        csrf_sent is None or not hmac.compare_digest(csrf_sent, resumed.csrf_token)
    ):
        raise CsrfFailed("the form is stale or forged (CSRF token missing or wrong)")
    return Ctx(session, resumed.actor, "session", resumed.csrf_token, now, locale_of(request))


def current(
    request: Request,
    session: DbSession,
    csrf_sent: Annotated[str | None, Depends(submitted_csrf)],
) -> Ctx:
    ctx = _resolve(request, session, csrf_sent)
    request.state.actor = ctx.actor  # for error pages and the access log
    request.state.csrf = ctx.csrf
    return ctx


CurrentCtx = Annotated[Ctx, Depends(current)]


def signed_in_only(
    request: Request, csrf_sent: Annotated[str | None, Depends(submitted_csrf)]
) -> Ctx:
    """Authenticate in a short transaction of its own and end it, for routes whose
    service opens its own transactions (a file import): on SQLite an open request
    transaction would hold the write lock they need. ``ctx.session`` is closed."""
    with transaction(request.app.state.engine) as session:
        ctx = _resolve(request, session, csrf_sent)
    request.state.actor = ctx.actor
    request.state.csrf = ctx.csrf
    return ctx


SignedIn = Annotated[Ctx, Depends(signed_in_only)]
