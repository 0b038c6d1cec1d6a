"""Proposals (提议) of agency placement (委外) and litigation referral (诉讼移交).

A collector who works a case proposes that it go to an agency or to court; the
supervisor decides (POLICY.md §6: supervisor = outsourcing and litigation decisions).
A proposal is an approval request of kind ``placement`` or ``legal`` (the amount is
the case's overdue amount when proposed), so it waits in the same inbox as plans,
waivers and write-offs, under the same rules: the permission matrix
(``placement.propose`` / ``placement.approve``, ``legal.propose`` / ``legal.approve``),
the pack's limits, maker–checker and expiry. Approving one carries it out through the
supervisor's own service — ``agencies.placement.place_case`` (with the agency the
proposal names, else the one the batch allocation would pick) or ``legal.service.refer``
— so its eligibility rules and audit are those of a direct action; the case's queued
review task of that kind (the strategy's ``agency-placement`` / ``legal-referral``) is
marked done.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from daihou.auth.actor import Actor
from daihou.auth.permissions import PermissionDenied, authorize, granting_roles
from daihou.collection import approvals
from daihou.collection.approval_models import ApprovalRequest
from daihou.collection.models import CollectionCase
from daihou.collection.overdue_amounts import overdue_amounts
from daihou.collection.tables import CollectionTask
from daihou.eod.calendar import ensure_open
from daihou.payments.errors import NotFound
from daihou.policy import PolicyPack

KINDS = ("placement", "legal")
REVIEW_TASK = {"placement": "agency-placement", "legal": "legal-referral"}


def _open_case(session: Session, case_id: int) -> CollectionCase:
    case = session.get(CollectionCase, case_id)
    if case is None:
        raise NotFound(f"no collection case {case_id}", field="case_id")
    return case


def propose(
    session: Session,
    *,
    actor: Actor,
    kind: str,
    case_id: int,
    reason: str,
    agency_id: str | None = None,
    pack: PolicyPack | None = None,
) -> ApprovalRequest:
    """File a pending proposal to place ``case_id`` with an agency (``agency_id`` or,
    left out, the one the allocation picks when approved) or to refer it to court."""
    if kind not in KINDS:
        raise approvals.ApprovalError(f"{kind!r} is not one of {list(KINDS)}", field="kind")
    case = _open_case(session, case_id)
    authorize(actor, approvals.REQUEST_ACTION[kind], resource=approvals.case_scope(case))
    if not reason.strip():
        raise approvals.ApprovalError("say why the case should go", field="reason")
    if agency_id is not None and kind != "placement":
        raise approvals.ApprovalError("only a placement names an agency", field="agency_id")
    if case.status != "open":
        raise approvals.ApprovalError(f"case {case_id} is {case.status}", field="case_id")
    if kind == "placement" and case.agency_id is not None:
        raise approvals.ApprovalError(
            f"case {case_id} is already placed with an agency", field="case_id"
        )
    if kind == "legal" and case.stage == "legal":
        raise approvals.ApprovalError(f"case {case_id} is already in litigation", field="case_id")
    if agency_id is not None:
        from daihou.collection.agencies.registry import get_agency

        try:
            get_agency(session, agency_id)
        except LookupError:
            raise approvals.ApprovalError(f"no agency {agency_id!r}", field="agency_id") from None
    waiting = session.scalars(
        select(ApprovalRequest.id).where(
            ApprovalRequest.case_id == case_id,
            ApprovalRequest.kind == kind,
            ApprovalRequest.status == "pending",
        )
    ).first()
    if waiting is not None:
        raise approvals.ApprovalError(
            f"a {kind} proposal for case {case_id} already waits (request {waiting})",
            field="case_id",
        )
    amount = overdue_amounts(session, [case.loan_id])[case.loan_id]
    payload: dict[str, Any] = {"case_id": case_id, "stage": case.stage}
    if kind == "placement":
        payload["agency_id"] = agency_id
    req, _ = approvals.request(
        session,
        actor=actor,
        kind=kind,
        loan_id=case.loan_id,
        case=case,
        amount=amount,
        payload=payload,
        reason=reason.strip(),
        pack=pack,
    )
    return req


def pending(
    session: Session, *, actor: Actor, kind: str | None = None, pack: PolicyPack | None = None
) -> list[ApprovalRequest]:
    """Pending proposals the actor may decide (the inbox's, of these kinds) and those
    they made themselves, oldest first."""
    if kind is not None and kind not in KINDS:
        raise approvals.ApprovalError(f"{kind!r} is not one of {list(KINDS)}", field="kind")
    kinds = [kind] if kind is not None else list(KINDS)
    actions = [approvals.REQUEST_ACTION[k] for k in kinds] + [
        approvals.APPROVE_ACTION[k] for k in kinds
    ]
    if not any(granting_roles(actor, a) for a in actions):
        raise PermissionDenied(
            f"{actor.user_id} ({', '.join(sorted(actor.roles))}) may neither propose nor "
            f"decide {' or '.join(kinds)} proposals",
            action="proposal.view",
            roles=actor.roles,
        )
    deciding = [r for r in approvals.inbox(session, actor=actor, pack=pack) if r.kind in kinds]
    today = ensure_open(session)
    own = session.scalars(
        select(ApprovalRequest).where(
            ApprovalRequest.status == "pending",
            ApprovalRequest.expires_on >= today,
            ApprovalRequest.requested_by == actor.user_id,
            or_(*(ApprovalRequest.kind == k for k in kinds)),
        )
    )
    rows = {r.id: r for r in deciding}
    rows.update({r.id: r for r in own})
    return sorted(rows.values(), key=lambda r: (r.requested_on, r.id))


def decide_proposal(
    session: Session,
    *,
    actor: Actor,
    request_id: int,
    approve: bool,
    reason: str,
    pack: PolicyPack | None = None,
) -> ApprovalRequest:
    """Approve (and carry out) or reject a pending proposal; maker–checker, scope and
    limits as for every approval. A placement or referral the case no longer allows
    refuses the approval with the service's reason, changing nothing."""
    req = approvals.load_pending(session, request_id)
    if req.kind not in KINDS or req.case_id is None:
        raise NotFound(f"no placement or litigation proposal {request_id}", field="request_id")
    approvals.decide(session, actor=actor, req=req, approve=approve, reason=reason, pack=pack)
    if approve:
        note = f"proposal {req.id} by {req.requested_by}: {req.reason}; {reason.strip()}"
        if req.kind == "placement":
            _place(session, actor=actor, req=req, note=note)
        else:
            from daihou.collection.legal.service import refer

            refer(session, actor=actor, case_id=req.case_id, note=note)
    _review_done(session, req)
    session.flush()
    return req


def _place(session: Session, *, actor: Actor, req: ApprovalRequest, note: str) -> None:
    from daihou.collection.agencies.allocation import CaseToPlace, allocate
    from daihou.collection.agencies.placement import agency_slots, eligible_cases, place_case
    from daihou.collection.agencies.settings import settings

    assert req.case_id is not None
    today = ensure_open(session)
    agency_id = (req.payload or {}).get("agency_id")
    if agency_id is None:
        config = settings()
        slots, _ = agency_slots(session, today, config)
        rows = session.execute(
            eligible_cases(today, config).where(CollectionCase.id == req.case_id)
        ).all()
        chosen = allocate(
            [
                CaseToPlace(
                    r.id, r.product, r.bucket, r.territory, int(r.overdue_fen), r.previous_agency
                )
                for r in rows
            ],
            slots,
            avoid_previous=config.placement.avoid_previous_agency,
            limit=1,
        )
        if req.case_id not in chosen:
            why = "it is not eligible" if not rows else "no usable agency with capacity covers it"
            raise ValueError(f"cannot place case {req.case_id}: {why}")
        agency_id = chosen[req.case_id]
    place_case(
        session,
        actor=actor,
        case_id=req.case_id,
        agency_id=str(agency_id),
        business_date=today,
        reason=note,
    )


def _review_done(session: Session, req: ApprovalRequest) -> None:
    """The strategy's queued review task of this kind on the case is answered."""
    t = CollectionTask
    session.execute(
        update(t)
        .where(
            t.case_id == req.case_id,
            t.kind == REVIEW_TASK[req.kind],
            t.status == "queued",
            t.feedback_at.is_(None),
        )
        .values(status="done", feedback_at=datetime.now(UTC).replace(tzinfo=None))
        .execution_options(synchronize_session=False)
    )
