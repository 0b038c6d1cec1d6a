"""Helpers shared by the page modules."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from daihou.web.deps import Ctx
from daihou.web.rendering import render


def page(
    request: Request, ctx: Ctx, template: str, status_code: int = 200, **data: Any
) -> HTMLResponse:
    if "notice" not in data:
        data["notice"] = request.query_params.get("notice")
    return render(
        request,
        template,
        actor=ctx.actor,
        csrf=ctx.csrf,
        locale=ctx.locale,
        status_code=status_code,
        **data,
    )


def see_other(path: str, **query: Any) -> RedirectResponse:
    """Post/redirect/get: after a change, show the page again (with a notice)."""
    params = {k: v for k, v in query.items() if v is not None}
    target = f"{path}?{urlencode(params)}" if params else path
    return RedirectResponse(target, status_code=303)


def safe_next(value: str | None, default: str = "/") -> str:
    """Only local paths: never redirect to another site after sign-in."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value
