"""Scheduled housekeeping of the daily collections run: approval expiry and plan review.

``housekeeping(session, pack)`` runs first in ``run_collections`` (before the case sync),
in the run's transaction, and does what ``daihou approvals expire`` and ``daihou plan
review`` do on their own (they stay as commands; both are idempotent):

1. lock the pending approval requests past their expiry date (``FOR UPDATE``, id order);
2. lock the loans of the plans in force (``FOR UPDATE``, id order);
3. expire those requests (``approvals.expire``: their plans are cancelled);
4. review the plans (``plans.review_plans``): complete paid-up plans, lapse approved
   plans never signed, and break plans with a missed installment — revert (every plan
   amount falls due, the loan is recomputed) or escalate, per ``plans.on_missed``.

Why this order: every other unit of work locks in the order approval request → loan →
audit append lock (``approvals.decide`` locks the request, then the loan;
``payments.post_payment`` and ``plans.sign_plan`` lock the loan, then append to the
audit chain). Steps 3 and 4 write audit records, so every row lock is taken before
them, in id order, and the run takes them before any other step appends to the audit
chain (promise settlement does, further on). Running before the case sync also means
a plan broken today reverts the loan's overdue amounts before the cases, stages,
strategy and task lists of the day are worked out from them. On SQLite the run already
holds the database write lock, and the ``FOR UPDATE`` clauses are left out.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from daihou.auth.actor import SYSTEM
from daihou.collection import approvals
from daihou.collection.approval_models import ApprovalRequest, RepaymentPlan
from daihou.collection.plans import review_plans
from daihou.eod.calendar import ensure_open
from daihou.loans.models import Loan
from daihou.policy.schema import PolicyPack


def housekeeping(session: Session, _closed: date, pack: PolicyPack) -> dict[str, Any]:
    """Expire approval requests and review plans (a daily-run step; idempotent)."""
    today = ensure_open(session)  # the open business date, as the commands use
    session.execute(
        select(ApprovalRequest.id)
        .where(ApprovalRequest.status == "pending", ApprovalRequest.expires_on < today)
        .order_by(ApprovalRequest.id)
        .with_for_update()
    ).all()
    in_force = select(RepaymentPlan.loan_id).where(RepaymentPlan.status == "active")
    session.execute(
        select(Loan.id).where(Loan.id.in_(in_force)).order_by(Loan.id).with_for_update()
    ).all()
    expired = approvals.expire(session, today=today)
    reviewed = review_plans(session=session, actor=SYSTEM, pack=pack)
    return {"approvals_expired": expired, **{f"plans_{k}": n for k, n in reviewed.items()}}
