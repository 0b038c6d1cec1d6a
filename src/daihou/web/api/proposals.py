"""Proposals (提议): a collector proposes placing a case with an agency (委外) or
referring it to litigation (诉讼); the proposal waits in the approvals inbox and is
decided there (``/approvals/{id}/approve`` or ``/reject``, maker–checker)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field

from daihou.collection.proposals import pending, propose
from daihou.web.api.case_schemas import ApprovalOut
from daihou.web.api.schemas import ERRORS, Page
from daihou.web.deps import CurrentCtx

router = APIRouter(tags=["approvals"], responses=ERRORS)

ProposalKind = Literal["placement", "legal"]


class ProposalIn(BaseModel):
    kind: ProposalKind = Field(description="placement (委外) or legal (诉讼移交)")
    case_id: int = Field(ge=1, le=2**63 - 1)
    reason: str = Field(min_length=1, max_length=2000, description="why the case should go")
    agency_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="placement only: the agency; left out, the allocation picks one",
    )


@router.get("/proposals", response_model=Page[ApprovalOut])
def list_proposals(
    ctx: CurrentCtx,
    kind: ProposalKind | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[ApprovalOut]:
    """Pending placement and litigation proposals: those the caller may decide and
    those the caller made, oldest first."""
    rows = pending(ctx.session, actor=ctx.actor, kind=kind)
    window = rows[(page - 1) * per_page : page * per_page]
    return Page[ApprovalOut](
        items=[ApprovalOut.model_validate(r) for r in window],
        page=page,
        per_page=per_page,
        has_more=len(rows) > page * per_page,
    )


@router.post("/proposals", response_model=ApprovalOut, status_code=status.HTTP_201_CREATED)
def make_proposal(body: ProposalIn, ctx: CurrentCtx) -> ApprovalOut:
    """Propose a placement or a litigation referral of a case in the caller's scope;
    a supervisor (not the proposer) decides it in the approvals inbox."""
    req = propose(
        ctx.session,
        actor=ctx.actor,
        kind=body.kind,
        case_id=body.case_id,
        reason=body.reason,
        agency_id=body.agency_id,
    )
    return ApprovalOut.model_validate(req)
