"""Generate, store, hash and regenerate documents.

``generate`` reads the inputs, normalises them through canonical JSON (so the fresh
build and any later rebuild start from the same data), renders the PDF, stores bytes,
inputs and SHA-256, and appends a ``document.generate`` record carrying the hash to
the audit chain. ``regenerate`` rebuilds from the stored inputs; ``verify`` checks the
rebuild has the stored hash (the builder version must be the same).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from daihou.auth.actor import Actor
from daihou.auth.permissions import authorize
from daihou.compliance.audit.service import canonical_json, record
from daihou.documents.builders import BUILDERS
from daihou.documents.inputs import loan_inputs, plan_inputs
from daihou.documents.models import Document
from daihou.documents.pdf import render
from daihou.notify.settings import NotifySettings, load_settings

BUILDER_VERSION = "1"
KINDS = tuple(BUILDERS)


def build(kind: str, inputs: dict[str, Any]) -> bytes:
    """The PDF of ``kind`` from its inputs (pure: same inputs, same bytes)."""
    if kind not in BUILDERS:
        raise ValueError(f"unknown document kind {kind!r}; known: {list(KINDS)}")
    title, builder = BUILDERS[kind]
    lender = inputs["lender"]["name"]
    return render(
        builder(inputs), title=title, author=lender, subject=f"{kind} {inputs['loan']['id']}"
    )


def gather(
    session: Session,
    *,
    kind: str,
    loan_id: str,
    settings: NotifySettings,
    as_of: date | None = None,
    plan_months: int | None = None,
    plan_first_due: date | None = None,
) -> dict[str, Any]:
    """The inputs of a document, as canonical-JSON-round-tripped plain data."""
    if kind not in BUILDERS:
        raise ValueError(f"unknown document kind {kind!r}; known: {list(KINDS)}")
    data = loan_inputs(
        session, loan_id, lender=settings.lender, as_of=as_of, history=kind == "evidence-bundle"
    )
    data["kind"] = kind
    if kind == "plan-agreement":
        from decimal import Decimal

        first = plan_first_due or date.fromisoformat(data["as_of"])
        data["plan"] = plan_inputs(
            Decimal(data["overdue_sum"]), months=plan_months or 6, first_due=first
        )
    loaded: dict[str, Any] = json.loads(canonical_json(data))
    return loaded


def generate(
    session: Session,
    *,
    kind: str,
    loan_id: str,
    actor: Actor,
    settings: NotifySettings | None = None,
    as_of: date | None = None,
    case_id: str | None = None,
    message_id: str | None = None,
    plan_months: int | None = None,
    plan_first_due: date | None = None,
) -> Document:
    """Build, store and audit one document."""
    authorize(actor, "document.generate")
    settings = settings or load_settings()
    inputs = gather(
        session,
        kind=kind,
        loan_id=loan_id,
        settings=settings,
        as_of=as_of,
        plan_months=plan_months,
        plan_first_due=plan_first_due,
    )
    content = build(kind, inputs)
    digest = hashlib.sha256(content).hexdigest()
    document = Document(
        kind=kind,
        loan_id=loan_id,
        customer_id=inputs["customer"]["id"],
        case_id=case_id,
        message_id=message_id,
        builder_version=BUILDER_VERSION,
        inputs=canonical_json(inputs),
        sha256=digest,
        size=len(content),
        content=content,
        created_by=actor.user_id,
        created_at=datetime.now(UTC).replace(tzinfo=None),
    )
    session.add(document)
    session.flush()
    entry = record(
        session,
        actor=actor,
        action="document.generate",
        object_type="document",
        object_id=str(document.id),
        after={"kind": kind, "loan_id": loan_id, "sha256": digest, "builder": BUILDER_VERSION},
        basis={"permission": "document.generate", "message_id": message_id},
        document=content,
    )
    document.audit_id = entry.id
    session.flush()
    return document


def get_document(session: Session, document_id: int) -> Document:
    document = session.get(Document, document_id)
    if document is None:
        raise LookupError(f"no document {document_id}")
    return document


def regenerate(session: Session, document_id: int) -> bytes:
    """The document rebuilt from its stored inputs."""
    document = get_document(session, document_id)
    if document.builder_version != BUILDER_VERSION:
        raise ValueError(
            f"document {document_id} was built by builder {document.builder_version}, "
            f"this is builder {BUILDER_VERSION}: it cannot be rebuilt byte for byte"
        )
    return build(document.kind, json.loads(document.inputs))


def verify(session: Session, document_id: int) -> bool:
    """The rebuild has the stored hash, and the stored bytes still match it."""
    document = get_document(session, document_id)
    rebuilt = hashlib.sha256(regenerate(session, document_id)).hexdigest()
    stored = hashlib.sha256(document.content).hexdigest()
    return rebuilt == document.sha256 == stored


def document_for_message(session: Session, message_id: str) -> Document | None:
    return session.scalars(
        select(Document).where(Document.message_id == message_id).limit(1)
    ).first()
