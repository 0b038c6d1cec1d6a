"""Supervision (团队管理): the team board per collector for a date, the collectors one
steers, case reassignment (one or many cases) and transfer of a leaver's cases
(离职移交). All need ``case.assign`` on the cases concerned."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from daihou.collection.assign import reassign_case, transfer_cases
from daihou.collection.board import Board, BoardRow, steered_collectors, team_board
from daihou.eod.calendar import business_date
from daihou.web.api.schemas import ERRORS, Money, Out, RateText
from daihou.web.deps import CurrentCtx

router = APIRouter(tags=["supervision"], responses=ERRORS)


class BoardRowOut(BaseModel):
    collector: str
    tier: str
    team: str | None
    tasks_done: int
    tasks_pending: int
    tasks_deferred: int = Field(description="work beyond the collector's daily capacity")
    contacts: int
    rpc: int
    rpc_rate: RateText | None = Field(description="right-party contacts / contacts, percent")
    promises_kept: int
    promises_broken: int
    promise_kept_rate: RateText | None = Field(description="kept / settled promises, percent")
    recovered: Money


class BoardOut(BaseModel):
    on: date
    since: date = Field(description="promises settled from this date count")
    rows: list[BoardRowOut]
    total: BoardRowOut


class CollectorOut(Out):
    user_id: str
    tier: str
    team: str | None
    territory: str | None
    daily_capacity: int


class ReassignIn(BaseModel):
    case_ids: list[int] = Field(min_length=1, max_length=500)
    to_user_id: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=500)


class ReassignOut(BaseModel):
    to_user_id: str
    case_ids: list[int]


class TransferIn(BaseModel):
    from_user_id: str = Field(min_length=1, max_length=64)
    to_user_id: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=500)


class TransferOut(BaseModel):
    from_user_id: str
    to_user_id: str
    case_ids: list[int]


def row_out(row: BoardRow) -> BoardRowOut:
    return BoardRowOut(
        collector=row.collector,
        tier=row.tier,
        team=row.team,
        tasks_done=row.tasks_done,
        tasks_pending=row.tasks_pending,
        tasks_deferred=row.tasks_deferred,
        contacts=row.contacts,
        rpc=row.rpc,
        rpc_rate=row.rpc_rate,
        promises_kept=row.promises_kept,
        promises_broken=row.promises_broken,
        promise_kept_rate=row.promise_kept_rate,
        recovered=row.recovered,
    )


def board_out(board: Board) -> BoardOut:
    return BoardOut(
        on=board.on,
        since=board.since,
        rows=[row_out(r) for r in board.rows],
        total=row_out(board.total()),
    )


def board_of(ctx: CurrentCtx, on: date | None, since: date | None) -> Board:
    day = on or business_date(ctx.session)
    return team_board(ctx.session, actor=ctx.actor, on=day, since=since)


@router.get("/supervision/board", response_model=BoardOut)
def get_board(
    ctx: CurrentCtx,
    on: Annotated[date | None, Query(description="default: the business date")] = None,
    since: Annotated[date | None, Query(description="default: the first of the month")] = None,
) -> BoardOut:
    """Per collector: tasks done and pending, contacts, right-party-contact rate,
    promise-kept rate and amount recovered on ``on``."""
    return board_out(board_of(ctx, on, since))


@router.get("/supervision/collectors", response_model=list[CollectorOut])
def collectors(ctx: CurrentCtx) -> list[CollectorOut]:
    """Active collectors the caller may give cases to."""
    return [
        CollectorOut.model_validate(c) for c in steered_collectors(ctx.session, actor=ctx.actor)
    ]


@router.post("/supervision/reassignments", response_model=ReassignOut)
def reassign(body: ReassignIn, ctx: CurrentCtx) -> ReassignOut:
    """Move one or more open cases to another collector; all or none (one case out of
    scope, closed or already theirs refuses the whole request)."""
    ids = list(dict.fromkeys(body.case_ids))
    for case_id in ids:
        reassign_case(
            ctx.session,
            case_id=case_id,
            to_user_id=body.to_user_id,
            reason=body.reason,
            actor=ctx.actor,
        )
    return ReassignOut(to_user_id=body.to_user_id, case_ids=ids)


@router.post("/supervision/transfers", response_model=TransferOut)
def transfer(body: TransferIn, ctx: CurrentCtx) -> TransferOut:
    """离职移交: every open case of ``from_user_id`` goes to ``to_user_id``; the leaver
    becomes inactive."""
    moved = transfer_cases(
        ctx.session,
        from_user_id=body.from_user_id,
        to_user_id=body.to_user_id,
        reason=body.reason,
        actor=ctx.actor,
    )
    return TransferOut(from_user_id=body.from_user_id, to_user_id=body.to_user_id, case_ids=moved)
