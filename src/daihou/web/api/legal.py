"""Litigation (诉讼): legal files in the caller's scope, one file with its stage
history, evidence and costs, referral of a case, stage moves and costs."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field

from daihou.collection.legal import records, service
from daihou.collection.legal.listing import list_files
from daihou.web.api.schemas import ERRORS, AmountIn, Money, Out, Page
from daihou.web.deps import CurrentCtx

router = APIRouter(tags=["legal"], responses=ERRORS)

Stage = Literal["preparing-file", "filed", "hearing", "judgment", "enforcement", "closed"]
CostKind = Literal["court-fee", "lawyer-fee", "other"]


class LegalFileOut(Out):
    id: int
    case_id: int
    loan_id: str
    stage: str
    opened_on: date
    referred_on: date | None
    referred_by: str | None
    court: str | None
    docket_no: str | None
    closed_on: date | None
    outcome: str | None


class StageOut(BaseModel):
    from_stage: str | None = Field(alias="from")
    to: str
    on: date
    by: str
    note: str | None


class EvidenceOut(BaseModel):
    kind: str
    status: str
    file_name: str | None
    file_hash: str | None


class CostOut(BaseModel):
    id: int
    kind: str
    amount: Money
    incurred_on: date
    note: str | None


class LegalFileDetail(LegalFileOut):
    history: list[StageOut]
    evidence: list[EvidenceOut]
    costs: list[CostOut]
    cost_totals: dict[str, Money]
    cost_total: Money


class ReferIn(BaseModel):
    case_id: int
    note: str = Field(min_length=1, max_length=2000)


class StageIn(BaseModel):
    to_stage: Stage
    note: str | None = Field(default=None, max_length=2000)
    court: str | None = Field(default=None, max_length=128)
    docket_no: str | None = Field(default=None, max_length=64)


class CostIn(BaseModel):
    kind: CostKind
    amount: AmountIn
    incurred_on: date
    note: str | None = Field(default=None, max_length=2000)


def detail(ctx: CurrentCtx, legal_file_id: int) -> LegalFileDetail:
    view: dict[str, Any] = service.legal_file_view(
        ctx.session, actor=ctx.actor, legal_file_id=legal_file_id
    )
    return LegalFileDetail.model_validate(view)


@router.get("/legal-files", response_model=Page[LegalFileOut])
def files(
    ctx: CurrentCtx,
    stage: Stage | None = None,
    referred_only: bool = False,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[LegalFileOut]:
    rows = list_files(
        ctx.session,
        actor=ctx.actor,
        stage=stage,
        referred_only=referred_only,
        limit=per_page + 1,
        offset=(page - 1) * per_page,
    )
    return Page[LegalFileOut](
        items=[LegalFileOut.model_validate(f) for f in rows[:per_page]],
        page=page,
        per_page=per_page,
        has_more=len(rows) > per_page,
    )


@router.get("/legal-files/{legal_file_id}", response_model=LegalFileDetail)
def get_file(legal_file_id: int, ctx: CurrentCtx) -> LegalFileDetail:
    return detail(ctx, legal_file_id)


@router.post("/legal-files", response_model=LegalFileDetail, status_code=status.HTTP_201_CREATED)
def refer(body: ReferIn, ctx: CurrentCtx) -> LegalFileDetail:
    """Refer a case to litigation (诉讼移交) when the §5 rules are met; recalls any
    agency placement."""
    file = service.refer(ctx.session, actor=ctx.actor, case_id=body.case_id, note=body.note)
    return detail(ctx, file.id)


@router.post("/legal-files/{legal_file_id}/stage", response_model=LegalFileDetail)
def advance(legal_file_id: int, body: StageIn, ctx: CurrentCtx) -> LegalFileDetail:
    """Move the file to its next stage (filed, hearing, judgment, enforcement; closed
    at any point with the outcome as note)."""
    service.advance(
        ctx.session,
        actor=ctx.actor,
        legal_file_id=legal_file_id,
        to_stage=body.to_stage,
        note=body.note,
        court=body.court,
        docket_no=body.docket_no,
    )
    return detail(ctx, legal_file_id)


@router.post(
    "/legal-files/{legal_file_id}/costs",
    response_model=LegalFileDetail,
    status_code=status.HTTP_201_CREATED,
)
def add_cost(legal_file_id: int, body: CostIn, ctx: CurrentCtx) -> LegalFileDetail:
    records.add_cost(
        ctx.session,
        actor=ctx.actor,
        legal_file_id=legal_file_id,
        kind=body.kind,
        amount=body.amount,
        incurred_on=body.incurred_on,
        note=body.note,
    )
    return detail(ctx, legal_file_id)
