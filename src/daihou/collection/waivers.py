"""Penalty waivers (减免罚息, POLICY.md §7): request → approval → posting.

Eligible only for a first overdue (no earlier delinquency episode: no earlier case, no
cure, no repayment plan), days past due within the limit, and after the customer made
contact (the case's last right-party contact); at most a share of the 罚息 + 复利
outstanding, rounded down to the fen. On approval a ``waiver`` transaction is posted:
the replay applies it to 罚息/复利 owed and the journal clears the receivable against
``penalty_waived``. It is reversed like any other transaction (``reverse_transaction``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from daihou.auth.actor import Actor
from daihou.auth.permissions import authorize
from daihou.collection import approvals
from daihou.collection.approval_models import ApprovalRequest, RepaymentPlan
from daihou.collection.approvals import ApprovalError
from daihou.collection.models import CollectionCase
from daihou.collection.plans import fen_total, owed_sum
from daihou.compliance.audit.service import record as audit_record
from daihou.eod.calendar import ensure_open
from daihou.eod.models import LoanEvent
from daihou.kernel.money import ZERO, q2, to_money
from daihou.loans.models import Installment, Loan
from daihou.payments.models import Transaction
from daihou.payments.recompute import recompute_loan
from daihou.payments.service import lock_loan
from daihou.policy import PolicyPack, load_pack


@dataclass(frozen=True, slots=True)
class WaiverQuote:
    penalty_outstanding: Decimal  # 罚息 + 复利 owed now
    cap: Decimal  # the most that may be waived


_PENALTY_OWED = select(
    owed_sum([("penalty_due", "penalty_paid"), ("compound_due", "compound_paid")])
).where(Installment.loan_id == bindparam("loan_id"))  # built once


def penalty_outstanding(session: Session, loan_id: str) -> Decimal:
    return fen_total(session, _PENALTY_OWED, {"loan_id": loan_id})


def quote(session: Session, loan_id: str, pack: PolicyPack) -> WaiverQuote:
    owed = penalty_outstanding(session, loan_id)
    return WaiverQuote(owed, q2(owed * pack.approvals.waivers.max_share, ROUND_DOWN))


def eligibility(
    session: Session, loan: Loan, case: CollectionCase | None, pack: PolicyPack
) -> list[tuple[str, str]]:
    """Every rule the loan fails, as (field, reason); empty when eligible."""
    rules = pack.approvals.waivers
    problems: list[tuple[str, str]] = []
    if loan.status != "active":
        problems.append(("loan_id", f"loan {loan.id} is {loan.status}"))
    if case is None:
        problems.append(("loan_id", f"loan {loan.id} has no open collection case"))
    if rules.first_overdue_only:
        earlier_cases = session.scalar(
            select(func.count()).where(
                CollectionCase.loan_id == loan.id,
                CollectionCase.id != (case.id if case is not None else -1),
            )
        )
        cures = session.scalar(
            select(func.count()).where(
                LoanEvent.loan_id == loan.id,
                LoanEvent.kind == "cured",
                LoanEvent.superseded.is_(False),
            )
        )
        plans = session.scalar(
            select(func.count()).where(
                RepaymentPlan.loan_id == loan.id, RepaymentPlan.signed_on.is_not(None)
            )
        )
        if earlier_cases or cures or plans:
            problems.append(
                ("loan_id", "not a first overdue: the loan was delinquent before (waiver rule)")
            )
    if loan.dpd > rules.max_dpd:
        problems.append(("dpd", f"{loan.dpd} days past due exceeds {rules.max_dpd}"))
    if rules.require_contact and case is not None and case.last_rpc_on is None:
        problems.append(("case", "the customer has not been reached (no right-party contact)"))
    return problems


def request_waiver(
    *,
    session: Session,
    actor: Actor,
    loan_id: str,
    amount: Any,
    reason: str | None = None,
    pack: PolicyPack | None = None,
) -> ApprovalRequest:
    pack = pack or load_pack()
    loan = lock_loan(session, loan_id)
    case = approvals.open_case(session, loan_id)
    authorize(actor, "waiver.request", resource=approvals.case_scope(case))
    money = to_money(amount, field="amount")
    problems = eligibility(session, loan, case, pack)
    q = quote(session, loan_id, pack)
    if money <= ZERO:
        problems.append(("amount", "must be greater than 0"))
    elif money > q.cap:
        problems.append(
            (
                "amount",
                f"{money} exceeds {pack.approvals.waivers.max_share:%} of the 罚息/复利 "
                f"outstanding {q.penalty_outstanding} (at most {q.cap})",
            )
        )
    if problems:
        raise ApprovalError("; ".join(f"{f}: {m}" for f, m in problems), field=None)
    req, _ = approvals.request(
        session,
        actor=actor,
        kind="waiver",
        loan_id=loan_id,
        case=case,
        amount=money,
        payload={
            "penalty_outstanding": str(q.penalty_outstanding),
            "cap": str(q.cap),
            "dpd": loan.dpd,
            "last_rpc_on": case.last_rpc_on.isoformat() if case and case.last_rpc_on else None,
        },
        reason=reason,
        pack=pack,
    )
    return req


def decide_waiver(
    *,
    session: Session,
    actor: Actor,
    request_id: int,
    approve: bool = True,
    reason: str,
    pack: PolicyPack | None = None,
) -> ApprovalRequest:
    """Approve (and post) or reject a waiver request."""
    pack = pack or load_pack()
    _, req = approvals.lock_pending(session, request_id, kind="waiver", label="waiver")
    if approve:
        q = quote(session, req.loan_id, pack)
        if req.amount > q.cap:
            raise ApprovalError(
                f"{req.amount} now exceeds the cap {q.cap} "
                f"(罚息/复利 outstanding {q.penalty_outstanding})",
                field="amount",
            )
    decided = approvals.decide(
        session, actor=actor, req=req, approve=approve, reason=reason, pack=pack
    )
    if not approve:
        return req
    today = ensure_open(session)
    txn = Transaction(
        loan_id=req.loan_id,
        kind="waiver",
        value_date=today,
        booked_on=today,
        amount=req.amount,
        channel="waiver",
        reference=f"waiver-{req.id}",
        detail={"approval_id": req.id},
    )
    session.add(txn)
    session.flush()
    recompute_loan(session, req.loan_id, pack=pack)
    req.transaction_id = txn.id
    session.flush()
    audit_record(
        session,
        actor=actor,
        action="waiver.post",
        object_type="transaction",
        object_id=str(txn.id),
        after={"loan_id": req.loan_id, "amount": req.amount, "approval_id": req.id},
        basis={**decided, "requested_by": req.requested_by},
        business_date=today,
    )
    return req
