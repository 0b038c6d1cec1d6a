"""Servicing: post a repayment, a prepayment, reverse a transaction."""

from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from daihou.eod.calendar import business_date
from daihou.loans.access import authorize_loan
from daihou.payments.service import Posting, post_payment, prepay, reverse_transaction
from daihou.web.api.schemas import ERRORS, AmountIn, Money, Out
from daihou.web.deps import CurrentCtx

router = APIRouter(tags=["payments"], responses=ERRORS)

Channel = Literal["bank-debit", "online", "counter", "transfer"]


class PaymentIn(BaseModel):
    amount: AmountIn
    value_date: date | None = Field(default=None, description="default: the business date")
    channel: Channel
    reference: str = Field(min_length=1, max_length=128)


class PrepaymentIn(BaseModel):
    amount: AmountIn
    value_date: date | None = None
    full: bool = False
    mode: Literal["shorten-term", "reduce-installment"] = "reduce-installment"
    channel: Channel = "counter"
    reference: str | None = Field(default=None, min_length=1, max_length=128)


class ReversalIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class AppliedOut(Out):
    period: int | None
    component: str
    amount: Money


class PostingOut(Out):
    transaction_id: int
    loan_id: str
    kind: str
    amount: Money
    value_date: date
    channel: str | None
    reference: str | None
    created: bool
    allocation: list[AppliedOut]
    note: str | None
    loan_status: str


def _out(posting: Posting) -> PostingOut:
    return PostingOut.model_validate(posting)


@router.post(
    "/loans/{loan_id}/payments", response_model=PostingOut, status_code=status.HTTP_201_CREATED
)
def create_payment(loan_id: str, body: PaymentIn, ctx: CurrentCtx) -> PostingOut:
    """Post a repayment (还款). The same channel reference again returns the first
    posting (``created: false``)."""
    authorize_loan(ctx.session, actor=ctx.actor, loan_id=loan_id, action="payment.post")
    return _out(
        post_payment(
            session=ctx.session,
            loan_id=loan_id,
            amount=body.amount,
            value_date=body.value_date or business_date(ctx.session),
            channel=body.channel,
            reference=body.reference,
            actor=ctx.actor,
        )
    )


@router.post(
    "/loans/{loan_id}/prepayments", response_model=PostingOut, status_code=status.HTTP_201_CREATED
)
def create_prepayment(loan_id: str, body: PrepaymentIn, ctx: CurrentCtx) -> PostingOut:
    """Prepayment (提前还款), partial or full."""
    authorize_loan(ctx.session, actor=ctx.actor, loan_id=loan_id, action="payment.prepay")
    return _out(
        prepay(
            session=ctx.session,
            loan_id=loan_id,
            amount=body.amount,
            value_date=body.value_date or business_date(ctx.session),
            full=body.full,
            mode=body.mode,
            channel=body.channel,
            reference=body.reference,
            actor=ctx.actor,
        )
    )


@router.post(
    "/transactions/{transaction_id}/reversal",
    response_model=PostingOut,
    status_code=status.HTTP_201_CREATED,
)
def create_reversal(transaction_id: int, body: ReversalIn, ctx: CurrentCtx) -> PostingOut:
    """Reverse (冲正) a repayment, prepayment, fee or refund."""
    return _out(
        reverse_transaction(
            session=ctx.session, transaction_id=transaction_id, reason=body.reason, actor=ctx.actor
        )
    )
