"""Collector workbench (催收工作台): today's task list (priority, DPD, overdue amount, next
action, the hours contact is allowed now; filters; j/k and Enter in ``workbench.js``)
and the case page (the customer's loans, schedule, payments, masked contacts with a
logged reveal, the contact timeline, and forms to log a contact, record a promise,
request a plan or waiver and record a visit with photos).

A form that the services refuse is shown again with the message next to it (422; 403
when the contact gate refuses, whose denial is kept on record) — never a 500. Each
form's service call runs in a savepoint, so a refusal leaves nothing half-written.
"""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from daihou.auth.permissions import is_allowed
from daihou.collection import codes
from daihou.collection.casefile import case_file, contact_time, log_case_contact
from daihou.collection.casework import case_scope, get_case, settings_of
from daihou.collection.plans import request_plan
from daihou.collection.promises import record_promise
from daihou.collection.proposals import propose
from daihou.collection.settings import TASK_ACTIONS
from daihou.collection.visits import record_visit
from daihou.collection.waivers import request_waiver
from daihou.collection.worklist import contact_windows, task_summary, todays_tasks
from daihou.compliance.language.lexicon import Category
from daihou.compliance.privacy.service import PERSONAL_FIELDS, may_reveal
from daihou.eod.calendar import business_date
from daihou.loans import access
from daihou.web.api.contacts import read_photos
from daihou.web.deps import Ctx, CurrentCtx
from daihou.web.i18n import translator
from daihou.web.pages.common import page, see_other
from daihou.web.pages.forms import FormError, attempt, day, integer, when
from daihou.web.rendering import NavItem

router = APIRouter(include_in_schema=False)

NAV = [NavItem("Today's tasks", "/workbench", "task.view", 5)]

COLLECTOR_KINDS = tuple(k for k, role in TASK_ACTIONS.items() if role == "collector")


PAGE_SIZE = 100  # rows a page: more than the default daily capacity (80), so one page holds the day


