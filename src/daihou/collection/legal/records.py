"""Evidence list (证据清单) and costs (诉讼费, 律师费) of a legal file; audited."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from daihou.auth.actor import Actor
from daihou.auth.permissions import authorize
from daihou.collection.agencies.recall import case_scope
from daihou.collection.legal.models import LegalCost, LegalEvidence, LegalFile
from daihou.collection.models import CollectionCase
from daihou.compliance.audit.service import record, sha256_hex
from daihou.eod.calendar import business_date
from daihou.kernel.money import to_money

EVIDENCE_STATUSES = ("missing", "requested", "attached", "verified")
COST_KINDS = ("court-fee", "lawyer-fee", "other")  # 诉讼费, 律师费


def _file_and_case(session: Session, legal_file_id: int) -> tuple[LegalFile, CollectionCase]:
    file = session.get(LegalFile, legal_file_id)
    if file is None:
        raise LookupError(f"no legal file {legal_file_id}")
    case = session.get(CollectionCase, file.case_id)
    assert case is not None
    return file, case


def evidence_of(session: Session, legal_file_id: int) -> list[LegalEvidence]:
    return list(
        session.execute(
            select(LegalEvidence)
            .where(LegalEvidence.legal_file_id == legal_file_id)
            .order_by(LegalEvidence.id)
        ).scalars()
    )


def set_evidence(
    session: Session,
    *,
    actor: Actor,
    legal_file_id: int,
    kind: str,
    status: str,
    document: bytes | None = None,
    file_name: str | None = None,
) -> LegalEvidence:
    """Update one evidence item; ``attached`` needs the document (its SHA-256 is kept
    here and in the audit chain), ``verified`` an attached document."""
    file, case = _file_and_case(session, legal_file_id)
    basis = authorize(actor, "legal.update", resource=case_scope(case))
    if status not in EVIDENCE_STATUSES:
        raise ValueError(f"status: {status!r} is not one of {list(EVIDENCE_STATUSES)}")
    item = next((e for e in evidence_of(session, file.id) if e.kind == kind), None)
    if item is None:
        item = LegalEvidence(legal_file_id=file.id, kind=kind, status="missing")
        session.add(item)
    before = {"status": item.status, "file_hash": item.file_hash}
    if status == "attached":
        if not document:
            raise ValueError(f"document: attaching {kind} needs the file")
        item.file_hash, item.file_name = sha256_hex(document), file_name
    elif status == "verified" and item.file_hash is None:
        raise ValueError(f"status: {kind} has no attached document to verify")
    elif status in ("missing", "requested"):
        item.file_hash, item.file_name = None, None
    item.status, item.updated_by, item.updated_on = status, actor.user_id, business_date(session)
    session.flush()
    record(
        session,
        actor=actor,
        action="legal.evidence",
        object_type="legal-file",
        object_id=str(file.id),
        before={kind: before},
        after={kind: {"status": item.status, "file_hash": item.file_hash}},
        basis=basis.as_dict(),
        document=document if status == "attached" else None,
    )
    return item


def add_cost(
    session: Session,
    *,
    actor: Actor,
    legal_file_id: int,
    kind: str,
    amount: str | Decimal,
    incurred_on: date,
    note: str | None = None,
) -> LegalCost:
    file, case = _file_and_case(session, legal_file_id)
    basis = authorize(actor, "legal.update", resource=case_scope(case))
    if kind not in COST_KINDS:
        raise ValueError(f"kind: {kind!r} is not one of {list(COST_KINDS)}")
    value = to_money(amount, field="amount")
    if value <= 0:
        raise ValueError(f"amount: {value} must be positive")
    cost = LegalCost(
        legal_file_id=file.id,
        kind=kind,
        amount=value,
        incurred_on=incurred_on,
        note=note,
        recorded_by=actor.user_id,
    )
    session.add(cost)
    session.flush()
    record(
        session,
        actor=actor,
        action="legal.cost",
        object_type="legal-file",
        object_id=str(file.id),
        after={"cost_id": cost.id, "kind": kind, "amount": value, "incurred_on": incurred_on},
        basis=basis.as_dict(),
    )
    return cost
