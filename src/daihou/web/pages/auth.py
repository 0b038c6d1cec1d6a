"""Sign in and out, the language switch, the home redirect, the account page."""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from daihou.auth.actor import ROLES
from daihou.auth.service import AuthenticationFailed, login
from daihou.auth.sessions import end_session, list_tokens, start_session
from daihou.db.engine import transaction
from daihou.web.deps import LANG_COOKIE, SESSION_COOKIE, CurrentCtx, locale_of, settings_of
from daihou.web.i18n import translator
from daihou.web.pages.common import page, safe_next, see_other
from daihou.web.rendering import render
from daihou.web.settings import LOCALES

router = APIRouter(include_in_schema=False)
LOGIN_CSRF_COOKIE = "daihou_login_csrf"

# The page each role lands on after signing in; a person with several roles lands on
# the home of their first role in ``ROLES`` order (collectors before supervisors …).
HOMES: dict[str, str] = {
    "collector-junior": "/workbench",
    "collector-senior": "/workbench",
    "supervisor": "/supervisor",
    "manager": "/approvals",
    "operations": "/loans",
    "risk-analyst": "/dashboard",
    "compliance-officer": "/complaints",
    "auditor": "/loans",
    "agency-user": "/portal",
    "admin": "/admin/users",
}


def _login_page(
    request: Request, *, next_path: str, error: str | None = None, username: str | None = None
) -> HTMLResponse:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = render(
        request,
        "auth/login.html",
        actor=None,
        csrf=None,
        locale=locale_of(request),
        status_code=401 if error else 200,
        login_csrf=token,
        next=next_path,
        error=error,
        username=username,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=settings_of(request).secure_cookies,
    )
    return response


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return _login_page(request, next_path=safe_next(next))


@router.post("/login")
def login_submit(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    _ = translator(locale_of(request))
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, csrf_token):
        return _login_page(
            request,
            next_path=safe_next(next),
            error=_("The sign-in form expired; please try again."),
            username=username,
        )
    settings = settings_of(request)
    now = datetime.now(UTC)
    engine = request.app.state.engine
    try:
        actor = login(engine, username, password, now=now)
    except AuthenticationFailed as exc:
        message = _("Wrong username or password.")
        if "locked" in str(exc):
            message = _("The account is locked after repeated failures; try again later.")
        return _login_page(request, next_path=safe_next(next), error=message, username=username)
    with transaction(engine) as session:
        raw, _csrf = start_session(session, actor=actor, now=now, settings=settings.sessions)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        raw,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        max_age=settings.sessions.absolute_hours * 3600,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, ctx: CurrentCtx) -> Response:
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        end_session(ctx.session, raw, now=ctx.now)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/lang/{locale}")
def switch_language(request: Request, locale: str, next: str | None = None) -> Response:
    response = RedirectResponse(safe_next(next), status_code=303)
    if locale in LOCALES:
        response.set_cookie(LANG_COOKIE, locale, samesite="lax", max_age=365 * 24 * 3600)
    return response


@router.get("/")
def home(ctx: CurrentCtx) -> Response:
    for role in ROLES:
        if ctx.actor.has(role) and role in HOMES:
            return see_other(HOMES[role])
    return see_other("/account")


@router.get("/account")
def account(request: Request, ctx: CurrentCtx) -> HTMLResponse:
    tokens = list_tokens(ctx.session, actor=ctx.actor)
    return page(request, ctx, "auth/account.html", tokens=tokens, new_token=None)


@router.post("/account/tokens")
def account_token_create(
    request: Request,
    ctx: CurrentCtx,
    name: Annotated[str, Form(max_length=64)],
    days: Annotated[int, Form(ge=1, le=3650)] = 90,
) -> HTMLResponse:
    from daihou.auth.sessions import create_token

    raw, _row = create_token(
        ctx.session,
        actor=ctx.actor,
        name=name,
        now=ctx.now,
        days=days,
        settings=settings_of(request).sessions,
    )
    tokens = list_tokens(ctx.session, actor=ctx.actor)
    return page(request, ctx, "auth/account.html", tokens=tokens, new_token=raw)


@router.post("/account/tokens/{token_id}/revoke")
def account_token_revoke(token_id: int, ctx: CurrentCtx) -> Response:
    from daihou.auth.sessions import revoke_token

    revoke_token(ctx.session, actor=ctx.actor, token_id=token_id, now=ctx.now)
    return see_other("/account")
