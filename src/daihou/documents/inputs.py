"""What a document says, read from the database into plain JSON-able data.

Every amount is a string with two decimals and every date ISO text, so the inputs can
be stored as canonical JSON and the same PDF rebuilt from them later. The date of a
document is the business date, never the wall clock.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from daihou.compliance.gate.models import ContactAttempt
from daihou.compliance.privacy.masking import mask_id_number, mask_name
from daihou.eod.calendar import business_date
from daihou.kernel.money import split_largest_remainder
from daihou.loans.models import Customer, Installment, Loan
from daihou.notify.models import OutboxMessage
from daihou.notify.settings import LenderSettings
from daihou.payments.models import Transaction
from daihou.policy.loader import load_pack

CENT = Decimal("0.01")
COMPONENTS = ("principal", "interest", "fee", "penalty", "compound")


def amount(value: Decimal) -> str:
    return f"{value.quantize(CENT, rounding=ROUND_HALF_UP):f}"


def _markup(product: str) -> Decimal:
    try:
        return load_pack().product(product).penalty_markup
    except KeyError:
        return Decimal("0.5")


def _installment(row: Installment, as_of: date, markup: Decimal) -> dict[str, Any]:
    left = {c: getattr(row, f"{c}_due") - getattr(row, f"{c}_paid") for c in COMPONENTS}
    rate = Decimal(row.annual_rate)
    penalty_rate = rate * (1 + markup)
    days = max(0, (as_of - row.due_date).days)
    return {
        "period": row.period,
        "due_date": row.due_date.isoformat(),
        "days_overdue": days if any(v > 0 for v in left.values()) else 0,
        "due": {c: amount(getattr(row, f"{c}_due")) for c in COMPONENTS},
        "paid": {c: amount(getattr(row, f"{c}_paid")) for c in COMPONENTS},
        "left": {c: amount(v) for c, v in left.items()},
        "total_left": amount(sum(left.values(), Decimal(0))),
        "annual_rate": f"{rate * 100:.4f}",
        "penalty_rate": f"{penalty_rate * 100:.4f}",
        "daily_penalty_rate": f"{penalty_rate * 100 / 360:.6f}",
        "penalty_base": amount(Decimal(row.penalty_base) / 100),  # yuan·days
        "compound_base": amount(Decimal(row.compound_base) / 100),
        "paid_on": row.paid_on.isoformat() if row.paid_on else None,
    }


def loan_inputs(
    session: Session,
    loan_id: str,
    *,
    lender: LenderSettings,
    as_of: date | None = None,
    history: bool = False,
) -> dict[str, Any]:
    """The loan, its borrower, overdue installments with the penalty detail, totals,
    and (``history``) its transactions and contact record for the evidence bundle."""
    loan = session.get(Loan, loan_id)
    if loan is None:
        raise LookupError(f"no loan {loan_id}")
    customer = session.get(Customer, loan.customer_id)
    assert customer is not None
    # the last closed business date: DPD, penalty and compound interest are as of its end
    day = as_of or business_date(session) - timedelta(days=1)
    markup = _markup(loan.product)
    rows = session.scalars(
        select(Installment).where(Installment.loan_id == loan_id).order_by(Installment.period)
    ).all()
    schedule = [_installment(r, day, markup) for r in rows]
    overdue = [
        s for s in schedule if s["due_date"] < day.isoformat() and Decimal(s["total_left"]) > 0
    ]
    upcoming = [
        s for s in schedule if s["due_date"] >= day.isoformat() and Decimal(s["total_left"]) > 0
    ]
    totals = {
        c: amount(sum((Decimal(s["left"][c]) for s in overdue), Decimal(0))) for c in COMPONENTS
    }
    data: dict[str, Any] = {
        "as_of": day.isoformat(),
        "lender": lender.model_dump(mode="json"),
        "loan": {
            "id": loan.id,
            "product": loan.product,
            "principal": amount(loan.principal),
            "annual_rate": f"{Decimal(loan.annual_rate) * 100:.4f}",
            "current_rate": f"{Decimal(loan.current_rate) * 100:.4f}",
            "term_months": loan.term_months,
            "method": loan.method,
            "disbursed_on": loan.disbursed_on.isoformat(),
            "status": loan.status,
            "closed_on": loan.closed_on.isoformat() if loan.closed_on else None,
            "dpd": loan.dpd,
            "bucket": loan.bucket,
            "outstanding_principal": amount(loan.outstanding_principal),
            "penalty_markup": f"{markup * 100:.0f}",
        },
        "customer": {
            "id": customer.id,
            "name": customer.name,
            "name_masked": mask_name(customer.name),
            "id_number_masked": mask_id_number(customer.id_number),
            "address": customer.address or "",
        },
        "overdue": overdue,
        "overdue_total": totals,
        "overdue_sum": amount(sum((Decimal(v) for v in totals.values()), Decimal(0))),
        "next_due": upcoming[0] if upcoming else None,
        "days_overdue": max((s["days_overdue"] for s in overdue), default=0),
    }
    if history:
        data["schedule"] = schedule
        data["transactions"] = [
            {
                "id": t.id,
                "kind": t.kind,
                "value_date": t.value_date.isoformat(),
                "amount": amount(t.amount),
                "channel": t.channel or "",
                "reference": t.reference or "",
                "status": t.status,
            }
            for t in session.scalars(
                select(Transaction)
                .where(Transaction.loan_id == loan_id)
                .order_by(Transaction.value_date, Transaction.id)
            )
        ]
        data["contacts"] = [
            {
                "at_utc": a.at_utc.isoformat(timespec="seconds"),
                "channel": a.channel,
                "party": a.party,
                "direction": a.direction,
                "outcome": a.outcome,
                "purpose": a.purpose,
            }
            for a in session.scalars(
                select(ContactAttempt)
                .where(ContactAttempt.loan_id == loan_id)
                .order_by(ContactAttempt.at_utc, ContactAttempt.id)
            )
        ]
        data["messages"] = [
            {
                "id": m.id,
                "created_utc": m.created_at.isoformat(timespec="seconds"),
                "channel": m.channel,
                "template": m.template,
                "status": m.status,
                "sent_utc": m.sent_at.isoformat(timespec="seconds") if m.sent_at else "",
            }
            for m in session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.loan_id == loan_id)
                .order_by(OutboxMessage.created_at, OutboxMessage.id)
            )
        ]
    return data


def plan_inputs(total: Decimal, *, months: int, first_due: date) -> list[dict[str, str]]:
    """Equal monthly parts of ``total`` (largest remainder, so they sum to it)."""
    if months < 1 or months > 60:
        raise ValueError("months must be between 1 and 60")
    if total <= 0:
        raise ValueError("nothing is overdue: a repayment plan needs an overdue amount")
    parts = split_largest_remainder(total, [Decimal(1)] * months)
    plan = []
    for i, part in enumerate(parts):
        month = first_due.month - 1 + i
        year, month = first_due.year + month // 12, month % 12 + 1
        day = min(first_due.day, 28)
        plan.append(
            {
                "period": str(i + 1),
                "due_date": date(year, month, day).isoformat(),
                "amount": amount(part),
            }
        )
    return plan
