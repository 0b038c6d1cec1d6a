"""Import every domain's models so ``Base.metadata`` knows all tables (Alembic, tests)."""

from __future__ import annotations

from daihou.auth.models import User, UserRole
from daihou.auth.session_models import ApiToken, WebSession
from daihou.collection.agencies.models import Agency, AgencyNote, Placement, PlacementBatch
from daihou.collection.approval_models import (
    ApprovalRequest,
    PlanStatusChange,
    RepaymentPlan,
    WriteOff,
)
from daihou.collection.contact_models import (
    ContactLog,
    ContactPoint,
    FieldVisit,
    PromiseToPay,
    VisitPhoto,
)
from daihou.collection.legal.models import LegalCost, LegalEvidence, LegalFile, LegalStageChange
from daihou.collection.models import CaseStatusChange, CollectionCase
from daihou.collection.tables import (
    CollectionRun,
    CollectionTask,
    CollectionTreatment,
    Collector,
)
from daihou.compliance.audit.models import AuditRecord
from daihou.compliance.complaints.models import Complaint, ComplaintEvent
from daihou.compliance.gate.models import ContactAttempt, ContactDenial, Hold, OptOut
from daihou.compliance.language.models import LanguageCheck, LanguageFlag, MessageTemplate
from daihou.compliance.privacy.models import PrivacyReveal
from daihou.db.base import Base
from daihou.documents.models import Document
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
from daihou.notify.models import MessageEvent, OutboxMessage
from daihou.payments.models import Allocation, Transaction

__all__ = [
    "Accrual",
    "Agency",
    "AgencyNote",
    "Allocation",
    "ApiToken",
    "ApprovalRequest",
    "AuditRecord",
    "Base",
    "CaseStatusChange",
    "ClassChange",
    "ClassOverride",
    "CollectionCase",
    "CollectionRun",
    "CollectionTask",
    "CollectionTreatment",
    "Collector",
    "Complaint",
    "ComplaintEvent",
    "ContactAttempt",
    "ContactDenial",
    "ContactLog",
    "ContactPoint",
    "Customer",
    "DailyKpi",
    "Document",
    "EodAccrualWork",
    "EodRun",
    "EodWork",
    "FieldVisit",
    "Hold",
    "Installment",
    "JournalEntry",
    "JournalLine",
    "LanguageCheck",
    "LanguageFlag",
    "LegalCost",
    "LegalEvidence",
    "LegalFile",
    "LegalStageChange",
    "Loan",
    "LoanEvent",
    "LoanSnapshot",
    "LprRate",
    "MessageEvent",
    "MessageTemplate",
    "OptOut",
    "OutboxMessage",
    "Placement",
    "PlacementBatch",
    "PlanStatusChange",
    "PrivacyReveal",
    "PromiseToPay",
    "RateChange",
    "RepaymentPlan",
    "SystemState",
    "Transaction",
    "User",
    "UserRole",
    "VisitPhoto",
    "WebSession",
    "WriteOff",
]
