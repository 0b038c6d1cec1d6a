"""Comparable pictures of a loan's state, for equality checks between histories."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from daihou.ledger.models import JournalEntry, JournalLine
from daihou.loans.models import Installment, Loan
from daihou.payments.models import Allocation, Transaction


def loan_state(session: Session, loan_id: str) -> dict[str, Any]:
    """Everything derived about a loan: schedule with due/paid, loan cache, allocation
    of each active transaction (keyed by channel reference), and the loan's net balance
    per ledger account."""
    loan = session.get(Loan, loan_id, populate_existing=True)
    assert loan is not None
    installments = [
        (
            i.period,
            i.start_date,
            i.due_date,
            i.status,
            i.paid_on,
            i.principal_due,
            i.interest_due,
            i.fee_due,
            i.principal_paid,
            i.interest_paid,
            i.fee_paid,
        )
        for i in session.execute(
            select(Installment).where(Installment.loan_id == loan_id).order_by(Installment.period)
        ).scalars()
    ]
    refs = {
        t.id: t.reference
        for t in session.execute(
            select(Transaction).where(Transaction.loan_id == loan_id)
        ).scalars()
    }
    allocations = sorted(
        (refs[a.transaction_id] or "", a.period or 0, a.component, a.amount)
        for a in session.execute(select(Allocation).where(Allocation.loan_id == loan_id)).scalars()
    )
    balances = {
        account: debit - credit
        for account, debit, credit in session.execute(
            select(JournalLine.account, func.sum(JournalLine.debit), func.sum(JournalLine.credit))
            .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
            .where(JournalEntry.loan_id == loan_id)
            .group_by(JournalLine.account)
        ).all()
        if debit - credit != Decimal(0)
    }
    return {
        "loan": (
            loan.status,
            loan.closed_on,
            loan.outstanding_principal,
            loan.credit_balance,
            loan.current_rate,
        ),
        "installments": installments,
        "allocations": allocations,
        "balances": balances,
    }
