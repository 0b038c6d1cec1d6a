"""Import every domain's models so ``Base.metadata`` knows all tables (Alembic, tests)."""

from __future__ import annotations

from daihou.auth.models import User, UserRole
from daihou.auth.session_models import ApiToken, WebSession
from daihou.collection.models import CaseStatusChange, CollectionCase
from daihou.compliance.audit.models import AuditRecord
from daihou.compliance.complaints.models import Complaint, ComplaintEvent
from daihou.compliance.gate.models import ContactAttempt, ContactDenial, Hold, OptOut
from daihou.compliance.language.models import LanguageCheck, LanguageFlag, MessageTemplate
from daihou.compliance.privacy.models import PrivacyReveal
from daihou.db.base import Base
from daihou.eod.models import (
    Accrual,
    ClassChange,
    ClassOverride,
    DailyKpi,
    EodAccrualWork,
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
    "ApiToken",
    "AuditRecord",
    "Base",
    "CaseStatusChange",
    "ClassChange",
    "ClassOverride",
    "CollectionCase",
    "Complaint",
    "ComplaintEvent",
    "ContactAttempt",
    "ContactDenial",
    "Customer",
    "DailyKpi",
    "EodAccrualWork",
    "EodRun",
    "EodWork",
    "Hold",
    "Installment",
    "JournalEntry",
    "JournalLine",
    "LanguageCheck",
    "LanguageFlag",
    "Loan",
    "LoanEvent",
    "LoanSnapshot",
    "LprRate",
    "MessageTemplate",
    "OptOut",
    "PrivacyReveal",
    "RateChange",
    "SystemState",
    "Transaction",
    "User",
    "UserRole",
    "WebSession",
]
