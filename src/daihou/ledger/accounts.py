"""Chart of accounts used by the journal.

Contractual interest is recognised when paid (cash basis) until end of day recognises
it when due; penalty, compound interest and fees are receivables charged first, so a
payment of them credits the receivable.
"""

from __future__ import annotations

LOAN_PRINCIPAL = "loan_principal"  # asset: 贷款本金
INTEREST_INCOME = "interest_income"  # income: 利息收入
FEE_RECEIVABLE = "fee_receivable"
FEE_INCOME = "fee_income"
PENALTY_RECEIVABLE = "penalty_receivable"  # 应收罚息
PENALTY_INCOME = "penalty_income"
COMPOUND_RECEIVABLE = "compound_receivable"  # 应收复利
COMPOUND_INCOME = "compound_income"
CUSTOMER_CREDIT = "customer_credit"  # liability: 溢缴款
FUNDING = "funding"  # asset: the lender's cash paid out on disbursement
# collections (分期还款 / 减免罚息 / 核销)
PENALTY_WAIVED = "penalty_waived"  # contra-income: 减免罚息/复利 given up
LOAN_LOSS_ALLOWANCE = "loan_loss_allowance"  # 贷款损失准备, charged by a write-off (核销)
RECOVERY_INCOME = "writeoff_recovery_income"  # 核销后收回: cash on a written-off loan
CLEARING_PREFIX = "clearing:"  # asset: money received per channel, e.g. clearing:counter

# Account credited when a payment is allocated to each component.
COMPONENT_ACCOUNT: dict[str, str] = {
    "principal": LOAN_PRINCIPAL,
    "interest": INTEREST_INCOME,
    "fee": FEE_RECEIVABLE,
    "penalty": PENALTY_RECEIVABLE,
    "compound": COMPOUND_RECEIVABLE,
    "credit": CUSTOMER_CREDIT,
}

CHANNELS = ("bank-debit", "online", "counter", "transfer")


def clearing(channel: str) -> str:
    return CLEARING_PREFIX + channel
