"""Contacts of a case (催记): the history, log a contact (through the contact gate), record
a field visit with photos, reveal the customer's masked data (logged), and the
prohibited-language check of a note as it is typed."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile, status
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime

from daihou.auth.permissions import authorize
from daihou.collection.casefile import contact_time, log_case_contact
from daihou.collection.casework import get_case, settings_of
from daihou.collection.contacts import ContactDenied, NoteRefused, contact_history, note_check
from daihou.collection.visits import record_visit
from daihou.loans import access
from daihou.web.api.case_schemas import (
    ContactIn,
    ContactOut,
    HitOut,
    LoggedOut,
    NoteCheckOut,
    NoteIn,
    PromiseOut,
    VisitKind,
    VisitOut,
    VisitResult,
)
from daihou.web.api.customers import RevealIn, RevealOut
from daihou.web.api.schemas import ERRORS, Error
from daihou.web.deps import CurrentCtx

router = APIRouter(tags=["contacts"], responses=ERRORS)

MAX_PHOTOS = 12
DENIED: dict[int | str, dict[str, Any]] = {
    403: {"model": Error, "description": "not allowed, or the contact gate refuses (rule named)"}
}


def denied(exc: ContactDenied) -> JSONResponse:
    """The gate's refusal as a 403 that commits: the gate recorded the denial."""
    d = exc.decision
    return JSONResponse(
        {
            "error": "contact-denied",
            "message": str(exc),
            "field": "at",
            "rule": d.rule,
            "message_zh": d.message_zh,
            "next_allowed_at": d.next_allowed_at.isoformat() if d.next_allowed_at else None,
        },
        status_code=403,
    )


@router.get("/cases/{case_id}/contacts", response_model=list[ContactOut])
def list_contacts(case_id: int, ctx: CurrentCtx) -> list[ContactOut]:
    """The case's contact history, newest first."""
    logs = contact_history(ctx.session, actor=ctx.actor, case_id=case_id)
    return [ContactOut.model_validate(c) for c in logs]


@router.post(
    "/cases/{case_id}/contacts",
    response_model=LoggedOut,
    status_code=status.HTTP_201_CREATED,
    responses=DENIED,
)
def log(case_id: int, body: ContactIn, ctx: CurrentCtx) -> LoggedOut | JSONResponse:
    """Log a contact and its outcome; an outbound contact is asked of the contact gate
    first (403 ``contact-denied`` names the rule and when contact is next allowed).
    Outcome ``promise`` takes ``promise_amount`` and ``promise_date``."""
    try:
        logged = log_case_contact(
            ctx.session,
            actor=ctx.actor,
            case_id=case_id,
            now=ctx.now,
            at=body.at,
            task_id=body.task_id,
            channel=body.channel,
            outcome=body.outcome,
            party=body.party,
            direction=body.direction,
            duration_seconds=body.duration_seconds,
            note=body.note or None,
            attitude=body.attitude,
            next_action=body.next_action,
            next_action_on=body.next_action_on,
            promise_amount=body.promise_amount,
            promise_date=body.promise_date,
        )
    except ContactDenied as exc:
        return denied(exc)
    return LoggedOut(
        contact=ContactOut.model_validate(logged.log),
        promise=PromiseOut.model_validate(logged.promise) if logged.promise else None,
        hold_id=logged.hold.id if logged.hold else None,
        gate_packs=list(logged.decision.packs) if logged.decision else [],
    )


@router.post(
    "/cases/{case_id}/visits",
    response_model=VisitOut,
    status_code=status.HTTP_201_CREATED,
    responses=DENIED,
)
def visit(
    case_id: int,
    ctx: CurrentCtx,
    result: Annotated[VisitResult, Form()],
    kind: Annotated[VisitKind, Form()],
    place: Annotated[str, Form(min_length=1, max_length=500)],
    at: Annotated[AwareDatetime | None, Form()] = None,
    note: Annotated[str, Form(max_length=4000)] = "",
    promise_amount: Annotated[str | None, Form(pattern=r"^\d{1,15}(\.\d{1,2})?$")] = None,
    promise_date: Annotated[date | None, Form()] = None,
    photos: Annotated[list[UploadFile] | None, File()] = None,
) -> VisitOut | JSONResponse:
    """Record a field visit (外访) with photos (multipart); each photo is stored under its
    SHA-256, which the audit chain records."""
    files = read_photos(photos or [])
    try:
        done = record_visit(
            ctx.session,
            actor=ctx.actor,
            case_id=case_id,
            at=contact_time(at, ctx.now),
            result=result,
            kind=kind,
            place=place,
            note=note or None,
            photos=files,
            promise_amount=promise_amount or None,
            promise_date=promise_date,
        )
    except ContactDenied as exc:
        return denied(exc)
    return VisitOut.model_validate(done.visit)


def read_photos(uploads: list[UploadFile]) -> list[tuple[str, bytes]]:
    """The uploaded photos, each read up to the size limit (the service refuses more)."""
    if len(uploads) > MAX_PHOTOS:
        raise ValueError(f"photos: at most {MAX_PHOTOS} photos per visit")
    limit = settings_of().visit.max_photo_bytes
    return [(u.filename or "photo", u.file.read(limit + 1)) for u in uploads if u.filename]


@router.post("/cases/{case_id}/reveal", response_model=RevealOut)
def reveal(case_id: int, body: RevealIn, ctx: CurrentCtx) -> RevealOut:
    """One of the customer's fields in full, for roles with the right; logged with the
    reason in the privacy log."""
    case = get_case(ctx.session, case_id)
    value = access.reveal_field(
        ctx.session,
        actor=ctx.actor,
        customer_id=case.customer_id,
        field=body.field,
        reason=body.reason,
    )
    return RevealOut(customer_id=case.customer_id, field=body.field, value=value)


@router.post("/notes/check", response_model=NoteCheckOut)
def check_note(body: NoteIn, ctx: CurrentCtx) -> NoteCheckOut:
    """The prohibited-language check of a note before it is logged (writes nothing)."""
    authorize(ctx.actor, "contact.log")
    refused = False
    try:
        result = note_check(body.note, settings_of(), None)
    except NoteRefused as exc:
        result, refused = exc.result, True
    assert result is not None
    return NoteCheckOut(
        passed=result.passed,
        refused=refused,
        max_severity=result.max_severity.value if result.max_severity else None,
        hits=[
            HitOut(
                category=h.category.value,
                severity=h.severity.value,
                rule_id=h.rule_id,
                start=h.span[0],
                end=h.span[1],
                text=h.text,
            )
            for h in result.hits
        ],
    )
