"""Read-side use cases of the loan book: one loan with its schedule and transactions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import bindparam, select
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


# The loan page's and case page's statements, built once: columns, not ORM objects
# (nothing here is changed, so identity-mapped instances would only cost Python).
_DUE = [getattr(Installment, f"{c}_due") for c in COMPONENTS]
_PAID = [getattr(Installment, f"{c}_paid") for c in COMPONENTS]
_SCHEDULE = (
    select(Installment.period, Installment.due_date, Installment.status, Installment.paid_on)
    .add_columns(*_DUE, *_PAID)
    .where(Installment.loan_id == bindparam("loan_id"))
    .order_by(Installment.period)
)
_ALLOCATIONS = select(Allocation.transaction_id, Allocation.component, Allocation.amount).where(
    Allocation.loan_id == bindparam("loan_id")
)
_TRANSACTIONS = (
    select(
        Transaction.id,
        Transaction.kind,
        Transaction.value_date,
        Transaction.booked_on,
        Transaction.amount,
        Transaction.channel,
        Transaction.reference,
        Transaction.status,
        Transaction.reverses_id,
    )
    .where(Transaction.loan_id == bindparam("loan_id"))
    .order_by(Transaction.id)
)
_RATE_CHANGES = (
    select(RateChange.effective_on, RateChange.old_rate, RateChange.new_rate, RateChange.reason)
    .where(RateChange.loan_id == bindparam("loan_id"))
    .order_by(RateChange.effective_on)
)


def loan_view(session: Session, loan_id: str) -> LoanView:
    loan = session.get(Loan, loan_id)
    if loan is None:
        raise NotFound(f"loan {loan_id!r} not found", field="loan_id")
    today = business_date(session)
    key = {"loan_id": loan_id}
    n = len(COMPONENTS)
    installments = [
        InstallmentView(
            period=r[0],
            due_date=r[1],
            status=r[2],
            due=dict(zip(COMPONENTS, r[4 : 4 + n], strict=True)),
            paid=dict(zip(COMPONENTS, r[4 + n : 4 + 2 * n], strict=True)),
            paid_on=r[3],
        )
        for r in session.execute(_SCHEDULE, key)
    ]
    overdue = dict.fromkeys(COMPONENTS, ZERO)
    for inst in installments:
        if inst.due_date < today and inst.status != "paid":
            for c in COMPONENTS:
                overdue[c] += inst.due[c] - inst.paid[c]
    allocs: dict[int, dict[str, Decimal]] = {}
    for transaction_id, component, amount in session.execute(_ALLOCATIONS, key):
        per = allocs.setdefault(transaction_id, {})
        per[component] = per.get(component, ZERO) + amount
    txns = [
        TransactionView(**t._asdict(), allocation=allocs.get(t.id, {}))
        for t in session.execute(_TRANSACTIONS, key)
    ]
    changes = [tuple(r) for r in session.execute(_RATE_CHANGES, key)]
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
