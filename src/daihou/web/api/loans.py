"""Loans: search, one loan, its schedule, transactions, ledger and a payoff quote."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from daihou.eod.calendar import business_date
from daihou.loans import access
from daihou.payments.errors import ServicingError
from daihou.payments.quote import payoff_quote
from daihou.web.api.schemas import ERRORS, Money, Out, Page, RateText
from daihou.web.deps import CurrentCtx

router = APIRouter(tags=["loans"], responses=ERRORS)

QUOTE_HORIZON_DAYS = 366


class LoanSummaryOut(Out):
    loan_id: str
    customer_id: str
    product: str
    principal: Money
    outstanding_principal: Money
    status: str
    dpd: int
    bucket: str
    risk_class: str
    disbursed_on: date


class InstallmentOut(Out):
    period: int
    due_date: date
    status: str
    due: dict[str, Money]
    paid: dict[str, Money]
    paid_on: date | None


class TransactionOut(Out):
    id: int
    kind: str
    value_date: date
    booked_on: date
    amount: Money
    channel: str | None
    reference: str | None
    status: str
    reverses_id: int | None
    allocation: dict[str, Money]


class LoanOut(Out):
    loan_id: str
    customer_id: str
    product: str
    method: str
    principal: Money
    annual_rate: RateText
    current_rate: RateText
    term_months: int
    disbursed_on: date
    status: str
    closed_on: date | None
    business_date: date
    outstanding_principal: Money
    credit_balance: Money
    overdue: dict[str, Money]
    dpd: int
    bucket: str
    risk_class: str
    penalty_accrued: Money
    compound_accrued: Money


class LedgerLineOut(Out):
    entry_id: int
    kind: str
    entry_date: date
    booked_on: date
    memo: str | None
    account: str
    debit: Money
    credit: Money


class PayoffQuoteOut(Out):
    loan_id: str
    on: date
    total: Money
    by_component: dict[str, Money]
    explanation: str


@router.get("/loans", response_model=Page[LoanSummaryOut])
def list_loans(
    ctx: CurrentCtx,
    q: Annotated[
        str | None,
        Query(max_length=64, description="loan id prefix, customer id, phone or ID number"),
    ] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
    bucket: Annotated[str | None, Query(max_length=8)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[LoanSummaryOut]:
    """Loans in the caller's scope, newest id first."""
    found = access.search_loans(
        ctx.session,
        actor=ctx.actor,
        q=q,
        status=status,
        bucket=bucket,
        page=page,
        per_page=per_page,
    )
    return Page[LoanSummaryOut](
        items=[LoanSummaryOut.model_validate(i) for i in found.items],
        page=found.page,
        per_page=found.per_page,
        has_more=found.has_more,
    )


@router.get("/loans/{loan_id}", response_model=LoanOut)
def get_loan(loan_id: str, ctx: CurrentCtx) -> LoanOut:
    return LoanOut.model_validate(access.view_loan(ctx.session, actor=ctx.actor, loan_id=loan_id))


@router.get("/loans/{loan_id}/schedule", response_model=list[InstallmentOut])
def get_schedule(loan_id: str, ctx: CurrentCtx) -> list[InstallmentOut]:
    view = access.view_loan(ctx.session, actor=ctx.actor, loan_id=loan_id)
    return [InstallmentOut.model_validate(i) for i in view.installments]


@router.get("/loans/{loan_id}/transactions", response_model=list[TransactionOut])
def get_transactions(loan_id: str, ctx: CurrentCtx) -> list[TransactionOut]:
    view = access.view_loan(ctx.session, actor=ctx.actor, loan_id=loan_id)
    return [TransactionOut.model_validate(t) for t in view.transactions]


@router.get("/loans/{loan_id}/ledger", response_model=list[LedgerLineOut])
def get_ledger(loan_id: str, ctx: CurrentCtx) -> list[LedgerLineOut]:
    """Journal lines of the loan (needs ``ledger.view`` as well as the loan)."""
    lines = access.loan_ledger(ctx.session, actor=ctx.actor, loan_id=loan_id)
    return [LedgerLineOut.model_validate(line) for line in lines]


@router.get("/loans/{loan_id}/payoff-quote", response_model=PayoffQuoteOut)
def get_payoff_quote(
    loan_id: str, ctx: CurrentCtx, on: Annotated[date | None, Query()] = None
) -> PayoffQuoteOut:
    """What settles the loan on ``on`` (default: the business date)."""
    access.authorize_loan(ctx.session, actor=ctx.actor, loan_id=loan_id, action="loan.view")
    today = business_date(ctx.session)
    when = on or today
    if when > today + timedelta(days=QUOTE_HORIZON_DAYS):
        raise ServicingError(
            f"{when} is more than {QUOTE_HORIZON_DAYS} days after the business date", field="on"
        )
    return PayoffQuoteOut.model_validate(payoff_quote(ctx.session, loan_id, on=when))
