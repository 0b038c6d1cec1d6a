"""Litigation (诉讼): file preparation, referral, stages, evidence and costs.

Stages move only along ``TRANSITIONS`` (preparing-file → filed → hearing → judgment →
enforcement → closed; a file may close early, e.g. settled or withdrawn, with a note).
Filing needs a referral and, by default, every evidence item attached. Referral
(``legal.refer``: a supervisor, POLICY.md §6) needs the §5 rules met, stores them with
the authorisation as its basis, recalls any agency placement and moves the case to
stage ``legal``, which blocks placement until the file closes. Every action is audited.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from daihou.auth.actor import SYSTEM, Actor
from daihou.auth.permissions import authorize
from daihou.collection.agencies.models import Placement
from daihou.collection.agencies.recall import case_scope, end_placements
from daihou.collection.agencies.settings import settings
from daihou.collection.legal.eligibility import LegalEligibility, assess
from daihou.collection.legal.models import LegalCost, LegalEvidence, LegalFile, LegalStageChange
from daihou.collection.legal.records import evidence_of
from daihou.collection.legal.settings import LegalSettings
from daihou.collection.models import CaseStatusChange, CollectionCase
from daihou.collection.overdue_amounts import overdue_amounts
from daihou.collection.tables import FastRows
from daihou.compliance.audit.service import canonical_json, record
from daihou.eod.calendar import business_date
from daihou.loans.models import Loan

STAGES = ("preparing-file", "filed", "hearing", "judgment", "enforcement", "closed")
TRANSITIONS: dict[str, frozenset[str]] = {
    "preparing-file": frozenset({"filed", "closed"}),
    "filed": frozenset({"hearing", "closed"}),
    "hearing": frozenset({"judgment", "closed"}),
    "judgment": frozenset({"enforcement", "closed"}),
    "enforcement": frozenset({"closed"}),
    "closed": frozenset(),
}


def _config(config: LegalSettings | None) -> LegalSettings:
    return config or settings().legal


def _case(session: Session, case_id: int) -> CollectionCase:
    case = session.get(CollectionCase, case_id)
    if case is None:
        raise LookupError(f"no collection case {case_id}")
    return case


def _file(session: Session, legal_file_id: int) -> LegalFile:
    file = session.get(LegalFile, legal_file_id)
    if file is None:
        raise LookupError(f"no legal file {legal_file_id}")
    return file


def open_file_of(session: Session, case_id: int) -> LegalFile | None:
    return session.execute(
        select(LegalFile).where(LegalFile.case_id == case_id, LegalFile.stage != "closed")
    ).scalar_one_or_none()


def eligibility(
    session: Session, *, case_id: int, on: date, config: LegalSettings | None = None
) -> LegalEligibility:
    case = _case(session, case_id)
    loan = session.get(Loan, case.loan_id)
    assert loan is not None
    return assess(
        dpd=loan.dpd,
        overdue_amount=overdue_amounts(session, [loan.id])[loan.id],
        broken_promises=case.broken_promises,
        refused=case.refused,
        lost_contact_since=case.lost_contact_since,
        business_date=on,
        config=_config(config),
    )


def _new_files(
    session: Session, rows: list[tuple[int, str]], *, on: date, actor: Actor, kinds: list[str]
) -> list[int]:
    if not rows:
        return []
    # Core and driver-level inserts: the ORM's bulk path costs more in Python per row
    # than the database spends inserting (a first run opens tens of thousands of files,
    # each with its evidence checklist)
    files = cast(Table, LegalFile.__table__)
    ids = list(
        session.scalars(
            files.insert().returning(files.c.id, sort_by_parameter_order=True),
            [
                {"case_id": c, "loan_id": loan, "stage": "preparing-file", "opened_on": on}
                for c, loan in rows
            ],
        )
    )
    fast = FastRows(session)
    day, who = fast.date(on), actor.user_id
    fast.write(
        LegalStageChange,
        ("legal_file_id", "from_stage", "to_stage", "business_date", "actor", "note"),
        [(i, None, "preparing-file", day, who, "file opened") for i in ids],
    )
    fast.write(
        LegalEvidence,
        ("legal_file_id", "kind", "status", "updated_by", "updated_on"),
        [(i, k, "missing", who, day) for i in ids for k in kinds],
    )
    return ids


def prepare_legal_files(
    session: Session, business_date: date, *, config: LegalSettings | None = None
) -> int:
    """Daily (collections run): open a legal file with its evidence checklist for every
    open case at ``prepare_file_dpd`` or more without one (POLICY.md §5 T+60)."""
    config = _config(config)
    has_file = select(LegalFile.case_id).where(LegalFile.stage != "closed")
    rows = session.execute(
        select(CollectionCase.id, CollectionCase.loan_id)
        .join(Loan, Loan.id == CollectionCase.loan_id)
        .where(
            CollectionCase.status == "open",
            Loan.dpd >= config.prepare_file_dpd,
            CollectionCase.id.not_in(has_file),
        )
        .order_by(CollectionCase.id)
    ).all()
    ids = _new_files(
        session, [(r[0], r[1]) for r in rows], on=business_date, actor=SYSTEM, kinds=config.evidence
    )
    if ids:
        record(
            session,
            actor=SYSTEM,
            action="legal.prepare",
            object_type="legal-files",
            object_id=f"prepare:{business_date.isoformat()}",
            after={"legal_files": ids},
            basis={"rule": "agencies_legal.legal.prepare_file_dpd", "batch": "collections.run"},
        )
    return len(ids)


def refer(
    session: Session,
    *,
    actor: Actor,
    case_id: int,
    note: str,
    config: LegalSettings | None = None,
) -> LegalFile:
    """Refer a case to litigation (诉讼移交) when the §5 rules are met."""
    config = _config(config)
    case = _case(session, case_id)
    basis = authorize(actor, "legal.refer", resource=case_scope(case))
    if not note.strip():
        raise ValueError("note: required (why this case goes to court)")
    if case.status != "open":
        raise ValueError(f"case {case_id} is {case.status}")
    today = business_date(session)
    verdict = eligibility(session, case_id=case_id, on=today, config=config)
    if not verdict.refer:
        raise ValueError(f"case {case_id} may not be referred: {'; '.join(verdict.unmet)}")
    file = open_file_of(session, case_id)
    if file is None:
        [new_id] = _new_files(
            session, [(case.id, case.loan_id)], on=today, actor=actor, kinds=config.evidence
        )
        file = _file(session, new_id)
    if file.referred_on is not None:
        raise ValueError(f"case {case_id} was already referred on {file.referred_on}")
    recalled = end_placements(
        session, where=Placement.case_id == case_id, reason="legal", actor=actor, on=today
    )
    session.refresh(case)
    reason = {**basis.as_dict(), "rules": verdict.met, "note": note.strip(), "recalled": recalled}
    file.referred_on, file.referred_by = today, actor.user_id
    file.referral_basis = canonical_json(reason)
    file.stage_before = case.stage
    session.add(
        CaseStatusChange(
            case_id=case.id,
            business_date=today,
            field="stage",
            old_value=case.stage,
            new_value="legal",
            reason=f"referred to litigation (legal file {file.id})",
            actor=actor.user_id,
        )
    )
    case.stage = "legal"
    session.flush()
    record(
        session,
        actor=actor,
        action="legal.refer",
        object_type="legal-file",
        object_id=str(file.id),
        after={"case_id": case_id, "rules": verdict.met},
        basis=reason,
    )
    return file


def advance(
    session: Session,
    *,
    actor: Actor,
    legal_file_id: int,
    to_stage: str,
    note: str | None = None,
    court: str | None = None,
    docket_no: str | None = None,
    config: LegalSettings | None = None,
) -> LegalFile:
    """Move a legal file to its next stage; only valid transitions."""
    config = _config(config)
    file = _file(session, legal_file_id)
    case = _case(session, file.case_id)
    basis = authorize(actor, "legal.update", resource=case_scope(case))
    if to_stage not in STAGES:
        raise ValueError(f"stage: {to_stage!r} is not one of {list(STAGES)}")
    if to_stage not in TRANSITIONS[file.stage]:
        allowed = sorted(TRANSITIONS[file.stage]) or ["none"]
        raise ValueError(
            f"stage: legal file {file.id} cannot go from {file.stage} to {to_stage} "
            f"(allowed: {', '.join(allowed)})"
        )
    if to_stage == "filed":
        if file.referred_on is None:
            raise ValueError(f"legal file {file.id} has not been referred (daihou legal refer)")
        if config.evidence_required_to_file:
            missing = [
                e.kind
                for e in evidence_of(session, file.id)
                if e.status not in ("attached", "verified")
            ]
            if missing:
                raise ValueError(f"stage: evidence not attached: {', '.join(missing)}")
    if to_stage == "closed" and not (note or "").strip():
        raise ValueError("note: required to close a legal file (outcome)")
    today = business_date(session)
    before = file.stage
    file.stage = to_stage
    file.court = court or file.court
    file.docket_no = docket_no or file.docket_no
    if to_stage == "closed":
        file.closed_on, file.outcome = today, (note or "").strip()
        if case.stage == "legal":
            restored = file.stage_before or "early"
            session.add(
                CaseStatusChange(
                    case_id=case.id,
                    business_date=today,
                    field="stage",
                    old_value="legal",
                    new_value=restored,
                    reason=f"legal file {file.id} closed",
                    actor=actor.user_id,
                )
            )
            case.stage = restored
    session.add(
        LegalStageChange(
            legal_file_id=file.id,
            from_stage=before,
            to_stage=to_stage,
            business_date=today,
            actor=actor.user_id,
            note=note,
        )
    )
    session.flush()
    record(
        session,
        actor=actor,
        action="legal.stage",
        object_type="legal-file",
        object_id=str(file.id),
        before={"stage": before},
        after={"stage": to_stage, "court": file.court, "docket_no": file.docket_no},
        basis={**basis.as_dict(), "note": note},
    )
    return file


def legal_file_view(session: Session, *, actor: Actor, legal_file_id: int) -> dict[str, Any]:
    """A legal file with its stage history, evidence list and costs (totals by kind)."""
    file = _file(session, legal_file_id)
    authorize(actor, "case.view", resource=case_scope(_case(session, file.case_id)))
    costs = list(
        session.execute(
            select(LegalCost).where(LegalCost.legal_file_id == file.id).order_by(LegalCost.id)
        ).scalars()
    )
    totals: dict[str, Decimal] = {}
    for c in costs:
        totals[c.kind] = totals.get(c.kind, Decimal("0.00")) + c.amount
    stages = session.execute(
        select(LegalStageChange)
        .where(LegalStageChange.legal_file_id == file.id)
        .order_by(LegalStageChange.id)
    ).scalars()
    return {
        "id": file.id,
        "case_id": file.case_id,
        "loan_id": file.loan_id,
        "stage": file.stage,
        "opened_on": file.opened_on,
        "referred_on": file.referred_on,
        "referred_by": file.referred_by,
        "court": file.court,
        "docket_no": file.docket_no,
        "closed_on": file.closed_on,
        "outcome": file.outcome,
        "history": [
            {
                "from": s.from_stage,
                "to": s.to_stage,
                "on": s.business_date,
                "by": s.actor,
                "note": s.note,
            }
            for s in stages
        ],
        "evidence": [
            {"kind": e.kind, "status": e.status, "file_name": e.file_name, "file_hash": e.file_hash}
            for e in evidence_of(session, file.id)
        ],
        "costs": [
            {
                "id": c.id,
                "kind": c.kind,
                "amount": c.amount,
                "incurred_on": c.incurred_on,
                "note": c.note,
            }
            for c in costs
        ],
        "cost_totals": totals,
        "cost_total": sum(totals.values(), Decimal("0.00")),
    }
