"""Repayment plans (分期还款): request → approval → signing → completed or broken.

Signing posts a ``restructure`` transaction that the replay turns into the plan's
installments (``daihou.kernel.restructure``): what is overdue moves into 3–6 fixed
installments, days past due then count from those, and the loan is marked restructured
for the pack's observation period (class floor 关注, applied by end of day).
``review_plans`` (after end of day) completes paid-up plans and breaks plans whose
installment is unpaid too long: per policy it either makes every plan amount fall due
at once (``revert``, a ``plan-break`` transaction) or only marks the plan broken for
escalation (``escalate``).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, bindparam, func, select, type_coerce
from sqlalchemy.orm import Session

from daihou.auth.actor import SYSTEM, Actor
from daihou.auth.permissions import authorize
from daihou.collection import approvals
from daihou.collection.approval_models import PlanStatusChange, RepaymentPlan
from daihou.collection.models import CaseStatusChange
from daihou.collection.plan_rules import PlanInvalid, check_plan, equal_amounts
from daihou.compliance.audit.service import record as audit_record
from daihou.eod.calendar import ensure_open
from daihou.kernel.allocation import COMPONENTS
from daihou.kernel.dates import add_months
from daihou.kernel.money import ZERO, from_fen
from daihou.kernel.restructure import PLAN_PERIOD_BASE
from daihou.loans.models import Installment, Loan
from daihou.payments.errors import NotFound, ServicingError
from daihou.payments.models import Transaction
from daihou.payments.recompute import recompute_loan
from daihou.payments.service import lock_loan
from daihou.policy import PolicyPack, load_pack

__all__ = ["PlanInvalid", "approve_plan", "overdue_total", "request_plan", "review_plans"]


def overdue_total(session: Session, loan_id: str, today: date) -> Decimal:
    """Everything owed on installments due on or before ``today`` (what a plan signed
    today replaces), from the recomputed schedule."""
    return fen_total(session, _OVERDUE_TOTAL, {"loan_id": loan_id, "today": today})


def fen_sum(session: Session, pairs: list[tuple[str, str]], *where: Any) -> Decimal:
    """Σ (due − paid) over installment columns, summed exactly on the stored fen."""
    return fen_total(session, select(owed_sum(pairs)).where(*where), {})


def fen_total(session: Session, statement: Any, params: dict[str, Any]) -> Decimal:
    """The amount of a query of ``owed_sum`` (nothing owed: zero)."""
    return from_fen(int(session.scalar(statement, params) or 0))


_OWED: dict[tuple[tuple[str, str], ...], Any] = {}


def owed_sum(pairs: list[tuple[str, str]]) -> Any:
    """sum(Σ due − paid) of the columns, built once per column set (building it cost
    more than running the query)."""
    key = tuple(pairs)
    found = _OWED.get(key)
    if found is None:
        expr: Any = 0
        for due, paid in pairs:
            expr = (
                expr
                + type_coerce(getattr(Installment, due), BigInteger)
                - type_coerce(getattr(Installment, paid), BigInteger)
            )
        found = _OWED[key] = func.sum(expr)
    return found


_OVERDUE_TOTAL = select(owed_sum([(f"{c}_due", f"{c}_paid") for c in COMPONENTS])).where(
    Installment.loan_id == bindparam("loan_id"),
    Installment.due_date <= bindparam("today"),
    Installment.status != "paid",
)


def _status(session: Session, plan: RepaymentPlan, new: str, actor: Actor, reason: str) -> None:
    session.add(
        PlanStatusChange(
            plan_id=plan.id,
            business_date=ensure_open(session),
            old_status=plan.status,
            new_status=new,
            reason=reason,
            actor=actor.user_id,
        )
    )
    plan.status = new


def _plan(session: Session, plan_id: int) -> RepaymentPlan:
    plan = session.get(RepaymentPlan, plan_id)
    if plan is None:
        raise NotFound(f"no repayment plan {plan_id}", field="plan_id")
    return plan


def request_plan(
    *,
    session: Session,
    actor: Actor,
    loan_id: str,
    installments: int,
    monthly_income: Any,
    first_due_on: date | None,
    amounts: list[Any] | None = None,
    reason: str | None = None,
    pack: PolicyPack | None = None,
) -> RepaymentPlan:
    """A senior collector (or supervisor) proposes a plan; it waits for approval."""
    pack = pack or load_pack()
    loan = lock_loan(session, loan_id)
    if loan.status != "active":
        raise ServicingError(f"loan {loan_id} is {loan.status}", field="loan_id")
    case = approvals.open_case(session, loan_id)
    authorize(actor, "plan.request", resource=approvals.case_scope(case))
    busy = session.scalar(
        select(func.count()).where(
            RepaymentPlan.loan_id == loan_id,
            RepaymentPlan.status.in_(("requested", "approved", "active")),
        )
    )
    if busy:
        raise ServicingError(f"loan {loan_id} already has a plan in progress", field="loan_id")
    today = ensure_open(session)
    total = overdue_total(session, loan_id, today)
    income, schedule = check_plan(
        settings=pack.approvals.plans,
        total=total,
        count=installments,
        monthly_income=monthly_income,
        first_due=first_due_on,
        today=today,
        amounts=amounts,
    )
    number = 1 + (
        session.scalar(
            select(func.count()).where(
                RepaymentPlan.loan_id == loan_id, RepaymentPlan.signed_on.is_not(None)
            )
        )
        or 0
    )
    rows = [[d.isoformat(), str(a)] for d, a in schedule]
    req, _ = approvals.request(
        session,
        actor=actor,
        kind="plan",
        loan_id=loan_id,
        case=case,
        amount=total,
        payload={"schedule": rows, "monthly_income": str(income)},
        reason=reason,
        pack=pack,
    )
    plan = RepaymentPlan(
        loan_id=loan_id,
        case_id=case.id if case is not None else None,
        approval_id=req.id,
        number=number,
        status="requested",
        monthly_income=income,
        total=total,
        schedule=rows,
    )
    session.add(plan)
    session.flush()
    req.payload = {**req.payload, "plan_id": plan.id}
    session.add(
        PlanStatusChange(
            plan_id=plan.id,
            business_date=today,
            old_status=None,
            new_status="requested",
            reason=reason,
            actor=actor.user_id,
        )
    )
    session.flush()
    return plan


def approve_plan(
    *,
    session: Session,
    actor: Actor,
    plan_id: int,
    approve: bool = True,
    reason: str,
    pack: PolicyPack | None = None,
) -> RepaymentPlan:
    """Approve or reject (maker–checker, amount limit from the pack)."""
    plan = _plan(session, plan_id)
    lock_loan(session, plan.loan_id)
    req = approvals.load_pending(session, plan.approval_id, kind="plan")
    approvals.decide(session, actor=actor, req=req, approve=approve, reason=reason, pack=pack)
    _status(session, plan, "approved" if approve else "rejected", actor, reason.strip())
    session.flush()
    return plan


def sign_plan(
    *,
    session: Session,
    actor: Actor,
    plan_id: int,
    pack: PolicyPack | None = None,
) -> RepaymentPlan:
    """Record the signed agreement: post the restructure and mark the loan restructured.

    What is overdue today is re-split over the approved dates (penalty may have grown
    since the request) and checked against the income again."""
    pack = pack or load_pack()
    plan = _plan(session, plan_id)
    loan = lock_loan(session, plan.loan_id)
    session.refresh(plan)
    case = approvals.open_case(session, plan.loan_id)
    basis = authorize(actor, "plan.request", resource=approvals.case_scope(case))
    if plan.status != "approved":
        raise ServicingError(f"plan {plan_id} is {plan.status}, not approved", field="plan_id")
    if loan.status != "active":
        raise ServicingError(f"loan {loan.id} is {loan.status}", field="loan_id")
    today = ensure_open(session)
    dates = [date.fromisoformat(d) for d, _ in plan.schedule]
    if dates[0] <= today:
        raise ServicingError(
            f"the plan's first due date {dates[0]} has passed; request a new plan",
            field="plan_id",
        )
    total = overdue_total(session, loan.id, today)
    _, schedule = check_plan(
        settings=pack.approvals.plans,
        total=total,
        count=len(dates),
        monthly_income=plan.monthly_income,
        first_due=dates[0],
        today=today,
        amounts=equal_amounts(total, len(dates)) if total > ZERO else None,
    )
    schedule = list(zip(dates, [a for _, a in schedule], strict=True))
    rows = [[d.isoformat(), str(a)] for d, a in schedule]
    txn = Transaction(
        loan_id=loan.id,
        kind="restructure",
        value_date=today,
        booked_on=today,
        amount=total,
        channel="plan",
        reference=f"plan-{plan.id}",
        detail={"plan": rows, "plan_number": plan.number, "plan_id": plan.id},
    )
    session.add(txn)
    session.flush()
    recompute_loan(session, loan.id, pack=pack)
    before = {"restructured_until": loan.restructured_until, "plan_status": plan.status}
    months = pack.delinquency.restructured_observation_months
    loan.restructured_until = add_months(today, months)
    plan.schedule, plan.total, plan.signed_on = rows, total, today
    plan.restructure_txn_id = txn.id
    _status(session, plan, "active", actor, "agreement signed")
    loan.version += 1
    session.flush()
    audit_record(
        session,
        actor=actor,
        action="plan.sign",
        object_type="repayment_plan",
        object_id=str(plan.id),
        before=before,
        after={
            "loan_id": loan.id,
            "schedule": rows,
            "total": total,
            "restructured_until": loan.restructured_until,
            "transaction_id": txn.id,
        },
        basis={**basis.as_dict(), "approval_id": plan.approval_id},
        business_date=today,
    )
    return plan


def _audit_status(
    session: Session, actor: Actor, plan: RepaymentPlan, before: str, today: date
) -> None:
    audit_record(
        session,
        actor=actor,
        action=f"plan.{plan.status}",
        object_type="repayment_plan",
        object_id=str(plan.id),
        before={"status": before},
        after={"status": plan.status},
        basis={"rule": "plan review after end of day"},
        business_date=today,
    )


def plan_rows(session: Session, plan: RepaymentPlan) -> list[Installment]:
    lo = plan.number * PLAN_PERIOD_BASE
    return list(
        session.scalars(
            select(Installment)
            .where(
                Installment.loan_id == plan.loan_id,
                Installment.period > lo,
                Installment.period < lo + PLAN_PERIOD_BASE,
            )
            .order_by(Installment.period)
        )
    )


def _plans_to_review(session: Session, today: date, grace: timedelta) -> list[int]:
    """The active plans whose review can change something today — loan closed, every
    plan installment paid, or one unpaid past its grace — read without locks in two
    queries; ``review_plans`` locks each and decides again. The others (most plans on
    most days) cost no lock, refresh and read each."""
    plans = session.execute(
        select(RepaymentPlan.id, RepaymentPlan.loan_id, RepaymentPlan.number, Loan.status)
        .join(Loan, Loan.id == RepaymentPlan.loan_id)
        .where(RepaymentPlan.status == "active")
        .order_by(RepaymentPlan.id)
    ).all()
    if not plans:
        return []
    i = Installment
    rows: dict[tuple[str, int], list[tuple[str, date]]] = {}
    loans = sorted({p.loan_id for p in plans})
    for start in range(0, len(loans), 500):
        for loan_id, period, status, due in session.execute(
            select(i.loan_id, i.period, i.status, i.due_date).where(
                i.loan_id.in_(loans[start : start + 500]), i.period > PLAN_PERIOD_BASE
            )
        ):
            if period % PLAN_PERIOD_BASE:  # as plan_rows: strictly inside the plan's range
                rows.setdefault((loan_id, period // PLAN_PERIOD_BASE), []).append((status, due))
    out = []
    for plan_id, loan_id, number, loan_status in plans:
        mine = rows.get((loan_id, number), [])
        if (
            loan_status != "active"
            or all(status == "paid" for status, _ in mine)
            or any(status != "paid" and due + grace <= today for status, due in mine)
        ):
            out.append(plan_id)
    return out


def review_plans(
    *, session: Session, actor: Actor = SYSTEM, pack: PolicyPack | None = None
) -> dict[str, int]:
    """Complete paid-up plans; break plans with an installment unpaid longer than
    ``plans.broken_after_days`` (revert or escalate per ``plans.on_missed``); cancel
    approved plans not signed before their first due date (so they block no new plan)."""
    pack = pack or load_pack()
    settings = pack.approvals.plans
    today = ensure_open(session)
    counts = {"completed": 0, "broken": 0, "lapsed": 0}
    for plan in session.scalars(
        select(RepaymentPlan).where(RepaymentPlan.status == "approved").order_by(RepaymentPlan.id)
    ):
        if date.fromisoformat(plan.schedule[0][0]) <= today:  # never signed in time
            _status(session, plan, "cancelled", actor, "not signed before its first due date")
            _audit_status(session, actor, plan, "approved", today)
            counts["lapsed"] += 1
    grace = timedelta(days=settings.broken_after_days)
    for plan_id in _plans_to_review(session, today, grace):
        plan = _plan(session, plan_id)
        loan = lock_loan(session, plan.loan_id)
        session.refresh(plan)
        if plan.status != "active":
            continue
        rows = plan_rows(session, plan)
        if loan.status in ("closed",) or all(r.status == "paid" for r in rows):
            _status(session, plan, "completed", actor, "every plan installment paid")
            _audit_status(session, actor, plan, "active", today)
            counts["completed"] += 1
            continue
        late = [r for r in rows if r.status != "paid" and r.due_date + grace <= today]
        if not late or loan.status != "active":
            continue
        missed = late[0]
        reason = (
            f"plan installment due {missed.due_date} unpaid {(today - missed.due_date).days} days"
        )
        if settings.on_missed == "revert":
            txn = Transaction(
                loan_id=loan.id,
                kind="plan-break",
                value_date=today,
                booked_on=today,
                amount=ZERO,
                channel="plan",
                reference=f"plan-break-{plan.id}",
                detail={"plan_number": plan.number, "plan_id": plan.id},
            )
            session.add(txn)
            session.flush()
            recompute_loan(session, loan.id, pack=pack)
            plan.break_txn_id = txn.id
            reason += "; every plan amount now due"
        else:
            reason += "; escalated"
        _status(session, plan, "broken", actor, reason)
        if plan.case_id is not None:  # the case history shows it; the strategy escalates
            session.add(
                CaseStatusChange(
                    case_id=plan.case_id,
                    business_date=today,
                    field="plan",
                    old_value="active",
                    new_value=f"broken-{settings.on_missed}",
                    reason=reason,
                    actor=actor.user_id,
                )
            )
        counts["broken"] += 1
        audit_record(
            session,
            actor=actor,
            action="plan.break",
            object_type="repayment_plan",
            object_id=str(plan.id),
            before={"status": "active"},
            after={"status": "broken", "on_missed": settings.on_missed, "reason": reason},
            basis={"rule": "approvals.plans.broken_after_days", "days": settings.broken_after_days},
            business_date=today,
        )
    session.flush()
    return counts
