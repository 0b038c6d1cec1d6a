"""Write-off (核销): proposal by a supervisor, approval by a manager, ledger posting,
and recoveries afterwards (核销后收回).

Approval takes the loan off the books to the fen of its journal: outstanding principal
is charged to the loan-loss allowance (贷款损失准备) and the 罚息/复利/fee receivables
are reversed against their income. Contractual interest owed was never booked (cash
basis), so it, with the rest, stays a claim off the books (账销案存) recorded on the
``writeoffs`` row. The loan becomes ``written-off``: end of day accrues nothing more,
and a payment on it is posted as a ``recovery`` to recovery income.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, case, func, select, type_coerce
from sqlalchemy.orm import Session

from daihou.auth.actor import Actor
from daihou.auth.permissions import authorize
from daihou.collection import approvals
from daihou.collection.approval_models import ApprovalRequest, WriteOff
from daihou.collection.approvals import ApprovalError
from daihou.collection.plans import fen_sum
from daihou.compliance.audit.service import record as audit_record
from daihou.eod.calendar import ensure_open
from daihou.kernel.money import ZERO
from daihou.ledger import accounts
from daihou.ledger.service import post_entry
from daihou.loans.models import Installment, Loan, status_is
from daihou.payments.journal import WRITTEN_OFF
from daihou.payments.models import Transaction
from daihou.payments.recompute import recompute_loan
from daihou.payments.service import lock_loan
from daihou.policy import PolicyPack, load_pack

# on-book account → the account charged when it is written off
_CHARGED = (
    (accounts.LOAN_PRINCIPAL, accounts.LOAN_LOSS_ALLOWANCE, "principal"),
    (accounts.FEE_RECEIVABLE, accounts.FEE_INCOME, "fee"),
    (accounts.PENALTY_RECEIVABLE, accounts.PENALTY_INCOME, "penalty"),
    (accounts.COMPOUND_RECEIVABLE, accounts.COMPOUND_INCOME, "compound"),
)


def amounts(session: Session, loan_id: str) -> dict[str, Decimal]:
    """What a write-off today takes off, per component, from the loan's schedule:
    outstanding principal (all of it), and what is owed of interest, fee, 罚息, 复利.
    The principal, fee and 罚息/复利 receivables are on the books (the accrual entries of
    end of day are per date, so the schedule, not the loan's entries, says how much is
    this loan's); overdue interest is not (cash basis)."""
    where = (Installment.loan_id == loan_id,)
    owed_now = (*where, status_is(Installment.status, "due"))
    return {
        "principal": fen_sum(session, [("principal_due", "principal_paid")], *where),
        "interest": fen_sum(session, [("interest_due", "interest_paid")], *owed_now),
        "fee": fen_sum(session, [("fee_due", "fee_paid")], *where),
        "penalty": fen_sum(session, [("penalty_due", "penalty_paid")], *where),
        "compound": fen_sum(session, [("compound_due", "compound_paid")], *where),
    }


def eligibility(loan: Loan, pack: PolicyPack) -> list[tuple[str, str]]:
    rules = pack.approvals.writeoff
    problems: list[tuple[str, str]] = []
    if loan.status != "active":
        problems.append(("loan_id", f"loan {loan.id} is {loan.status}"))
    by_class = loan.risk_class in rules.eligible_classes
    by_dpd = rules.min_dpd is not None and loan.dpd >= rules.min_dpd
    if not (by_class or by_dpd):
        rule = f"class in {rules.eligible_classes}"
        if rules.min_dpd is not None:
            rule += f" or at least {rules.min_dpd} days past due"
        problems.append(
            ("loan_id", f"loan {loan.id} is {loan.risk_class} at {loan.dpd} DPD; needs {rule}")
        )
    return problems


def propose_writeoff(
    *,
    session: Session,
    actor: Actor,
    loan_id: str,
    reason: str,
    pack: PolicyPack | None = None,
) -> ApprovalRequest:
    pack = pack or load_pack()
    if not reason or not reason.strip():
        raise ApprovalError("a reason is required", field="reason")
    loan = lock_loan(session, loan_id)
    case = approvals.open_case(session, loan_id)
    authorize(actor, "writeoff.propose", resource=approvals.case_scope(case))
    problems = eligibility(loan, pack)
    pending = session.scalar(
        select(func.count()).where(
            ApprovalRequest.loan_id == loan_id,
            ApprovalRequest.kind == "writeoff",
            ApprovalRequest.status == "pending",
        )
    )
    if pending:
        problems.append(("loan_id", f"loan {loan_id} already has a pending write-off"))
    if problems:
        raise ApprovalError("; ".join(f"{f}: {m}" for f, m in problems))
    parts = amounts(session, loan_id)
    total = sum(parts.values(), ZERO)
    req, _ = approvals.request(
        session,
        actor=actor,
        kind="writeoff",
        loan_id=loan_id,
        case=case,
        amount=total,
        payload={k: str(v) for k, v in parts.items()}
        | {"risk_class": loan.risk_class, "dpd": loan.dpd},
        reason=reason.strip(),
        pack=pack,
    )
    return req


def decide_writeoff(
    *,
    session: Session,
    actor: Actor,
    request_id: int,
    approve: bool = True,
    reason: str,
    pack: PolicyPack | None = None,
) -> ApprovalRequest:
    """Approve (and post) or reject a write-off proposal (maker–checker)."""
    pack = pack or load_pack()
    loan, req = approvals.lock_pending(session, request_id, kind="writeoff", label="write-off")
    if approve:
        problems = eligibility(loan, pack)
        if problems:
            raise ApprovalError("; ".join(f"{f}: {m}" for f, m in problems))
    decided = approvals.decide(
        session, actor=actor, req=req, approve=approve, reason=reason, pack=pack
    )
    if not approve:
        return req
    today = ensure_open(session)
    parts = amounts(session, loan.id)
    lines: list[tuple[str, Decimal, Decimal]] = []
    for account, charged, name in _CHARGED:
        value = parts[name]
        if value > ZERO:
            lines += [(charged, value, ZERO), (account, ZERO, value)]
        elif value < ZERO:
            lines += [(account, -value, ZERO), (charged, ZERO, -value)]
    if not lines:
        raise ApprovalError(f"loan {loan.id} has nothing on the books to write off")
    entry = post_entry(
        session,
        kind="writeoff",
        entry_date=today,
        booked_on=today,
        lines=lines,
        loan_id=loan.id,
        memo=f"核销 write-off approved by {actor.user_id} (request {req.id})",
    )
    session.add(
        WriteOff(
            loan_id=loan.id,
            approval_id=req.id,
            written_off_on=today,
            principal=parts["principal"],
            interest=parts["interest"],
            fee=parts["fee"],
            penalty=parts["penalty"],
            compound=parts["compound"],
            journal_entry_id=entry.id,
            approved_by=actor.user_id,
        )
    )
    before = {"status": loan.status, "risk_class": loan.risk_class}
    loan.status = WRITTEN_OFF
    loan.written_off_on = today
    loan.version += 1
    session.flush()
    recompute_loan(session, loan.id, pack=pack)
    audit_record(
        session,
        actor=actor,
        action="writeoff.post",
        object_type="loan",
        object_id=loan.id,
        before=before,
        after={"status": WRITTEN_OFF, "journal_entry_id": entry.id, **parts},
        basis={**decided, "requested_by": req.requested_by},
        business_date=today,
    )
    return req


@dataclass(frozen=True, slots=True)
class RecoveryLine:
    loan_id: str
    written_off_on: date
    written_off: Decimal  # principal + interest + fee + 罚息 + 复利 taken off
    recovered: Decimal  # recoveries posted and not reversed, in the period
    recovered_total: Decimal  # since the write-off
    payments: int


def recoveries(
    session: Session, *, since: date | None = None, until: date | None = None
) -> list[RecoveryLine]:
    """Recoveries after write-off (核销后收回) per written-off loan, one query."""
    live = (Transaction.kind == "recovery") & (Transaction.status == "posted")
    in_period: Any = live
    if since is not None:
        in_period = in_period & (Transaction.value_date >= since)
    if until is not None:
        in_period = in_period & (Transaction.value_date <= until)
    zero = Decimal("0.00")
    fen = type_coerce(Transaction.amount, BigInteger)
    period_sum = func.sum(case((in_period, fen), else_=0))
    total_sum = func.sum(case((live, fen), else_=0))
    count = func.sum(case((in_period, 1), else_=0))
    rows = session.execute(
        select(WriteOff, period_sum, total_sum, count)
        .outerjoin(Transaction, Transaction.loan_id == WriteOff.loan_id)
        .group_by(WriteOff.id)
        .order_by(WriteOff.written_off_on, WriteOff.loan_id)
    ).all()
    out = []
    for w, period, total, n in rows:
        taken = w.principal + w.interest + w.fee + w.penalty + w.compound
        out.append(
            RecoveryLine(
                loan_id=w.loan_id,
                written_off_on=w.written_off_on,
                written_off=taken,
                recovered=_money(period) if period is not None else zero,
                recovered_total=_money(total) if total is not None else zero,
                payments=int(n or 0),
            )
        )
    return out


def _money(value: Any) -> Decimal:
    # sums of the raw integer fen (SQLite int, PostgreSQL numeric)
    return (Decimal(int(value)) / 100).quantize(Decimal("0.01"))
