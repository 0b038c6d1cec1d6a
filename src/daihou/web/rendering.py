"""Server-rendered pages: the Jinja2 environment, the navigation, ``render``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from daihou.auth.actor import Actor
from daihou.auth.permissions import is_allowed
from daihou.kernel.money import fmt
from daihou.web.i18n import translator

TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True, slots=True)
class NavItem:
    """A link in the top bar, shown to actors allowed ``action``."""

    label: str  # English message id, translated when shown
    path: str
    action: str
    order: int = 50
    roles: frozenset[str] = frozenset()  # if given: only for actors with one of them


def money(value: Decimal | str | None) -> str:
    """Thousands separators and two decimals (amounts as text, never floats)."""
    if value is None:
        return ""
    text = fmt(Decimal(value))
    sign = "-" if text.startswith("-") else ""
    whole, _, frac = text.lstrip("-").partition(".")
    return f"{sign}{int(whole):,}.{frac or '00'}"


def percent(value: Decimal | str | None) -> str:
    """A rate kept as a fraction (0.0435) shown as a percentage (4.35%)."""
    if value is None:
        return ""
    return f"{(Decimal(value) * 100).normalize():f}%"


def when(value: datetime | date | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    templates.env.filters["money"] = money
    templates.env.filters["when"] = when
    templates.env.filters["percent"] = percent
    templates.env.autoescape = True
    return templates


def visible_nav(app_nav: list[NavItem], actor: Actor | None) -> list[NavItem]:
    if actor is None:
        return []
    return [
        item
        for item in app_nav
        if is_allowed(actor, item.action) and (not item.roles or item.roles & actor.roles)
    ]


def render(
    request: Request,
    template: str,
    *,
    actor: Actor | None,
    csrf: str | None,
    locale: str,
    status_code: int = 200,
    **data: Any,
) -> HTMLResponse:
    app = request.app
    _ = translator(locale)
    context = {
        "_": _,
        "actor": actor,
        "csrf": csrf,
        "locale": locale,
        "lang": "zh-CN" if locale == "zh_CN" else "en",
        "nav": visible_nav(app.state.nav, actor),
        "path": request.url.path,
        **data,
    }
    response: HTMLResponse = app.state.templates.TemplateResponse(
        request, template, context, status_code=status_code
    )
    return response
