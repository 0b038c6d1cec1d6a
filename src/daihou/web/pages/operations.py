"""Operations (运营): loan and customer search, the loan page (schedule, transactions,
ledger, masked customer with a logged reveal), post a payment, prepay, reverse; import a
loan file with a per-row error report; end-of-day run history."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from daihou.auth.permissions import authorize, is_allowed
from daihou.compliance.privacy.service import PERSONAL_FIELDS, may_reveal
from daihou.eod.calendar import business_date
from daihou.eod.models import EodRun
from daihou.loans import access
from daihou.loans.import_file import ImportRejected
from daihou.payments.service import (
    CHANNELS,
    PREPAY_MODES,
    post_payment,
    prepay,
    reverse_transaction,
)
from daihou.web.deps import CurrentCtx, SignedIn
from daihou.web.i18n import translator
from daihou.web.pages.common import page, see_other
from daihou.web.rendering import NavItem

router = APIRouter(include_in_schema=False)

NAV = [
    NavItem("Loans", "/loans", "loan.view", 10),
    NavItem("Import", "/import", "loan.import", 20),
    NavItem("End of day", "/eod", "ledger.view", 30),
]

MAX_UPLOAD_BYTES = 50 * 1024 * 1024


@router.get("/loans")
def loan_search(
    request: Request,
    ctx: CurrentCtx,
    q: str | None = None,
    status: str | None = None,
    bucket: str | None = None,
    page_no: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    found = access.search_loans(
        ctx.session,
        actor=ctx.actor,
        q=(q or "")[:64] or None,
        status=status or None,
        bucket=bucket or None,
        page=max(page_no, 1),
        per_page=request.app.state.settings.page_size,
    )
    return page(
        request,
        ctx,
        "operations/loans.html",
        found=found,
        q=q or "",
        status=status or "",
        bucket=bucket or "",
    )


def _loan_page(
    request: Request,
    ctx: CurrentCtx,
    loan_id: str,
    *,
    revealed: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    view = access.view_loan(ctx.session, actor=ctx.actor, loan_id=loan_id)
    customer = access.masked_customer(ctx.session, actor=ctx.actor, customer_id=view.customer_id)
    ledger = (
        access.loan_ledger(ctx.session, actor=ctx.actor, loan_id=loan_id)
        if is_allowed(ctx.actor, "ledger.view")
        else None
    )
    holds = access.customer_holds(ctx.session, actor=ctx.actor, customer_id=view.customer_id)
    can: dict[str, Any] = {
        name: is_allowed(ctx.actor, name)
        for name in ("payment.post", "payment.prepay", "payment.reverse")
    }
    can["reveal"] = (
        [f for f in PERSONAL_FIELDS if may_reveal(ctx.actor, f)]
        if is_allowed(ctx.actor, "customer.reveal")
        else []
    )
    return page(
        request,
        ctx,
        "operations/loan.html",
        status_code=status_code,
        loan=view,
        customer=customer,
        ledger=ledger,
        holds=holds,
        can=can,
        channels=CHANNELS,
        prepay_modes=PREPAY_MODES,
        revealed=revealed or {},
        error=error,
        today=view.business_date,
    )


@router.get("/loans/{loan_id}")
def loan_page(request: Request, loan_id: str, ctx: CurrentCtx) -> HTMLResponse:
    return _loan_page(request, ctx, loan_id)


def _value_date(ctx: CurrentCtx, value: str) -> date:
    if not value:
        return business_date(ctx.session)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"value_date: {value!r} is not a date (YYYY-MM-DD)") from None


@router.post("/loans/{loan_id}/payments")
def loan_post_payment(
    loan_id: str,
    ctx: CurrentCtx,
    amount: Annotated[str, Form(max_length=32)],
    channel: Annotated[str, Form(max_length=16)],
    reference: Annotated[str, Form(max_length=128)],
    value_date: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    access.authorize_loan(ctx.session, actor=ctx.actor, loan_id=loan_id, action="payment.post")
    posting = post_payment(
        session=ctx.session,
        loan_id=loan_id,
        amount=amount.strip(),
        value_date=_value_date(ctx, value_date),
        channel=channel,
        reference=reference.strip(),
        actor=ctx.actor,
    )
    _ = translator(ctx.locale)
    return see_other(
        f"/loans/{loan_id}", notice=f"{_('Posted transaction')} {posting.transaction_id}"
    )


@router.post("/loans/{loan_id}/prepayments")
def loan_prepay(
    loan_id: str,
    ctx: CurrentCtx,
    amount: Annotated[str, Form(max_length=32)],
    mode: Annotated[str, Form(max_length=24)] = "reduce-installment",
    full: Annotated[bool, Form()] = False,
    value_date: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    access.authorize_loan(ctx.session, actor=ctx.actor, loan_id=loan_id, action="payment.prepay")
    posting = prepay(
        session=ctx.session,
        loan_id=loan_id,
        amount=amount.strip(),
        value_date=_value_date(ctx, value_date),
        full=full,
        mode=mode,
        actor=ctx.actor,
    )
    _ = translator(ctx.locale)
    return see_other(
        f"/loans/{loan_id}", notice=f"{_('Posted transaction')} {posting.transaction_id}"
    )


@router.post("/transactions/{transaction_id}/reversal")
def transaction_reverse(
    transaction_id: int, ctx: CurrentCtx, reason: Annotated[str, Form(max_length=500)]
) -> Response:
    posting = reverse_transaction(
        session=ctx.session, transaction_id=transaction_id, reason=reason, actor=ctx.actor
    )
    _ = translator(ctx.locale)
    return see_other(
        f"/loans/{posting.loan_id}",
        notice=f"{_('Reversed transaction')} {transaction_id}",
    )


@router.post("/loans/{loan_id}/reveal")
def loan_reveal(
    request: Request,
    loan_id: str,
    ctx: CurrentCtx,
    field: Annotated[str, Form(max_length=16)],
    reason: Annotated[str, Form(max_length=500)],
) -> HTMLResponse:
    """Show one personal field in full (logged); the answer is this page, not a
    redirect, so the value is never in a URL or the history."""
    view = access.view_loan(ctx.session, actor=ctx.actor, loan_id=loan_id)
    value = access.reveal_field(
        ctx.session, actor=ctx.actor, customer_id=view.customer_id, field=field, reason=reason
    )
    response = _loan_page(request, ctx, loan_id, revealed={field: value})
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/import")
def import_form(request: Request, ctx: CurrentCtx) -> HTMLResponse:
    authorize(ctx.actor, "loan.import")
    return page(request, ctx, "operations/import.html", result=None, rejected=None)


@router.post("/import")
async def import_submit(
    request: Request,
    ctx: SignedIn,
    file: Annotated[UploadFile, File()],
    update: Annotated[bool, Form()] = False,
) -> HTMLResponse:
    """The file is checked whole; any bad row rejects it and the page lists every
    row and field at fault."""
    from starlette.concurrency import run_in_threadpool

    from daihou.loans.book import import_loans

    authorize(ctx.actor, "loan.import")
    name = Path(file.filename or "upload.csv").name
    suffix = Path(name).suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise ValueError(f"file: {name!r} must be a .csv or .xlsx file")
    body = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(body) > MAX_UPLOAD_BYTES:
        raise ValueError(f"file: larger than {MAX_UPLOAD_BYTES // 1024 // 1024} MB")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(body)
        try:
            result = await run_in_threadpool(
                lambda: import_loans(
                    engine=request.app.state.engine, path=path, update=update, actor=ctx.actor
                )
            )
        except ImportRejected as exc:
            return page(
                request,
                ctx,
                "operations/import.html",
                status_code=422,
                result=None,
                rejected=exc.errors,
                filename=name,
            )
    return page(request, ctx, "operations/import.html", result=result, rejected=None, filename=name)


@router.get("/eod")
def eod_history(request: Request, ctx: CurrentCtx) -> HTMLResponse:
    authorize(ctx.actor, "ledger.view")
    runs = list(
        ctx.session.scalars(
            select(EodRun).order_by(EodRun.business_date.desc(), EodRun.id.desc()).limit(300)
        )
    )
    return page(request, ctx, "operations/eod.html", runs=runs, today=business_date(ctx.session))
