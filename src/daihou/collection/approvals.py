"""Approvals (审批) with the authority matrix and maker–checker.

Who may request and who may approve each kind is the permission matrix
(``daihou.auth.permissions``: e.g. ``plan.request`` / ``plan.approve``); how much each
approving role may approve is the policy pack (``approvals.limits``, POLICY.md §6).
Nobody decides their own request. Every request and decision stores its
authorisation basis (role, rule, scope, limit) and is written to the audit chain.

The kind-specific effects (post a waiver, sign a plan, write a loan off) live in
``plans``, ``waivers`` and ``writeoff``; they call ``request`` and ``decide`` here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, false, or_, select, true, update
from sqlalchemy.orm import Session

from daihou.auth.actor import SYSTEM, Actor
from daihou.auth.permissions import (
    AuthorizationBasis,
    PermissionDenied,
    authorize,
    authorize_approval,
    granting_roles,
    rule_for,
)
from daihou.auth.scopes import ResourceScope
from daihou.collection.approval_models import ApprovalRequest, PlanStatusChange, RepaymentPlan
from daihou.collection.case_lists import case_scope_filter
from daihou.collection.models import CollectionCase
from daihou.compliance.audit.service import record as audit_record
from daihou.eod.calendar import ensure_open
from daihou.loans.models import Loan
from daihou.payments.errors import NotFound, ServicingError
from daihou.payments.service import lock_loan
from daihou.policy import PolicyPack, load_pack

# kind → the permission-matrix action to request / approve it (extensible: class
# override …); placement and legal are collectors' proposals (``proposals``)
REQUEST_ACTION = {
    "plan": "plan.request",
    "waiver": "waiver.request",
    "writeoff": "writeoff.propose",
    "classification": "classification.override",
    "placement": "placement.propose",
    "legal": "legal.propose",
}
APPROVE_ACTION = {
    "plan": "plan.approve",
    "waiver": "waiver.approve",
    "writeoff": "writeoff.approve",
    "classification": "classification.approve",
    "placement": "placement.approve",
    "legal": "legal.approve",
}


class ApprovalError(ServicingError):
    """A request that cannot be made or decided; names the field at fault."""


@dataclass(frozen=True, slots=True)
class Limit:
    role: str
    amount: Decimal | None  # None: no limit
    rule: str  # where the number comes from, e.g. approvals.limits.plan.supervisor


def case_scope(case: CollectionCase | None) -> ResourceScope | None:
    if case is None:
        return None
    return ResourceScope(
        owner_user_id=case.owner_user_id,
        team=case.team,
        agency_id=case.agency_id,
        territory=case.territory,
    )


def open_case(session: Session, loan_id: str) -> CollectionCase | None:
    return session.scalars(
        select(CollectionCase)
        .where(CollectionCase.loan_id == loan_id, CollectionCase.status == "open")
        .order_by(CollectionCase.id.desc())
        .limit(1)
    ).first()


def limit_for(actor: Actor, kind: str, amount: Decimal, pack: PolicyPack) -> Limit:
    """The approving role of ``actor`` whose pack limit covers ``amount``, else
    ``PermissionDenied`` saying who may approve it."""
    action = APPROVE_ACTION[kind]
    limits = pack.approvals.limits.get(kind, {})
    for role in granting_roles(actor, action):
        if role not in limits:
            continue
        cap = limits[role]
        if cap is None or amount <= cap:
            return Limit(role, cap, f"approvals.limits.{kind}.{role}")
    allowed = [
        f"{r} (up to {c})" if c is not None else f"{r} (no limit)" for r, c in limits.items()
    ]
    raise PermissionDenied(
        f"{actor.user_id} may not approve a {kind} of {amount}: above their limit; "
        f"approvers: {', '.join(allowed) or 'none configured'}",
        action=action,
        roles=actor.roles,
    )


def _decision_basis(basis: AuthorizationBasis, limit: Limit | None) -> dict[str, Any]:
    out = basis.as_dict()
    if limit is not None:
        out["limit_rule"] = limit.rule
        out["limit"] = None if limit.amount is None else str(limit.amount)
    return out


def request(
    session: Session,
    *,
    actor: Actor,
    kind: str,
    loan_id: str,
    case: CollectionCase | None,
    amount: Decimal,
    payload: dict[str, Any],
    reason: str | None = None,
    pack: PolicyPack | None = None,
) -> tuple[ApprovalRequest, AuthorizationBasis]:
    """Record a pending request (the caller has validated the payload). Audited."""
    pack = pack or load_pack()
    if kind not in REQUEST_ACTION:
        raise ApprovalError(f"unknown kind {kind!r}", field="kind")
    basis = authorize(actor, REQUEST_ACTION[kind], resource=case_scope(case))
    _caseless(actor, REQUEST_ACTION[kind], case)
    today = ensure_open(session)
    req = ApprovalRequest(
        kind=kind,
        status="pending",
        loan_id=loan_id,
        case_id=case.id if case is not None else None,
        amount=amount,
        payload=payload,
        requested_by=actor.user_id,
        requested_basis=basis.as_dict(),
        requested_on=today,
        expires_on=today + timedelta(days=pack.approvals.expire_after_days),
        reason=reason,
    )
    session.add(req)
    session.flush()
    audit_record(
        session,
        actor=actor,
        action=f"approval.{kind}.request",
        object_type="approval_request",
        object_id=str(req.id),
        after=_view(req),
        basis=basis.as_dict(),
        business_date=today,
    )
    return req, basis


def load_pending(session: Session, request_id: int, *, kind: str | None = None) -> ApprovalRequest:
    """The request, row-locked (``FOR UPDATE`` on PostgreSQL), which must be pending."""
    req = session.scalars(
        select(ApprovalRequest).where(ApprovalRequest.id == request_id).with_for_update()
    ).first()
    if req is None or (kind is not None and req.kind != kind):
        raise NotFound(f"no {kind or 'approval'} request {request_id}", field="request_id")
    session.refresh(req)
    today = ensure_open(session)
    if req.status == "pending" and req.expires_on < today:
        req.status = "expired"
        session.flush()
    if req.status != "pending":
        raise ApprovalError(f"request {request_id} is {req.status}", field="request_id")
    return req


def lock_pending(
    session: Session, request_id: int, *, kind: str, label: str
) -> tuple[Loan, ApprovalRequest]:
    """For deciding a request of ``kind``: its loan, locked first (the order payments
    and end of day lock in), then the request, which must be pending (``load_pending``).
    ``NotFound`` names the request (``label``: "write-off", "waiver" …)."""
    found = session.get(ApprovalRequest, request_id)
    if found is None or found.kind != kind:
        raise NotFound(f"no {label} request {request_id}", field="request_id")
    loan = lock_loan(session, found.loan_id)
    return loan, load_pending(session, request_id, kind=kind)


def decide(
    session: Session,
    *,
    actor: Actor,
    req: ApprovalRequest,
    approve: bool,
    reason: str,
    pack: PolicyPack | None = None,
) -> dict[str, Any]:
    """Approve or reject a pending request (already locked by ``load_pending``).

    Maker–checker always; an approval also needs an approving role whose amount limit
    covers the request. Returns the stored decision basis. Audited."""
    pack = pack or load_pack()
    if not reason or not reason.strip():
        raise ApprovalError("a reason is required", field="reason")
    case = session.get(CollectionCase, req.case_id) if req.case_id is not None else None
    basis = authorize_approval(
        actor, APPROVE_ACTION[req.kind], maker_user_id=req.requested_by, resource=case_scope(case)
    )
    _caseless(actor, APPROVE_ACTION[req.kind], case)
    limit = limit_for(actor, req.kind, req.amount, pack) if approve else None
    if limit is not None and limit.role != basis.role:
        # the role whose limit covers the amount is the basis (with its own scope)
        basis = authorize(
            Actor(
                actor.user_id,
                frozenset({limit.role}),
                actor.team,
                actor.agency_id,
                territory=actor.territory,
            ),
            APPROVE_ACTION[req.kind],
            resource=case_scope(case),
        )
    before = _view(req)
    decided = _decision_basis(basis, limit)
    req.status = "approved" if approve else "rejected"
    req.decided_by = actor.user_id
    req.decided_basis = decided
    req.decided_on = ensure_open(session)
    req.decided_at = datetime.now(UTC).replace(tzinfo=None)
    req.decision_reason = reason.strip()
    session.flush()
    audit_record(
        session,
        actor=actor,
        action=f"approval.{req.kind}.{'approve' if approve else 'reject'}",
        object_type="approval_request",
        object_id=str(req.id),
        before=before,
        after=_view(req),
        basis={**decided, "requested_by": req.requested_by},
        business_date=req.decided_on,
    )
    return decided


def cancel(session: Session, *, actor: Actor, req: ApprovalRequest, reason: str) -> None:
    """The requester withdraws a pending request."""
    if req.requested_by != actor.user_id:
        raise PermissionDenied(
            f"{actor.user_id} did not make request {req.id}; only its requester may cancel it",
            action="approval.cancel",
            roles=actor.roles,
        )
    before = _view(req)
    req.status = "cancelled"
    req.decision_reason = reason.strip() or None
    _close_plan(session, req, "cancelled", actor.user_id, reason.strip() or "request withdrawn")
    session.flush()
    audit_record(
        session,
        actor=actor,
        action=f"approval.{req.kind}.cancel",
        object_type="approval_request",
        object_id=str(req.id),
        before=before,
        after=_view(req),
        basis={"rule": "the requester may withdraw their own pending request"},
    )


def _close_plan(
    session: Session, req: ApprovalRequest, status: str, actor: str, reason: str
) -> None:
    """A plan whose approval request is withdrawn or lapses is cancelled with it."""
    plans = session.scalars(
        select(RepaymentPlan).where(
            RepaymentPlan.approval_id == req.id, RepaymentPlan.status == "requested"
        )
    ).all()
    for plan in plans:
        session.add(
            PlanStatusChange(
                plan_id=plan.id,
                business_date=ensure_open(session),
                old_status=plan.status,
                new_status=status,
                reason=reason,
                actor=actor,
            )
        )
        plan.status = status


def expire(session: Session, *, today: date) -> int:
    """Mark pending requests past their expiry date expired (their plans cancelled)."""
    lapsed = session.scalars(
        select(ApprovalRequest).where(
            ApprovalRequest.status == "pending",
            ApprovalRequest.expires_on < today,
            ApprovalRequest.kind == "plan",
        )
    ).all()
    for req in lapsed:
        _close_plan(session, req, "cancelled", "system", "approval request expired")
    ids = session.scalars(
        select(ApprovalRequest.id).where(
            ApprovalRequest.status == "pending", ApprovalRequest.expires_on < today
        )
    ).all()
    if not ids:
        return 0
    session.execute(
        update(ApprovalRequest).where(ApprovalRequest.id.in_(ids)).values(status="expired")
    )
    audit_record(
        session,
        actor=SYSTEM,
        action="approval.expire",
        object_type="approval_request",
        object_id=",".join(str(i) for i in ids)[:128],
        after={"status": "expired", "ids": list(ids)},
        basis={"rule": "approvals.expire_after_days"},
        business_date=today,
    )
    return len(ids)


def inbox(
    session: Session, *, actor: Actor, pack: PolicyPack | None = None
) -> list[ApprovalRequest]:
    """Pending requests ``actor`` may decide: a kind they may approve, not their own,
    a case in their scope, and an amount within one of their limits (one query)."""
    pack = pack or load_pack()
    today = ensure_open(session)
    kinds: list[Any] = []
    for kind, action in APPROVE_ACTION.items():
        roles = granting_roles(actor, action)
        limits = pack.approvals.limits.get(kind, {})
        caps = [limits[r] for r in roles if r in limits]
        if not caps:
            continue
        in_scope = case_scope_filter(actor, action)
        if rule_for(action).scoped:
            scoped: Any = or_(
                ApprovalRequest.case_id.in_(select(CollectionCase.id).where(in_scope)),
                and_(
                    ApprovalRequest.case_id.is_(None),
                    true() if in_scope_all(actor, action) else false(),
                ),
            )
        else:
            scoped = true()
        amount_ok: Any = (
            true()
            if any(c is None for c in caps)
            else ApprovalRequest.amount <= max(c for c in caps if c is not None)
        )
        kinds.append(and_(ApprovalRequest.kind == kind, scoped, amount_ok))
    if not kinds:
        return []
    return list(
        session.scalars(
            select(ApprovalRequest)
            .where(
                ApprovalRequest.status == "pending",
                ApprovalRequest.expires_on >= today,
                ApprovalRequest.requested_by != actor.user_id,
                or_(*kinds),
            )
            .order_by(ApprovalRequest.requested_on, ApprovalRequest.id)
        )
    )


def _caseless(actor: Actor, action: str, case: CollectionCase | None) -> None:
    """Without a case there is nothing to check a scope against: only an actor whose
    role for ``action`` sees everything may act."""
    if case is None and not in_scope_all(actor, action):
        raise PermissionDenied(
            f"{actor.user_id} may not {action} on a loan without an open collection case "
            "(their scope is limited to cases)",
            action=action,
            roles=actor.roles,
        )


def in_scope_all(actor: Actor, action: str) -> bool:
    """A request without a case can be decided only with an unrestricted scope."""
    from daihou.auth.scopes import effective_scope

    return any(effective_scope(actor, r) == "all" for r in granting_roles(actor, action))


def _view(req: ApprovalRequest) -> dict[str, Any]:
    return {
        "id": req.id,
        "kind": req.kind,
        "status": req.status,
        "loan_id": req.loan_id,
        "case_id": req.case_id,
        "amount": req.amount,
        "payload": req.payload,
        "requested_by": req.requested_by,
        "decided_by": req.decided_by,
        "decision_reason": req.decision_reason,
    }
