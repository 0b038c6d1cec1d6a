"""Agencies (委外机构): the whitelist with KPIs, ranking and the elimination flag,
status changes, placement batches and single placements, recalls, and the monthly
commission statement (JSON or xlsx). ``agency.manage`` / ``placement.*`` / ``kpi.view``
as the services require."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, status
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from daihou.collection.agencies import commission, kpis, placement, recall, registry
from daihou.collection.agencies.models import Agency
from daihou.eod.calendar import business_date
from daihou.web.api.schemas import ERRORS, Money, Out, RateText
from daihou.web.deps import CurrentCtx

router = APIRouter(tags=["agencies"], responses=ERRORS)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class AgencyOut(Out):
    id: str
    name: str
    status: str
    status_reason: str | None
    licence_no: str
    licence_expires_on: date
    contract_from: date
    contract_until: date
    max_cases: int
    products: list[str]
    buckets: list[str]
    territories: list[str]
    commission_rates: dict[str, str]


class KpiOut(BaseModel):
    agency_id: str
    name: str
    status: str
    rank: int
    placements: int
    placed_amount: Money
    recovered: Money
    recovery_rate: RateText | None
    complaints: int
    complaint_rate: RateText | None
    compliance_rate: RateText | None
    eliminate: bool = Field(description="below a pack threshold: candidate for elimination")
    flags: list[str]


class AgencyDetail(AgencyOut):
    active_placements: int
    period_start: date
    period_end: date
    kpis: KpiOut | None


class Ranking(BaseModel):
    start: date
    end: date
    agencies: list[KpiOut]


class StatusIn(BaseModel):
    status: Literal["whitelisted", "suspended", "eliminated"]
    reason: str = Field(min_length=1, max_length=1000)


class StatusOut(BaseModel):
    agency: AgencyOut
    recalled: int


class BatchIn(BaseModel):
    limit: int | None = Field(default=None, ge=1, le=100_000)


class BatchOut(Out):
    id: int
    business_date: date
    created_by: str
    cases: int
    allocation: dict[str, Any]


class PlaceIn(BaseModel):
    case_id: int
    agency_id: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=1000)


class PlacementOut(Out):
    id: int
    case_id: int
    loan_id: str
    agency_id: str
    status: str
    placed_on: date
    due_back_on: date
    bucket: str
    overdue_amount: Money
    commission_rate: RateText


class RecallIn(BaseModel):
    case_id: int
    reason: str = Field(min_length=1, max_length=1000)


class RecallOut(BaseModel):
    case_id: int
    placement_id: int


class StatementLineOut(BaseModel):
    placement_id: int
    case_id: int
    loan_id: str
    bucket: str
    placed_on: date
    ended_on: date | None
    rate: RateText
    recovered: Money
    commission: Money


class BucketTotal(BaseModel):
    recovered: Money
    commission: Money


class StatementOut(BaseModel):
    agency_id: str
    agency_name: str
    month: str
    rounding: str
    recovered: Money
    commission: Money
    by_bucket: dict[str, BucketTotal]
    lines: list[StatementLineOut]


def kpi_out(k: kpis.AgencyKpis) -> KpiOut:
    return KpiOut(
        agency_id=k.agency_id,
        name=k.name,
        status=k.status,
        rank=k.rank,
        placements=k.placements,
        placed_amount=k.placed_amount,
        recovered=k.recovered,
        recovery_rate=k.recovery_rate,
        complaints=k.complaints,
        complaint_rate=k.complaint_rate,
        compliance_rate=k.compliance_rate,
        eliminate=k.eliminate,
        flags=list(k.flags),
    )


def period(session: Session, start: date | None, end: date | None) -> tuple[date, date]:
    """Default: the business date's month so far (placements made from its first)."""
    if start is None or end is None:
        today = business_date(session)
        start = start or today.replace(day=1)
        end = end or (date(today.year + (today.month == 12), today.month % 12 + 1, 1))
    return start, end


def active_count(session: Session, agency_id: str) -> int:
    from sqlalchemy import func, select

    from daihou.collection.agencies.models import Placement

    return int(
        session.scalar(
            select(func.count()).where(
                Placement.agency_id == agency_id, Placement.status == "active"
            )
        )
        or 0
    )


@router.get("/agencies", response_model=list[AgencyOut])
def list_agencies(
    ctx: CurrentCtx,
    status: Literal["whitelisted", "suspended", "eliminated"] | None = None,
) -> list[Agency]:
    return registry.list_agencies(ctx.session, actor=ctx.actor, status=status)


