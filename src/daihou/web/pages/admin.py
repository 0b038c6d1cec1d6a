"""Administration: users and roles; the active policy pack, read-only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from daihou.auth import service as users
from daihou.auth.permissions import authorize
from daihou.policy.loader import load_pack
from daihou.web.deps import CurrentCtx
from daihou.web.i18n import translator
from daihou.web.pages.common import page, see_other
from daihou.web.rendering import NavItem

router = APIRouter(include_in_schema=False)

NAV = [
    NavItem("Users", "/admin/users", "user.manage", 80),
    NavItem("Policy", "/admin/policy", "policy.view", 90),
]


@router.get("/admin/users")
def user_list(request: Request, ctx: CurrentCtx) -> HTMLResponse:
    rows = users.list_users(ctx.session, actor=ctx.actor)
    return page(request, ctx, "admin/users.html", users=rows, roles=users.ASSIGNABLE_ROLES)


@router.post("/admin/users")
def user_create(
    ctx: CurrentCtx,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    roles: Annotated[list[str], Form()],
    display_name: Annotated[str, Form(max_length=128)] = "",
    team: Annotated[str, Form(max_length=64)] = "",
    agency_id: Annotated[str, Form(max_length=64)] = "",
    territory: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    users.create_user(
        ctx.session,
        actor=ctx.actor,
        username=username.strip(),
        password=password,
        roles=roles,
        now=ctx.now,
        display_name=display_name.strip(),
        team=team.strip() or None,
        agency_id=agency_id.strip() or None,
        territory=territory.strip() or None,
    )
    _ = translator(ctx.locale)
    return see_other("/admin/users", notice=f"{_('User created')}: {username.strip()}")


@router.post("/admin/users/{username}/roles")
def user_roles(username: str, ctx: CurrentCtx, roles: Annotated[list[str], Form()]) -> Response:
    users.set_roles(ctx.session, actor=ctx.actor, username=username, roles=roles)
    _ = translator(ctx.locale)
    return see_other("/admin/users", notice=f"{_('Roles changed')}: {username}")


@router.get("/admin/policy")
def policy(request: Request, ctx: CurrentCtx) -> HTMLResponse:
    authorize(ctx.actor, "policy.view")
    pack = load_pack()
    return page(request, ctx, "admin/policy.html", pack=pack.model_dump(mode="json"))
