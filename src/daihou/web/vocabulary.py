"""Words the pages translate from data (``_(loan.status)``): every value they can take.

Templates write fixed text as ``_("…")``; values that come from the database are
listed here so the catalog test can require a translation for each of them.
"""

from __future__ import annotations

from daihou.auth.actor import ROLES
from daihou.collection import codes
from daihou.collection.agencies.models import AGENCY_STATUSES
from daihou.collection.models import CASE_STATUSES, CONTACT_STATUSES
from daihou.collection.settings import TASK_ACTIONS
from daihou.collection.tables import TASK_STATUSES as TASK_ROW_STATUSES
from daihou.collection.tables import TIERS as COLLECTOR_TIERS
from daihou.compliance.complaints.service import STATES, TRANSITIONS
from daihou.compliance.complaints.sla import CATEGORIES, CHANNELS, PRIORITIES, TIMERS
from daihou.compliance.gate.schema import HOLD_KINDS
from daihou.compliance.language.lexicon import Category
from daihou.compliance.privacy.service import PERSONAL_FIELDS
from daihou.kernel.allocation import COMPONENTS
from daihou.kernel.delinquency import CLASSES
from daihou.payments.service import CHANNELS as PAYMENT_CHANNELS
from daihou.payments.service import PREPAY_MODES

LOAN_STATUSES = ("active", "closed")
INSTALLMENT_STATUSES = ("pending", "due", "paid")
TRANSACTION_KINDS = ("repayment", "prepayment", "fee", "refund", "reversal", "disbursement")
TRANSACTION_STATUSES = ("posted", "reversed")
TIMER_STATES = ("met", "breached", "running", "overdue")
COMPLAINT_ACTIONS = ("create", *TRANSITIONS)
# collector workbench
# a task row's statuses, and the one shown for work beyond capacity (no task row)
TASK_STATUSES = (*TASK_ROW_STATUSES, "deferred")  # tasks.DeferredWork.status
PROMISE_STATUSES = ("open", "kept", "broken", "cancelled")
VISIT_STATUSES = ("planned", "done", "cancelled")
DIRECTIONS = ("outbound", "inbound")
MEDIA = ("call", "visit", "sms", "email", "letter", "app")
LANGUAGE_CATEGORIES = tuple(c.value for c in Category)

VOCABULARY: tuple[str, ...] = tuple(
    dict.fromkeys(
        (
            *LOAN_STATUSES,
            *INSTALLMENT_STATUSES,
            *CLASSES,
            *TRANSACTION_KINDS,
            *TRANSACTION_STATUSES,
            *PAYMENT_CHANNELS,
            *COMPONENTS,
            *PREPAY_MODES,
            *PERSONAL_FIELDS,
            *HOLD_KINDS,
            *CHANNELS,
            *CATEGORIES,
            *PRIORITIES,
            *STATES,
            *TIMERS,
            *TIMER_STATES,
            *COMPLAINT_ACTIONS,
            *(r for r in ROLES if r != "system"),
            # collector workbench
            *TASK_ACTIONS,
            *TASK_STATUSES,
            *CASE_STATUSES,
            *CONTACT_STATUSES,
            *codes.CHANNELS,
            *codes.PARTIES,
            *codes.OUTCOMES,
            *codes.ATTITUDES,
            *codes.NEXT_ACTIONS,
            *codes.VISIT_KINDS,
            *codes.VISIT_RESULTS,
            *codes.REPAIR_KINDS,
            *codes.REPAIR_SOURCES,
            *PROMISE_STATUSES,
            *VISIT_STATUSES,
            *DIRECTIONS,
            *MEDIA,
            *LANGUAGE_CATEGORIES,
            # supervisor and agency pages
            *COLLECTOR_TIERS,
            *AGENCY_STATUSES,
        )
    )
)
