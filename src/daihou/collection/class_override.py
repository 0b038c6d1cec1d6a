"""Five-tier class overrides (五级分类人工调整) as an approval kind.

A risk analyst or manager asks to raise a loan's class (``classification.override``);
a manager who is not the requester approves it (``classification.approve``) in the
same inbox as plans, waivers and write-offs, and only then is the class raised by
``eod.classify.override_class`` (class history, a ``classified`` event, the audit
chain). The request is checked when made and again when approved, because end of day
may have raised the class in between: an override may only raise the class.

The request's amount is the loan's outstanding principal, so the pack's
``approvals.limits.classification`` can cap what each approving role may decide.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from daihou.auth.actor import Actor
from daihou.auth.permissions import authorize
from daihou.collection import approvals
from daihou.collection.approval_models import ApprovalRequest
from daihou.collection.approvals import ApprovalError
from daihou.eod.classify import override_class
from daihou.kernel.delinquency import CLASSES, rank
from daihou.loans.models import Loan
from daihou.payments.service import lock_loan
from daihou.policy import PolicyPack, load_pack

KIND = "classification"


def _raise_problem(loan: Loan, risk_class: str) -> str | None:
    if rank(risk_class) <= rank(loan.risk_class):
        return f"an override may only raise the class; {loan.id} is already {loan.risk_class}"
    return None


def request_class_override(
    *,
    session: Session,
    actor: Actor,
    loan_id: str,
    risk_class: str,
    reason: str,
    pack: PolicyPack | None = None,
) -> ApprovalRequest:
    """Ask to raise ``loan_id`` to ``risk_class``, with a reason. Nothing changes on the
    loan until a manager approves."""
    pack = pack or load_pack()
    authorize(actor, approvals.REQUEST_ACTION[KIND])  # before saying whether the loan exists
    if risk_class not in CLASSES[1:]:
        raise ApprovalError(
            f"class: {risk_class!r} is not one of {', '.join(CLASSES[1:])}", field="class"
        )
    if not reason or not reason.strip():
        raise ApprovalError("reason: a reason is required", field="reason")
    loan = lock_loan(session, loan_id)  # NotFound (field loan_id) if there is no such loan
    case = approvals.open_case(session, loan_id)
    authorize(actor, approvals.REQUEST_ACTION[KIND], resource=approvals.case_scope(case))
    problem = _raise_problem(loan, risk_class)
    if problem:
        raise ApprovalError(f"class: {problem}", field="class")
    pending = session.scalar(
        select(func.count()).where(
            ApprovalRequest.loan_id == loan_id,
            ApprovalRequest.kind == KIND,
            ApprovalRequest.status == "pending",
        )
    )
    if pending:
        raise ApprovalError(
            f"loan_id: loan {loan_id} already has a pending class override", field="loan_id"
        )
    req, _ = approvals.request(
        session,
        actor=actor,
        kind=KIND,
        loan_id=loan_id,
        case=case,
        amount=loan.outstanding_principal,
        payload={"risk_class": risk_class, "from_class": loan.risk_class, "dpd": loan.dpd},
        reason=reason.strip(),
        pack=pack,
    )
    return req


def decide_class_override(
    *,
    session: Session,
    actor: Actor,
    request_id: int,
    approve: bool = True,
    reason: str,
    pack: PolicyPack | None = None,
) -> ApprovalRequest:
    """Approve (the class is raised now) or reject a class override (maker–checker)."""
    pack = pack or load_pack()
    loan, req = approvals.lock_pending(session, request_id, kind=KIND, label="class override")
    target = str((req.payload or {}).get("risk_class", ""))
    if approve:
        problem = _raise_problem(loan, target)
        if problem:
            raise ApprovalError(f"request_id: {problem} (reject the request)", field="request_id")
    approvals.decide(session, actor=actor, req=req, approve=approve, reason=reason, pack=pack)
    if approve:
        override_class(
            session,
            loan_id=loan.id,
            risk_class=target,
            reason=req.reason or reason,
            requested_by=req.requested_by,
            approved_by=actor.user_id,
        )
    return req
