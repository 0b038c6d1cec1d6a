"""Customers: masked personal data, a logged reveal of one field, holds (停催)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from daihou.compliance.gate.schema import HoldKind
from daihou.loans import access
from daihou.web.api.schemas import ERRORS, Out
from daihou.web.deps import CurrentCtx

router = APIRouter(tags=["customers"], responses=ERRORS)

PersonalField = Literal["name", "id_number", "phone", "address", "employer"]


class CustomerOut(Out):
    customer_id: str
    name: str | None
    id_number: str | None
    phone: str | None
    address: str | None
    employer: str | None
    masked: bool


class RevealIn(BaseModel):
    field: PersonalField
    reason: str = Field(min_length=1, max_length=500)


class RevealOut(BaseModel):
    customer_id: str
    field: str
    value: str


class HoldIn(BaseModel):
    kind: HoldKind
    reason: str = Field(min_length=1, max_length=500)
    loan_id: str | None = Field(default=None, max_length=64)


class ReleaseIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class HoldOut(Out):
    id: int
    customer_id: str
    loan_id: str | None
    kind: str
    reason: str
    placed_by: str
    placed_at: datetime
    released_by: str | None
    released_at: datetime | None


@router.get("/customers/{customer_id}", response_model=CustomerOut)
def get_customer(customer_id: str, ctx: CurrentCtx) -> CustomerOut:
    """Personal data, masked."""
    profile = access.masked_customer(ctx.session, actor=ctx.actor, customer_id=customer_id)
    return CustomerOut.model_validate(profile)


@router.post("/customers/{customer_id}/reveal", response_model=RevealOut)
def reveal(customer_id: str, body: RevealIn, ctx: CurrentCtx) -> RevealOut:
    """One field in full, for roles with the right; logged with the reason."""
    value = access.reveal_field(
        ctx.session, actor=ctx.actor, customer_id=customer_id, field=body.field, reason=body.reason
    )
    return RevealOut(customer_id=customer_id, field=body.field, value=value)


@router.get("/customers/{customer_id}/holds", response_model=list[HoldOut])
def list_holds(customer_id: str, ctx: CurrentCtx) -> list[HoldOut]:
    """Holds in force."""
    holds = access.customer_holds(ctx.session, actor=ctx.actor, customer_id=customer_id)
    return [HoldOut.model_validate(h) for h in holds]


@router.post(
    "/customers/{customer_id}/holds", response_model=HoldOut, status_code=status.HTTP_201_CREATED
)
def place_hold(customer_id: str, body: HoldIn, ctx: CurrentCtx) -> HoldOut:
    """Stop collection on the customer (or one loan)."""
    hold = access.place_customer_hold(
        ctx.session,
        actor=ctx.actor,
        customer_id=customer_id,
        kind=body.kind,
        reason=body.reason,
        loan_id=body.loan_id or None,
    )
    return HoldOut.model_validate(hold)


@router.post("/holds/{hold_id}/release", response_model=HoldOut)
def release_hold(hold_id: int, body: ReleaseIn, ctx: CurrentCtx) -> HoldOut:
    hold = access.release_customer_hold(
        ctx.session, actor=ctx.actor, hold_id=hold_id, reason=body.reason
    )
    return HoldOut.model_validate(hold)
