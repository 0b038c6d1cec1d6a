"""Agency portal (委外机构端): an agency user lists the cases placed with their agency,
reads one (customer data masked) and logs an action on it. A case not placed with the
user's agency — never placed, placed elsewhere or recalled — is refused (403); an
unknown case is 404."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from daihou.collection.agencies import portal
from daihou.web.api.schemas import ERRORS, Money, Out
from daihou.web.deps import CurrentCtx

router = APIRouter(tags=["agency portal"], responses=ERRORS)

NoteKind = Literal["note", "call", "visit", "letter", "repair"]


class MaskedCustomer(BaseModel):
    customer_id: str
    name: str | None
    phone: str | None
    address: str | None
    masked: bool


class PlacedCaseOut(BaseModel):
    case_id: int
    loan_id: str
    placement_id: int
    placed_on: date
    due_back_on: date
    dpd: int
    bucket: str
    overdue_amount: Money
    customer: MaskedCustomer


class NoteIn(BaseModel):
    kind: NoteKind
    note: str = Field(min_length=1, max_length=4000)


class NoteOut(Out):
    id: int
    case_id: int
    kind: str
    note: str
    user_id: str
    business_date: date
    language_passed: bool | None = Field(description="false: flagged for the supervisor")
    created_at: datetime | None = None


def case_out(c: portal.PlacedCase) -> PlacedCaseOut:
    p = c.customer
    return PlacedCaseOut(
        case_id=c.case_id,
        loan_id=c.loan_id,
        placement_id=c.placement_id,
        placed_on=c.placed_on,
        due_back_on=c.due_back_on,
        dpd=c.dpd,
        bucket=c.bucket,
        overdue_amount=c.overdue_amount,
        customer=MaskedCustomer(
            customer_id=p.customer_id,
            name=p.name,
            phone=p.phone,
            address=p.address,
            masked=p.masked,
        ),
    )


@router.get("/portal/cases", response_model=list[PlacedCaseOut])
def my_cases(ctx: CurrentCtx) -> list[PlacedCaseOut]:
    """The cases currently placed with the caller's agency."""
    return [case_out(c) for c in portal.my_cases(ctx.session, actor=ctx.actor)]


@router.get("/portal/cases/{case_id}", response_model=PlacedCaseOut)
def view_case(case_id: int, ctx: CurrentCtx) -> PlacedCaseOut:
    return case_out(portal.view_case(ctx.session, actor=ctx.actor, case_id=case_id))


@router.get("/portal/cases/{case_id}/actions", response_model=list[NoteOut])
def actions(case_id: int, ctx: CurrentCtx) -> list[NoteOut]:
    """What the caller's agency logged on the case, newest first."""
    notes = portal.case_notes(ctx.session, actor=ctx.actor, case_id=case_id)
    return [NoteOut.model_validate(n) for n in notes]


@router.post(
    "/portal/cases/{case_id}/actions",
    response_model=NoteOut,
    status_code=status.HTTP_201_CREATED,
)
def log_action(case_id: int, body: NoteIn, ctx: CurrentCtx) -> NoteOut:
    """Log an action (call, visit, letter, repair, note); the text passes the
    prohibited-language check (a failing note is kept and flagged)."""
    row = portal.log_note(
        ctx.session, actor=ctx.actor, case_id=case_id, kind=body.kind, note=body.note
    )
    return NoteOut.model_validate(row)
