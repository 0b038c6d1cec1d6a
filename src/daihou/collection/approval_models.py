"""Approval requests (审批), repayment plans (分期还款) and write-offs (核销).

An ``ApprovalRequest`` is generic: a kind (plan, waiver, writeoff; placement, legal or
class overrides can follow), a JSON payload, the amount the limits apply to, who asked
and on what authorisation basis, and who decided, on what basis and why. Status moves
pending → approved | rejected | cancelled | expired, never back.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from daihou.db.base import Base
from daihou.db.ids import BigId
from daihou.db.types import Money

APPROVAL_STATUSES = ("pending", "approved", "rejected", "cancelled", "expired")
PLAN_STATUSES = ("requested", "approved", "rejected", "cancelled", "active", "completed", "broken")


class ApprovalRequest(Base):
    __tablename__ = "approval_requests"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(24))  # plan | waiver | writeoff | …
    status: Mapped[str] = mapped_column(String(12), default="pending")
    loan_id: Mapped[str] = mapped_column(ForeignKey("loans.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("collection_cases.id"))
    amount: Mapped[Decimal] = mapped_column(Money)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_basis: Mapped[dict[str, Any]] = mapped_column(JSON)
    requested_on: Mapped[date] = mapped_column(Date)  # business date
    expires_on: Mapped[date] = mapped_column(Date)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_basis: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    decided_on: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(Text)  # the request's justification
    decision_reason: Mapped[str | None] = mapped_column(Text)
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("transactions.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (Index("ix_approval_requests_status_kind", "status", "kind"),)


class RepaymentPlan(Base):
    """A negotiated plan: its installments (due date, amount), the income it was
    checked against, and the restructure transaction once signed."""

    __tablename__ = "repayment_plans"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    loan_id: Mapped[str] = mapped_column(ForeignKey("loans.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("collection_cases.id"))
    approval_id: Mapped[int] = mapped_column(ForeignKey("approval_requests.id"))
    number: Mapped[int] = mapped_column(Integer)  # 1st, 2nd … plan of the loan
    status: Mapped[str] = mapped_column(String(12), default="requested")
    monthly_income: Mapped[Decimal] = mapped_column(Money)  # declared by the customer
    total: Mapped[Decimal] = mapped_column(Money)  # overdue amount the plan replaces
    schedule: Mapped[list[Any]] = mapped_column(JSON)  # [[due date, amount], …]
    signed_on: Mapped[date | None] = mapped_column(Date)
    restructure_txn_id: Mapped[int | None] = mapped_column(ForeignKey("transactions.id"))
    break_txn_id: Mapped[int | None] = mapped_column(ForeignKey("transactions.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())

    __table_args__ = (Index("ix_repayment_plans_status", "status"),)


class PlanStatusChange(Base):
    __tablename__ = "plan_status_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("repayment_plans.id"), index=True)
    business_date: Mapped[date] = mapped_column(Date)
    old_status: Mapped[str | None] = mapped_column(String(12))
    new_status: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())


class WriteOff(Base):
    """What a write-off (核销) took off the books, to the fen, and its journal entry.
    ``interest`` is contractual interest owed but never booked (cash basis): it and
    the rest stay a claim off the books (账销案存) that recoveries are counted against."""

    __tablename__ = "writeoffs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    loan_id: Mapped[str] = mapped_column(ForeignKey("loans.id"), unique=True)
    approval_id: Mapped[int] = mapped_column(ForeignKey("approval_requests.id"))
    written_off_on: Mapped[date] = mapped_column(Date)
    principal: Mapped[Decimal] = mapped_column(Money)
    interest: Mapped[Decimal] = mapped_column(Money)
    fee: Mapped[Decimal] = mapped_column(Money)
    penalty: Mapped[Decimal] = mapped_column(Money)
    compound: Mapped[Decimal] = mapped_column(Money)
    journal_entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"))
    approved_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
