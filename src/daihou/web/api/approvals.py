"""Approvals (审批): the inbox of pending requests the caller may decide, one request
with its authorisation basis, approve and reject (maker–checker: nobody decides their
own request; the pack's amount limits per role)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field

from daihou.collection.approval_actions import decide_request, get_request, inbox, may_decide
from daihou.collection.approval_models import ApprovalRequest
from daihou.collection.class_override import request_class_override
from daihou.web.api.case_schemas import ApprovalOut
from daihou.web.api.schemas import ERRORS, Page
from daihou.web.deps import CurrentCtx

router = APIRouter(tags=["approvals"], responses=ERRORS)

Kind = Literal["plan", "waiver", "writeoff", "placement", "legal", "classification"]


class ApprovalDetail(ApprovalOut):
    payload: dict[str, Any]
    requested_basis: dict[str, Any] = Field(description="role, rule and scope of the request")
    decided_by: str | None
    decided_on: date | None
    decided_at: datetime | None
    decided_basis: dict[str, Any] | None = Field(
        description="role, rule, scope and amount limit of the decision"
    )
    decision_reason: str | None
    transaction_id: int | None
    can_decide: bool = Field(description="whether the caller may approve it now")
    cannot_decide_because: str | None = Field(
        description="why not: maker–checker, amount limit, scope or status"
    )


class DecisionIn(BaseModel):
    comment: str = Field(min_length=1, max_length=2000, description="the reason for the decision")


def detail(ctx: CurrentCtx, req: ApprovalRequest) -> ApprovalDetail:
    verdict = may_decide(ctx.session, actor=ctx.actor, req=req)
    fields = {k: getattr(req, k) for k in ApprovalDetail.model_fields if hasattr(req, k)}
    return ApprovalDetail.model_validate(
        {
            **fields,
            "payload": dict(req.payload or {}),
            "can_decide": verdict.allowed,
            "cannot_decide_because": verdict.reason,
        }
    )


@router.get("/approvals", response_model=Page[ApprovalOut])
def list_inbox(
    ctx: CurrentCtx,
    kind: Kind | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[ApprovalOut]:
    """Pending requests the caller may decide (not their own, a kind they may approve,
    a case in their scope, an amount within their limit), oldest first."""
    rows = inbox(ctx.session, actor=ctx.actor, kind=kind)
    window = rows[(page - 1) * per_page : page * per_page]
    return Page[ApprovalOut](
        items=[ApprovalOut.model_validate(r) for r in window],
        page=page,
        per_page=per_page,
        has_more=len(rows) > page * per_page,
    )


@router.get("/approvals/{request_id}", response_model=ApprovalDetail)
def get_approval(request_id: int, ctx: CurrentCtx) -> ApprovalDetail:
    """One request with its payload and authorisation basis (its requester, or someone
    who may decide its kind on its case)."""
    return detail(ctx, get_request(ctx.session, actor=ctx.actor, request_id=request_id))


@router.post("/approvals/{request_id}/approve", response_model=ApprovalDetail)
def approve(request_id: int, body: DecisionIn, ctx: CurrentCtx) -> ApprovalDetail:
    """Approve: a plan becomes approved (signed later), a waiver is posted, a loan is
    written off, a case is placed with an agency or referred to litigation, a loan's
    class is raised. The requester is refused (403, maker–checker)."""
    req = decide_request(
        ctx.session, actor=ctx.actor, request_id=request_id, approve=True, reason=body.comment
    )
    return detail(ctx, req)


@router.post("/approvals/{request_id}/reject", response_model=ApprovalDetail)
def reject(request_id: int, body: DecisionIn, ctx: CurrentCtx) -> ApprovalDetail:
    req = decide_request(
        ctx.session, actor=ctx.actor, request_id=request_id, approve=False, reason=body.comment
    )
    return detail(ctx, req)


class ClassOverrideIn(BaseModel):
    risk_class: str = Field(
        max_length=24, description="special-mention, substandard, doubtful or loss"
    )
    reason: str = Field(min_length=1, max_length=2000)


@router.post(
    "/loans/{loan_id}/class-overrides",
    response_model=ApprovalOut,
    status_code=status.HTTP_201_CREATED,
)
def create_class_override(loan_id: str, body: ClassOverrideIn, ctx: CurrentCtx) -> ApprovalOut:
    """Ask to raise the loan's five-tier class (五级分类); a manager who is not the
    requester decides it in this inbox. Only upward, never below the floor."""
    req = request_class_override(
        session=ctx.session,
        actor=ctx.actor,
        loan_id=loan_id,
        risk_class=body.risk_class,
        reason=body.reason,
    )
    return ApprovalOut.model_validate(req)
