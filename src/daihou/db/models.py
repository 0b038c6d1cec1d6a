"""Import every domain's models so ``Base.metadata`` knows all tables (Alembic, tests)."""

from __future__ import annotations

from daihou.db.base import Base
from daihou.eod.models import (
    Accrual,
    ClassChange,
    ClassOverride,
    DailyKpi,
    EodRun,
    EodWork,
    LoanEvent,
    LoanSnapshot,
    SystemState,
)
from daihou.ledger.models import JournalEntry, JournalLine
from daihou.loans.models import Customer, Installment, Loan, LprRate, RateChange
from daihou.payments.models import Allocation, Transaction

__all__ = [
    "Accrual",
    "Allocation",
    "ClassChange",
    "ClassOverride",
    "DailyKpi",
    "EodRun",
    "EodWork",
    "LoanEvent",
    "LoanSnapshot",
    "Base",
    "Customer",
    "Installment",
    "JournalEntry",
    "JournalLine",
    "Loan",
    "LprRate",
    "RateChange",
    "SystemState",
    "Transaction",
]
