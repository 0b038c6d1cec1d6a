"""Manual five-tier classification (五级分类) overrides: only upward, with a reason and
an approver who is not the requester; never below the rules' floor."""

from __future__ import annotations

from sqlalchemy.orm import Session

from daihou.auth.actor import SYSTEM
from daihou.compliance.audit.service import record as audit_record
from daihou.eod.calendar import business_date
from daihou.eod.models import ClassChange, ClassOverride, LoanEvent
from daihou.kernel.delinquency import CLASSES, rank
from daihou.loans.models import Loan
from daihou.payments.errors import NotFound, ServicingError


def override_class(
    session: Session,
    *,
    loan_id: str,
    risk_class: str,
    reason: str,
    requested_by: str,
    approved_by: str,
) -> ClassChange:
    if risk_class not in CLASSES[1:]:
        raise ServicingError(
            f"{risk_class!r} is not one of {', '.join(CLASSES[1:])}", field="class"
        )
    if not reason.strip():
        raise ServicingError("a reason is required", field="reason")
    if not approved_by.strip() or approved_by == requested_by:
        raise ServicingError("an approver other than the requester is required", field="approver")
    loan = session.get(Loan, loan_id)
    if loan is None:
        raise NotFound(f"loan {loan_id!r} not found", field="loan_id")
    if rank(risk_class) <= rank(loan.risk_class):
        raise ServicingError(
            f"an override may only raise the class; {loan_id} is already {loan.risk_class}",
            field="class",
        )
    today = business_date(session)
    session.add(
        ClassOverride(
            loan_id=loan_id,
            risk_class=risk_class,
            effective_on=today,
            reason=reason,
            requested_by=requested_by,
            approved_by=approved_by,
        )
    )
    change = ClassChange(
        loan_id=loan_id,
        business_date=today,
        old_class=loan.risk_class,
        new_class=risk_class,
        source="override",
        reason=f"{reason} (approved by {approved_by})",
    )
    session.add(change)
    session.add(
        LoanEvent(
            business_date=today,
            loan_id=loan_id,
            kind="classified",
            from_value=loan.risk_class,
            to_value=risk_class,
        )
    )
    audit_record(
        session,
        actor=SYSTEM,
        action="classification.override",
        object_type="loan",
        object_id=loan_id,
        before={"risk_class": change.old_class},
        after={"risk_class": risk_class, "reason": reason},
        basis={"requested_by": requested_by, "approved_by": approved_by, "rule": "maker-checker"},
        business_date=today,
    )
    loan.risk_class = risk_class
    session.flush()
    return change
