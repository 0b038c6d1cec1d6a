"""Who am I, users and roles, API tokens, audit-chain verification, the policy pack."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, Field

from daihou.auth import service as users
from daihou.auth import sessions
from daihou.auth.actor import ROLES
from daihou.auth.models import User
from daihou.auth.permissions import ACTIONS, authorize, is_allowed
from daihou.compliance.audit.service import verify
from daihou.policy.loader import load_pack
from daihou.web.api.schemas import ERRORS, Out
from daihou.web.deps import CurrentCtx, settings_of

router = APIRouter(tags=["admin"], responses=ERRORS)

Role = Annotated[str, Field(min_length=1, max_length=32, examples=["operations"])]


class MeOut(BaseModel):
    username: str
    display_name: str
    roles: list[str]
    team: str | None
    agency_id: str | None
    territory: str | None
    allowed_actions: list[str]


class UserOut(Out):
    username: str
    display_name: str
    roles: list[str]
    team: str | None
    territory: str | None
    agency_id: str | None
    active: bool
    locked_until: datetime | None
    last_login_at: datetime | None


class UserIn(BaseModel):
    username: str = Field(min_length=2, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    roles: list[Role] = Field(min_length=1, max_length=len(ROLES))
    display_name: str = Field(default="", max_length=128)
    team: str | None = Field(default=None, max_length=64)
    territory: str | None = Field(default=None, max_length=64)
    agency_id: str | None = Field(default=None, max_length=64)


class RolesIn(BaseModel):
    roles: list[Role] = Field(min_length=1, max_length=len(ROLES))


class PasswordIn(BaseModel):
    password: str = Field(min_length=1, max_length=256)
    current_password: str | None = Field(default=None, max_length=256)


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    days: int | None = Field(default=None, ge=1, le=3650)
    username: str | None = Field(default=None, max_length=64, description="default: yourself")


class TokenOut(Out):
    id: int
    username: str
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewTokenOut(TokenOut):
    token: str = Field(description="the secret: shown once, never again")


class VerifyOut(BaseModel):
    ok: bool
    count: int
    head_hash: str
    broken_record: int | None = None
    broken_kind: str | None = None
    detail: str | None = None


def _user_out(user: User) -> UserOut:
    return UserOut.model_validate(
        {
            "username": user.username,
            "display_name": user.display_name,
            "roles": sorted(user.roles),
            "team": user.team,
            "territory": user.territory,
            "agency_id": user.agency_id,
            "active": user.active,
            "locked_until": user.locked_until,
            "last_login_at": user.last_login_at,
        }
    )


@router.get("/me", response_model=MeOut)
def me(ctx: CurrentCtx) -> MeOut:
    """The caller, their roles and the actions the permission matrix grants them."""
    a = ctx.actor
    return MeOut(
        username=a.user_id,
        display_name=a.display or a.user_id,
        roles=sorted(a.roles),
        team=a.team,
        agency_id=a.agency_id,
        territory=a.territory,
        allowed_actions=sorted(name for name in ACTIONS if is_allowed(a, name)),
    )


@router.get("/users", response_model=list[UserOut])
def list_users(ctx: CurrentCtx) -> list[UserOut]:
    return [_user_out(u) for u in users.list_users(ctx.session, actor=ctx.actor)]


@router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED)
def create_user(body: UserIn, ctx: CurrentCtx) -> UserOut:
    user = users.create_user(
        ctx.session,
        actor=ctx.actor,
        username=body.username,
        password=body.password,
        roles=body.roles,
        now=ctx.now,
        display_name=body.display_name,
        team=body.team or None,
        territory=body.territory or None,
        agency_id=body.agency_id or None,
    )
    return _user_out(user)


@router.put("/users/{username}/roles", response_model=UserOut)
def set_roles(username: str, body: RolesIn, ctx: CurrentCtx) -> UserOut:
    user = users.set_roles(ctx.session, actor=ctx.actor, username=username, roles=body.roles)
    return _user_out(user)


@router.post("/users/{username}/password", status_code=status.HTTP_204_NO_CONTENT)
def set_password(username: str, body: PasswordIn, ctx: CurrentCtx) -> None:
    """Your own password (with ``current_password``) or anyone's with ``user.manage``."""
    users.set_password(
        ctx.session,
        actor=ctx.actor,
        username=username,
        password=body.password,
        current_password=body.current_password,
        now=ctx.now,
    )


@router.get("/tokens", response_model=list[TokenOut])
def list_tokens(
    ctx: CurrentCtx, everyone: Annotated[bool, Query(description="needs user.manage")] = False
) -> list[TokenOut]:
    rows = sessions.list_tokens(ctx.session, actor=ctx.actor, everyone=everyone)
    return [TokenOut.model_validate(r) for r in rows]


@router.post("/tokens", response_model=NewTokenOut, status_code=status.HTTP_201_CREATED)
def create_token(body: TokenIn, ctx: CurrentCtx, request: Request) -> NewTokenOut:
    raw, row = sessions.create_token(
        ctx.session,
        actor=ctx.actor,
        name=body.name,
        now=ctx.now,
        days=body.days,
        username=body.username,
        settings=settings_of(request).sessions,
    )
    return NewTokenOut.model_validate({**TokenOut.model_validate(row).model_dump(), "token": raw})


@router.delete("/tokens/{token_id}", response_model=TokenOut)
def revoke_token(token_id: int, ctx: CurrentCtx) -> TokenOut:
    row = sessions.revoke_token(ctx.session, actor=ctx.actor, token_id=token_id, now=ctx.now)
    return TokenOut.model_validate(row)


@router.get("/audit/verify", response_model=VerifyOut)
def audit_verify(ctx: CurrentCtx) -> VerifyOut:
    """Walk the audit hash chain and report the first broken link, if any."""
    authorize(ctx.actor, "audit.verify")
    result = verify(ctx.session)
    broken = result.broken
    return VerifyOut(
        ok=result.ok,
        count=result.count,
        head_hash=result.head.hash,
        broken_record=broken.record_id if broken else None,
        broken_kind=broken.kind if broken else None,
        detail=broken.detail if broken else None,
    )


@router.get("/policy")
def policy(ctx: CurrentCtx) -> dict[str, Any]:
    """The active policy pack, read-only."""
    authorize(ctx.actor, "policy.view")
    return load_pack().model_dump(mode="json")