@router.get("/workbench")
def tasks_page(
    request: Request,
    ctx: CurrentCtx,
    collector: str | None = None,
    kind: str | None = None,
    stage: str | None = None,
    bucket: str | None = None,
    page_no: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    today = business_date(ctx.session)
    who = (collector or "")[:64] or None
    summary = task_summary(ctx.session, actor=ctx.actor, work_date=today, collector=who)
    lines = todays_tasks(
        ctx.session,
        actor=ctx.actor,
        work_date=today,
        collector=who,
        kind=kind,
        stage=stage,
        bucket=bucket,
        offset=(page_no - 1) * PAGE_SIZE,
        limit=PAGE_SIZE + 1,
    )
    tz = settings_of().borrower_tz
    filters = {"kind": kind or "", "stage": stage or "", "bucket": bucket or ""}
    _ = translator(ctx.locale)
    shown = lines[:PAGE_SIZE]
    # each row's action, status and next action translated once per page, not per row
    words = {x.task.kind for x in shown} | {x.task.status for x in shown}
    words |= {x.next_action for x in shown if x.next_action}
    return page(
        request,
        ctx,
        "workbench/tasks.html",
        lines=shown,
        labels={w: _(w) for w in words},
        today=today,
        windows=contact_windows(ctx.now, tz),
        collector=collector or "",
        filters=filters,
        options={
            "kind": sorted(set(summary.kinds) | set(COLLECTOR_KINDS)),
            "stage": summary.stages,
            "bucket": summary.buckets,
        },
        done=summary.done,
        total=summary.total,
        page_no=page_no,
        more=len(lines) > PAGE_SIZE,
        query={**filters, "collector": collector or ""},
    )


def _case_page(
    request: Request,
    ctx: Ctx,
    case_id: int,
    *,
    error: FormError | None = None,
    values: dict[str, Any] | None = None,
    revealed: dict[str, str] | None = None,
    status_code: int = 200,
    task_id: int | None = None,
) -> HTMLResponse:
    f = case_file(ctx.session, actor=ctx.actor, case_id=case_id)
    scope = case_scope(f.view.case)
    can: dict[str, Any] = {
        a: is_allowed(ctx.actor, a, resource=scope)
        for a in (
            "contact.log",
            "promise.record",
            "plan.request",
            "waiver.request",
            "placement.propose",
            "legal.propose",
            "visit.record",
        )
    }
    can["reveal"] = (
        [x for x in PERSONAL_FIELDS if may_reveal(ctx.actor, x)]
        if is_allowed(ctx.actor, "customer.reveal", resource=scope)
        else []
    )
    tz = settings_of().borrower_tz
    _ = translator(ctx.locale)
    return page(
        request,
        ctx,
        "workbench/case.html",
        status_code=status_code,
        f=f,
        case=f.view.case,
        can=can,
        error=error,
        values=values or {},
        revealed=revealed or {},
        task_id=task_id,
        now_local=ctx.now.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%dT%H:%M"),
        today=business_date(ctx.session),
        windows=contact_windows(ctx.now, tz),
        codes=codes,
        categories={c.value: _(c.value) for c in Category},
    )


@router.get("/cases/{case_id}")
def case_page(
    request: Request, case_id: int, ctx: CurrentCtx, task: int | None = None
) -> HTMLResponse:
    return _case_page(request, ctx, case_id, task_id=task)


def _done(
    request: Request,
    ctx: Ctx,
    case_id: int,
    outcome: tuple[Any, FormError | None, int],
    notice: str,
    values: dict[str, Any],
    task_id: int | None = None,
) -> Response:
    """After a form: back to the case with ``notice`` (translated), or the page again
    with the error."""
    _result, error, code = outcome
    if error is None:
        return see_other(f"/cases/{case_id}", notice=notice)
    return _case_page(
        request, ctx, case_id, error=error, values=values, status_code=code, task_id=task_id
    )


@router.post("/cases/{case_id}/contacts")
def contact_submit(
    request: Request,
    case_id: int,
    ctx: CurrentCtx,
    channel: Annotated[str, Form(max_length=16)],
    outcome: Annotated[str, Form(max_length=24)],
    party: Annotated[str, Form(max_length=16)] = "borrower",
    direction: Annotated[str, Form(max_length=8)] = "outbound",
    at: Annotated[str, Form(max_length=32)] = "",
    duration_seconds: Annotated[str, Form(max_length=8)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
    attitude: Annotated[str, Form(max_length=24)] = "",
    next_action: Annotated[str, Form(max_length=24)] = "",
    next_action_on: Annotated[str, Form(max_length=10)] = "",
    promise_amount: Annotated[str, Form(max_length=32)] = "",
    promise_date: Annotated[str, Form(max_length=10)] = "",
    task_id: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    values = {
        "channel": channel,
        "outcome": outcome,
        "party": party,
        "direction": direction,
        "at": at,
        "duration_seconds": duration_seconds,
        "note": note,
        "attitude": attitude,
        "next_action": next_action,
        "next_action_on": next_action_on,
        "promise_amount": promise_amount,
        "promise_date": promise_date,
    }

    def call() -> Any:
        return log_case_contact(
            ctx.session,
            actor=ctx.actor,
            case_id=case_id,
            now=ctx.now,
            at=when(at, settings_of().borrower_tz),
            task_id=integer(task_id, "task_id"),
            channel=channel,
            outcome=outcome,
            party=party,
            direction=direction,
            duration_seconds=integer(duration_seconds, "duration_seconds"),
            note=note.strip() or None,
            attitude=attitude or None,
            next_action=next_action or None,
            next_action_on=day(next_action_on, "next_action_on"),
            promise_amount=promise_amount.strip() or None,
            promise_date=day(promise_date, "promise_date"),
        )

    task = integer(task_id, "task_id") if task_id.strip().isdigit() else None
    _ = translator(ctx.locale)
    outcome_ = attempt(ctx, "contact", call)
    return _done(request, ctx, case_id, outcome_, _("Contact logged"), values, task)


@router.post("/cases/{case_id}/promises")
def promise_submit(
    request: Request,
    case_id: int,
    ctx: CurrentCtx,
    amount: Annotated[str, Form(max_length=32)],
    promised_on: Annotated[str, Form(max_length=10)],
) -> Response:
    def call() -> Any:
        promised = day(promised_on, "promised_on")
        if promised is None:
            raise ValueError("promised_on: the promised date is required")
        return record_promise(
            ctx.session,
            actor=ctx.actor,
            case_id=case_id,
            amount=amount.strip(),
            promised_on=promised,
        )

    _ = translator(ctx.locale)
    values = {"amount": amount, "promised_on": promised_on}
    return _done(
        request, ctx, case_id, attempt(ctx, "promise", call), _("Promise recorded"), values
    )


@router.post("/cases/{case_id}/plans")
def plan_submit(
    request: Request,
    case_id: int,
    ctx: CurrentCtx,
    installments: Annotated[str, Form(max_length=4)],
    monthly_income: Annotated[str, Form(max_length=32)],
    first_due_on: Annotated[str, Form(max_length=10)] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    def call() -> Any:
        count = integer(installments, "installments")
        if count is None:
            raise ValueError("installments: the number of instalments is required")
        return request_plan(
            session=ctx.session,
            actor=ctx.actor,
            loan_id=get_case(ctx.session, case_id).loan_id,
            installments=count,
            monthly_income=monthly_income.strip(),
            first_due_on=day(first_due_on, "first_due_on"),
            reason=reason.strip() or None,
        )

    _ = translator(ctx.locale)
    values = {
        "installments": installments,
        "monthly_income": monthly_income,
        "first_due_on": first_due_on,
        "plan_reason": reason,
    }
    return _done(
        request, ctx, case_id, attempt(ctx, "plan", call), _("Plan requested for approval"), values
    )


@router.post("/cases/{case_id}/waivers")
def waiver_submit(
    request: Request,
    case_id: int,
    ctx: CurrentCtx,
    amount: Annotated[str, Form(max_length=32)],
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    def call() -> Any:
        return request_waiver(
            session=ctx.session,
            actor=ctx.actor,
            loan_id=get_case(ctx.session, case_id).loan_id,
            amount=amount.strip(),
            reason=reason.strip() or None,
        )

    _ = translator(ctx.locale)
    values = {"waiver_amount": amount, "waiver_reason": reason}
    return _done(
        request,
        ctx,
        case_id,
        attempt(ctx, "waiver", call),
        _("Waiver requested for approval"),
        values,
    )


@router.post("/cases/{case_id}/proposals")
def proposal_submit(
    request: Request,
    case_id: int,
    ctx: CurrentCtx,
    kind: Annotated[str, Form(max_length=16)],
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """A placement or litigation proposal: it waits in the supervisor's inbox."""

    def call() -> Any:
        return propose(ctx.session, actor=ctx.actor, kind=kind, case_id=case_id, reason=reason)

    _ = translator(ctx.locale)
    values = {"proposal_kind": kind, "proposal_reason": reason}
    return _done(
        request,
        ctx,
        case_id,
        attempt(ctx, "proposal", call),
        _("Proposal sent for a supervisor's decision"),
        values,
    )


@router.post("/cases/{case_id}/visits")
def visit_submit(
    request: Request,
    case_id: int,
    ctx: CurrentCtx,
    result: Annotated[str, Form(max_length=24)],
    kind: Annotated[str, Form(max_length=12)],
    place: Annotated[str, Form(max_length=500)],
    at: Annotated[str, Form(max_length=32)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
    photos: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    def call() -> Any:
        return record_visit(
            ctx.session,
            actor=ctx.actor,
            case_id=case_id,
            at=contact_time(when(at, settings_of().borrower_tz), ctx.now),
            result=result,
            kind=kind,
            place=place,
            note=note.strip() or None,
            photos=read_photos(photos or []),
        )

    _ = translator(ctx.locale)
    values = {"visit_result": result, "visit_kind": kind, "place": place, "visit_note": note}
    return _done(request, ctx, case_id, attempt(ctx, "visit", call), _("Visit recorded"), values)


@router.post("/cases/{case_id}/reveal")
def reveal_submit(
    request: Request,
    case_id: int,
    ctx: CurrentCtx,
    field: Annotated[str, Form(max_length=16)],
    reason: Annotated[str, Form(max_length=500)],
) -> HTMLResponse:
    """One personal field in full (logged in the privacy log); the answer is the page
    itself, never a redirect, so the value is not in a URL or the history."""
    case = get_case(ctx.session, case_id)
    value = access.reveal_field(
        ctx.session, actor=ctx.actor, customer_id=case.customer_id, field=field, reason=reason
    )
    response = _case_page(request, ctx, case_id, revealed={field: value})
    response.headers["Cache-Control"] = "no-store"
    return response
