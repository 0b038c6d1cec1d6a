"""Prepayment quotes: what paying off (or prepaying) on a date would take, shown in full."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from daihou.kernel.money import ZERO
from daihou.kernel.replay import Event, replay
from daihou.loans.models import Loan
from daihou.payments.errors import NotFound, ServicingError
from daihou.payments.recompute import active_transactions, to_event
from daihou.payments.terms import loan_terms, lpr_history
from daihou.policy import PolicyPack, load_pack

_PROBE_ID = -1
_PROBE_AMOUNT = Decimal("1000000000000.00")


@dataclass(frozen=True, slots=True)
class PayoffQuote:
    loan_id: str
    on: date
    total: Decimal
    by_component: dict[str, Decimal]
    explanation: str


def payoff_quote(
    session: Session, loan_id: str, *, on: date, pack: PolicyPack | None = None
) -> PayoffQuote:
    """Replay the loan with a full prepayment on ``on`` large enough to settle it and
    read back what it took: arrears, accrued interest, principal and penalty."""
    loan = session.get(Loan, loan_id)
    if loan is None:
        raise NotFound(f"loan {loan_id!r} not found", field="loan_id")
    if on < loan.disbursed_on:
        raise ServicingError(f"{on} is before the disbursement date", field="on")
    product = (pack or load_pack()).product(loan.product)
    events = [to_event(t) for t in active_transactions(session, loan_id)]
    probe = Event(
        txn_id=_PROBE_ID, kind="prepayment", value_date=on, amount=_PROBE_AMOUNT, full=True
    )
    later = max((e.value_date for e in events), default=on)
    result = replay(
        loan_terms(loan, product),
        [*events, probe],
        as_of=max(on, later),
        lpr_history=lpr_history(session),
    )
    parts: dict[str, Decimal] = {}
    for part in result.allocations[_PROBE_ID]:
        if part.component != "credit":
            parts[part.component] = parts.get(part.component, ZERO) + part.amount
    return PayoffQuote(
        loan_id=loan_id,
        on=on,
        total=sum(parts.values(), ZERO),
        by_component=parts,
        explanation=result.notes.get(_PROBE_ID, ""),
    )
