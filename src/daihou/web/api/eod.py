"""End of day: the business date and the run history."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from daihou.auth.permissions import authorize
from daihou.eod.models import EodRun, SystemState
from daihou.web.api.schemas import ERRORS, Out, Page
from daihou.web.deps import CurrentCtx

router = APIRouter(tags=["eod"], responses=ERRORS)


class EodRunOut(Out):
    business_date: date
    step: str
    mode: str
    status: str
    loans: int
    rows: int
    duration_ms: int
    finished_at: datetime | None


class BusinessDateOut(Out):
    business_date: date
    eod_running: bool


@router.get("/eod/business-date", response_model=BusinessDateOut)
def get_business_date(ctx: CurrentCtx) -> BusinessDateOut:
    authorize(ctx.actor, "policy.view")
    state = ctx.session.get(SystemState, 1)
    if state is None:
        raise RuntimeError("the business date is not initialised (daihou init)")
    return BusinessDateOut.model_validate(state)


@router.get("/eod/runs", response_model=Page[EodRunOut])
def list_runs(
    ctx: CurrentCtx,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[EodRunOut]:
    """End-of-day steps run, newest business date first."""
    authorize(ctx.actor, "ledger.view")
    rows = list(
        ctx.session.scalars(
            select(EodRun)
            .order_by(EodRun.business_date.desc(), EodRun.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page + 1)
        )
    )
    return Page[EodRunOut](
        items=[EodRunOut.model_validate(r) for r in rows[:per_page]],
        page=page,
        per_page=per_page,
        has_more=len(rows) > per_page,
    )
