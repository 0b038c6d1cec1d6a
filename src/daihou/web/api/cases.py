"""Collection cases (催收案件): the list with filters, one case in full, promises to pay,
and requests for a repayment plan or a penalty waiver (approval requests)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, status

from daihou.collection import worklist
from daihou.collection.casefile import case_file
from daihou.collection.casework import get_case
from daihou.collection.plans import request_plan
from daihou.collection.promises import list_promises, record_promise
from daihou.collection.waivers import request_waiver
from daihou.web.api.case_schemas import (
    ApprovalOut,
    CaseDetailOut,
    CaseLineOut,
    CaseOut,
    PlanIn,
    PlanOut,
    PromiseIn,
    PromiseOut,
    WaiverIn,
    case_detail,
)
from daihou.web.api.schemas import ERRORS, Page
from daihou.web.deps import CurrentCtx

router = APIRouter(tags=["cases"], responses=ERRORS)

PromiseStatus = Literal["open", "kept", "broken", "cancelled"]
PageNo = Annotated[int, Query(ge=1, le=100_000)]
PerPage = Annotated[int, Query(ge=1, le=200)]


@router.get("/cases", response_model=Page[CaseLineOut])
def list_cases(
    ctx: CurrentCtx,
    status: Annotated[Literal["open", "closed"] | None, Query()] = "open",
    stage: Annotated[str | None, Query(max_length=16)] = None,
    owner: Annotated[str | None, Query(max_length=64)] = None,
    bucket: Annotated[str | None, Query(max_length=8)] = None,
    dpd_min: Annotated[int | None, Query(ge=0, le=100_000)] = None,
    dpd_max: Annotated[int | None, Query(ge=0, le=100_000)] = None,
    page: PageNo = 1,
    per_page: PerPage = 50,
) -> Page[CaseLineOut]:
    """Cases in the caller's scope, highest DPD first."""
    rows = worklist.search_cases(
        ctx.session,
        actor=ctx.actor,
        status=status,
        stage=stage,
        owner=owner,
        bucket=bucket,
        dpd_min=dpd_min,
        dpd_max=dpd_max,
        offset=(page - 1) * per_page,
        limit=per_page + 1,
    )
    return Page[CaseLineOut](
        items=[
            CaseLineOut(
                case=CaseOut.model_validate(r.case), dpd=r.dpd, bucket=r.bucket, overdue=r.overdue
            )
            for r in rows[:per_page]
        ],
        page=page,
        per_page=per_page,
        has_more=len(rows) > per_page,
    )


@router.get("/cases/{case_id}", response_model=CaseDetailOut)
def get_case_detail(case_id: int, ctx: CurrentCtx) -> CaseDetailOut:
    """The case with the customer's loans (共债), schedule, payments, masked contacts,
    contact history, promises, visits and holds."""
    return case_detail(case_file(ctx.session, actor=ctx.actor, case_id=case_id))


@router.get("/promises", response_model=Page[PromiseOut])
def get_promises(
    ctx: CurrentCtx,
    case_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    status: Annotated[PromiseStatus | None, Query()] = None,
    page: PageNo = 1,
    per_page: PerPage = 50,
) -> Page[PromiseOut]:
    """Promises to pay on cases in the caller's scope, newest first."""
    rows = list_promises(
        ctx.session, actor=ctx.actor, case_id=case_id, status=status, limit=page * per_page + 1
    )
    window = rows[(page - 1) * per_page : page * per_page]
    return Page[PromiseOut](
        items=[PromiseOut.model_validate(p) for p in window],
        page=page,
        per_page=per_page,
        has_more=len(rows) > page * per_page,
    )


@router.post(
    "/cases/{case_id}/promises", response_model=PromiseOut, status_code=status.HTTP_201_CREATED
)
def create_promise(case_id: int, body: PromiseIn, ctx: CurrentCtx) -> PromiseOut:
    """A promise to pay (承诺还款) taken outside a logged contact."""
    promise = record_promise(
        ctx.session,
        actor=ctx.actor,
        case_id=case_id,
        amount=body.amount,
        promised_on=body.promised_on,
    )
    return PromiseOut.model_validate(promise)


@router.post("/cases/{case_id}/plans", response_model=PlanOut, status_code=status.HTTP_201_CREATED)
def create_plan_request(case_id: int, body: PlanIn, ctx: CurrentCtx) -> PlanOut:
    """Propose a repayment plan (分期还款) on the case's loan; it waits for approval."""
    case = get_case(ctx.session, case_id)
    plan = request_plan(
        session=ctx.session,
        actor=ctx.actor,
        loan_id=case.loan_id,
        installments=body.installments,
        monthly_income=body.monthly_income,
        first_due_on=body.first_due_on,
        reason=body.reason,
    )
    return PlanOut.model_validate(plan)


@router.post(
    "/cases/{case_id}/waivers", response_model=ApprovalOut, status_code=status.HTTP_201_CREATED
)
def create_waiver_request(case_id: int, body: WaiverIn, ctx: CurrentCtx) -> ApprovalOut:
    """Ask for a penalty waiver (减免罚息); it waits for approval."""
    case = get_case(ctx.session, case_id)
    req = request_waiver(
        session=ctx.session,
        actor=ctx.actor,
        loan_id=case.loan_id,
        amount=body.amount,
        reason=body.reason,
    )
    return ApprovalOut.model_validate(req)
