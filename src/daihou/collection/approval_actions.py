"""One door to the approvals of every kind, for the inbox (web and API).

``get_request`` shows a request to whoever may see it: its requester, or someone who
may decide its kind on its case. ``decide_request`` approves or rejects a request of
any kind through that kind's own service (``plans.approve_plan``,
``waivers.decide_waiver``, ``writeoff.decide_writeoff``, ``proposals.decide_proposal``
for a placement or litigation referral, ``class_override.decide_class_override``), so
the effects, the maker–checker rule and the pack's amount limits are exactly those of
the CLI.
``may_decide`` answers whether a person could decide it, and why not, for showing
or hiding the decision form.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from daihou.auth.actor import Actor
from daihou.auth.permissions import (
    PermissionDenied,
    authorize,
    authorize_approval,
    granting_roles,
)
from daihou.collection import approvals
from daihou.collection.approval_models import ApprovalRequest
from daihou.collection.models import CollectionCase
from daihou.payments.errors import NotFound
from daihou.policy import PolicyPack, load_pack

KINDS = tuple(approvals.APPROVE_ACTION)
DECIDERS = ("waiver", "writeoff", "classification")  # kinds decided by the request id


@dataclass(frozen=True, slots=True)
class Decidable:
    allowed: bool
    reason: str | None = None  # why not (maker–checker, limit, scope), for the page


def _case(session: Session, req: ApprovalRequest) -> CollectionCase | None:
    return session.get(CollectionCase, req.case_id) if req.case_id is not None else None


def inbox(
    session: Session, *, actor: Actor, kind: str | None = None, pack: PolicyPack | None = None
) -> list[ApprovalRequest]:
    """``approvals.inbox`` (optionally one kind); refused to someone who may approve
    no kind at all, rather than shown an inbox that is always empty."""
    if not any(granting_roles(actor, action) for action in approvals.APPROVE_ACTION.values()):
        raise PermissionDenied(
            f"{actor.user_id} ({', '.join(sorted(actor.roles))}) may approve no kind of "
            f"request; approvers: {', '.join(approvals.APPROVE_ACTION.values())}",
            action="approval.inbox",
            roles=actor.roles,
        )
    if kind is not None and kind not in KINDS:
        raise approvals.ApprovalError(f"kind: {kind!r} is not one of {list(KINDS)}", field="kind")
    rows = approvals.inbox(session, actor=actor, pack=pack)
    return [r for r in rows if kind is None or r.kind == kind]


def get_request(session: Session, *, actor: Actor, request_id: int) -> ApprovalRequest:
    """The request if ``actor`` made it or may decide its kind on its case."""
    req = session.get(ApprovalRequest, request_id)
    if req is None:
        raise NotFound(f"no approval request {request_id}", field="request_id")
    if req.requested_by == actor.user_id:
        return req
    case = _case(session, req)
    authorize(actor, approvals.APPROVE_ACTION[req.kind], resource=approvals.case_scope(case))
    approvals._caseless(actor, approvals.APPROVE_ACTION[req.kind], case)
    return req


def may_decide(
    session: Session, *, actor: Actor, req: ApprovalRequest, pack: PolicyPack | None = None
) -> Decidable:
    """Whether ``actor`` could approve ``req`` now, and if not, why (no change made)."""
    if req.status != "pending":
        return Decidable(False, f"request {req.id} is {req.status}")
    case = _case(session, req)
    try:
        authorize_approval(
            actor,
            approvals.APPROVE_ACTION[req.kind],
            maker_user_id=req.requested_by,
            resource=approvals.case_scope(case),
        )
        approvals._caseless(actor, approvals.APPROVE_ACTION[req.kind], case)
        approvals.limit_for(actor, req.kind, req.amount, pack or load_pack())
    except PermissionDenied as refused:
        return Decidable(False, str(refused))
    return Decidable(True)


def decide_request(
    session: Session,
    *,
    actor: Actor,
    request_id: int,
    approve: bool,
    reason: str,
    pack: PolicyPack | None = None,
) -> ApprovalRequest:
    """Approve or reject request ``request_id`` with ``reason`` (its kind's service
    applies the effect: a plan approved, a waiver posted, a loan written off, a case
    placed or referred, a class raised)."""
    from daihou.collection import class_override, plans, proposals, waivers, writeoff

    req = session.get(ApprovalRequest, request_id)
    if req is None:
        raise NotFound(f"no approval request {request_id}", field="request_id")
    if req.kind == "plan":
        plan_id = (req.payload or {}).get("plan_id")
        if plan_id is None:
            raise NotFound(f"request {request_id} has no repayment plan", field="request_id")
        plans.approve_plan(
            session=session,
            actor=actor,
            plan_id=int(plan_id),
            approve=approve,
            reason=reason,
            pack=pack,
        )
    elif req.kind in DECIDERS:
        # these decide by the request itself, with the same arguments
        decide = {
            "waiver": waivers.decide_waiver,
            "writeoff": writeoff.decide_writeoff,
            "classification": class_override.decide_class_override,
        }[req.kind]
        decide(
            session=session,
            actor=actor,
            request_id=request_id,
            approve=approve,
            reason=reason,
            pack=pack,
        )
    elif req.kind in proposals.KINDS:
        proposals.decide_proposal(
            session, actor=actor, request_id=request_id, approve=approve, reason=reason, pack=pack
        )
    else:  # a kind this version cannot decide (added by a later version)
        raise approvals.ApprovalError(f"unknown kind {req.kind!r}", field="kind")
    session.refresh(req)
    return req
