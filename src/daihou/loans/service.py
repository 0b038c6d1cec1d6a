"""Read-side use cases of the loan book: one loan with its schedule and transactions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from daihou.eod.calendar import business_date
from daihou.kernel.allocation import COMPONENTS
from daihou.kernel.money import ZERO
from daihou.loans.models import Installment, Loan, RateChange
from daihou.payments.errors import NotFound
from daihou.payments.models import Allocation, Transaction


@dataclass(frozen=True, slots=True)
class InstallmentView:
    period: int
    due_date: date
    status: str
    due: dict[str, Decimal]
    paid: dict[str, Decimal]
    paid_on: date | None

    @property
    def total_due(self) -> Decimal:
        return sum(self.due.values(), ZERO)

    @property
    def total_paid(self) -> Decimal:
        return sum(self.paid.values(), ZERO)


@dataclass(frozen=True, slots=True)
class TransactionView:
    id: int
    kind: str
    value_date: date
    booked_on: date
    amount: Decimal
    channel: str | None
    reference: str | None
    status: str
    reverses_id: int | None
    allocation: dict[str, Decimal]


@dataclass(frozen=True, slots=True)
class LoanView:
    loan_id: str
    customer_id: str
    product: str
    method: str
    principal: Decimal
    annual_rate: Decimal
    current_rate: Decimal
    term_months: int
    disbursed_on: date
    status: str
    closed_on: date | None
    business_date: date
    outstanding_principal: Decimal
    credit_balance: Decimal
    overdue: dict[str, Decimal]
    dpd: int  # 逾期天数, as of the last closed business date
    bucket: str
    risk_class: str  # 五级分类
    penalty_accrued: Decimal  # 罚息 accrued to date (paid or not)
    compound_accrued: Decimal  # 复利 accrued to date
    installments: list[InstallmentView]
    transactions: list[TransactionView]
    rate_changes: list[tuple[date, Decimal, Decimal, str]]


def loan_view(session: Session, loan_id: str) -> LoanView:
    loan = session.get(Loan, loan_id)
    if loan is None:
        raise NotFound(f"loan {loan_id!r} not found", field="loan_id")
    today = business_date(session)
    rows = session.execute(
        select(Installment).where(Installment.loan_id == loan_id).order_by(Installment.period)
    ).scalars()
    installments = [
        InstallmentView(
            period=i.period,
            due_date=i.due_date,
            status=i.status,
            due={c: getattr(i, f"{c}_due") for c in COMPONENTS},
            paid={c: getattr(i, f"{c}_paid") for c in COMPONENTS},
            paid_on=i.paid_on,
        )
        for i in rows
    ]
    overdue = dict.fromkeys(COMPONENTS, ZERO)
    for inst in installments:
        if inst.due_date < today and inst.status != "paid":
            for c in COMPONENTS:
                overdue[c] += inst.due[c] - inst.paid[c]
    allocs: dict[int, dict[str, Decimal]] = {}
    for a in session.execute(select(Allocation).where(Allocation.loan_id == loan_id)).scalars():
        per = allocs.setdefault(a.transaction_id, {})
        per[a.component] = per.get(a.component, ZERO) + a.amount
    txns = [
        TransactionView(
            id=t.id,
            kind=t.kind,
            value_date=t.value_date,
            booked_on=t.booked_on,
            amount=t.amount,
            channel=t.channel,
            reference=t.reference,
            status=t.status,
            reverses_id=t.reverses_id,
            allocation=allocs.get(t.id, {}),
        )
        for t in session.execute(
            select(Transaction).where(Transaction.loan_id == loan_id).order_by(Transaction.id)
        ).scalars()
    ]
    changes = [
        (r.effective_on, r.old_rate, r.new_rate, r.reason)
        for r in session.execute(
            select(RateChange)
            .where(RateChange.loan_id == loan_id)
            .order_by(RateChange.effective_on)
        ).scalars()
    ]
    return LoanView(
        loan_id=loan.id,
        customer_id=loan.customer_id,
        product=loan.product,
        method=loan.method,
        principal=loan.principal,
        annual_rate=loan.annual_rate,
        current_rate=loan.current_rate,
        term_months=loan.term_months,
        disbursed_on=loan.disbursed_on,
        status=loan.status,
        closed_on=loan.closed_on,
        business_date=today,
        outstanding_principal=loan.outstanding_principal,
        credit_balance=loan.credit_balance,
        overdue=overdue,
        dpd=loan.dpd,
        bucket=loan.bucket,
        risk_class=loan.risk_class,
        penalty_accrued=sum((i.due["penalty"] for i in installments), ZERO),
        compound_accrued=sum((i.due["compound"] for i in installments), ZERO),
        installments=installments,
        transactions=txns,
        rate_changes=changes,
    )