@router.get("/agencies/ranking", response_model=Ranking)
def ranking(ctx: CurrentCtx, start: date | None = None, end: date | None = None) -> Ranking:
    """KPIs of every agency for placements made in ``[start, end)`` (default: this
    month), ranked; ``eliminate`` flags the bottom performers (末位淘汰)."""
    start, end = period(ctx.session, start, end)
    rows = kpis.agency_kpis(ctx.session, actor=ctx.actor, start=start, end=end)
    return Ranking(start=start, end=end, agencies=[kpi_out(k) for k in rows])


@router.get("/agencies/{agency_id}", response_model=AgencyDetail)
def get_agency(
    agency_id: str, ctx: CurrentCtx, start: date | None = None, end: date | None = None
) -> AgencyDetail:
    registry.list_agencies(ctx.session, actor=ctx.actor, status=None)  # agency.manage
    agency = registry.get_agency(ctx.session, agency_id)
    start, end = period(ctx.session, start, end)
    ranked = kpis.agency_kpis(ctx.session, actor=ctx.actor, start=start, end=end)
    mine = next((k for k in ranked if k.agency_id == agency_id), None)
    return AgencyDetail.model_validate(
        {
            **AgencyOut.model_validate(agency).model_dump(),
            "active_placements": active_count(ctx.session, agency_id),
            "period_start": start,
            "period_end": end,
            "kpis": kpi_out(mine) if mine else None,
        }
    )


@router.post("/agencies/{agency_id}/status", response_model=StatusOut)
def set_status(agency_id: str, body: StatusIn, ctx: CurrentCtx) -> StatusOut:
    """Whitelist, suspend or eliminate; the latter two recall every placed case."""
    agency, recalled = registry.set_status(
        ctx.session, actor=ctx.actor, agency_id=agency_id, status=body.status, reason=body.reason
    )
    return StatusOut(agency=AgencyOut.model_validate(agency), recalled=recalled)


@router.get("/placement-batches", response_model=list[BatchOut])
def batches(ctx: CurrentCtx, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[BatchOut]:
    return [
        BatchOut.model_validate(b)
        for b in placement.list_batches(ctx.session, actor=ctx.actor, limit=limit)
    ]


@router.post("/placement-batches", response_model=BatchOut, status_code=status.HTTP_201_CREATED)
def place_batch(body: BatchIn, ctx: CurrentCtx) -> BatchOut:
    """Place every eligible case in the caller's scope across the usable agencies
    (D'Hondt by ranking, within contract scope and capacity)."""
    batch = placement.place_batch(
        ctx.session,
        actor=ctx.actor,
        business_date=business_date(ctx.session),
        limit=body.limit,
    )
    return BatchOut.model_validate(batch)


@router.post("/placements", response_model=PlacementOut, status_code=status.HTTP_201_CREATED)
def place_case(body: PlaceIn, ctx: CurrentCtx) -> PlacementOut:
    row = placement.place_case(
        ctx.session,
        actor=ctx.actor,
        case_id=body.case_id,
        agency_id=body.agency_id,
        business_date=business_date(ctx.session),
        reason=body.reason,
    )
    return PlacementOut.model_validate(row)


@router.post("/recalls", response_model=RecallOut)
def recall_case(body: RecallIn, ctx: CurrentCtx) -> RecallOut:
    """Recall a case from its agency now (召回)."""
    placement_id = recall.recall_case(
        ctx.session, actor=ctx.actor, case_id=body.case_id, reason=body.reason
    )
    return RecallOut(case_id=body.case_id, placement_id=placement_id)


def statement_of(ctx: CurrentCtx, agency_id: str, month: str) -> commission.Statement:
    return commission.commission_statement(
        ctx.session, actor=ctx.actor, agency_id=agency_id, month=month
    )


@router.get("/agencies/{agency_id}/statements/{month}", response_model=StatementOut)
def statement(agency_id: str, month: str, ctx: CurrentCtx) -> StatementOut:
    """The commission statement (佣金结算单) of ``month`` (YYYY-MM): one line per
    placement with recoveries valued in the month, totals by bucket."""
    return StatementOut.model_validate(statement_of(ctx, agency_id, month).as_dict())


@router.get(
    "/agencies/{agency_id}/statements/{month}/xlsx",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}, "description": "the statement as a workbook"}},
)
def statement_xlsx(agency_id: str, month: str, ctx: CurrentCtx) -> Response:
    found = statement_of(ctx, agency_id, month)
    name = f"commission-{quote(agency_id)}-{quote(month)}.xlsx"
    return Response(
        xlsx_bytes(found),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def xlsx_bytes(found: commission.Statement) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "statement.xlsx"
        commission.write_statement_xlsx(found, path)
        return path.read_bytes()
