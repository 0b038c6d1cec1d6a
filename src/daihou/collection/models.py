"""Collection cases (催收案件) and their status history.

A case opens when a loan becomes overdue (end of day) and closes on cure, settlement or
write-off. At most one case per loan is open at a time; a loan that falls overdue again
after a cure gets a new case, so each case is one episode of delinquency. Status
changes are only ever inserted into ``case_status_changes``.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from daihou.db.base import Base
from daihou.db.ids import BigId

CASE_STATUSES = ("open", "closed")
CLOSE_REASONS = ("cured", "settled", "written-off")
CONTACT_STATUSES = ("reachable", "lost")


class CollectionCase(Base):
    """One episode of delinquency of one loan.

    ``owner_user_id``/``team``/``territory``/``agency_id`` feed
    ``daihou.auth.scopes.ResourceScope``: who may see and work the case. ``stage`` is
    the strategy stage the case is in (e.g. ``early``, ``junior``, ``senior``,
    ``agency``, ``legal``); ``strategy``/``arm`` record the champion–challenger
    assignment, which is sticky for the life of the case.

    The contact columns (``contact_status``, ``last_rpc_on``, ``lost_contact_since``,
    ``promise_until``, ``broken_promises``, ``failed_visits``, ``refused``) are kept up
    to date by the contact, promise and visit services, so the strategy engine reads
    one row per case, set-based, without joining the contact history.
    """

    __tablename__ = "collection_cases"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    loan_id: Mapped[str] = mapped_column(ForeignKey("loans.id"))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    status: Mapped[str] = mapped_column(String(12), default="open")
    close_reason: Mapped[str | None] = mapped_column(String(16))
    opened_on: Mapped[date] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)
    stage: Mapped[str] = mapped_column(String(16), default="early", server_default="early")
    strategy: Mapped[str | None] = mapped_column(String(48))
    arm: Mapped[str | None] = mapped_column(String(16))  # champion | challenger
    owner_user_id: Mapped[str | None] = mapped_column(String(64))
    team: Mapped[str | None] = mapped_column(String(64))
    territory: Mapped[str | None] = mapped_column(String(64))
    agency_id: Mapped[str | None] = mapped_column(String(64))  # current placement
    contact_status: Mapped[str] = mapped_column(
        String(12), default="reachable", server_default="reachable"
    )
    last_rpc_on: Mapped[date | None] = mapped_column(Date)  # last right-party contact
    lost_contact_since: Mapped[date | None] = mapped_column(Date)  # 失联 from
    promise_until: Mapped[date | None] = mapped_column(Date)  # open promise: due + grace
    broken_promises: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failed_visits: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    refused: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    risk_score: Mapped[int | None] = mapped_column(Integer)  # 0 (best) .. 1000 (worst)
    segment: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())

    __table_args__ = (
        Index("ix_collection_cases_loan_status", "loan_id", "status"),
        Index("ix_collection_cases_customer", "customer_id"),
        Index("ix_collection_cases_owner", "owner_user_id", "status"),
        Index("ix_collection_cases_status", "status", "stage"),
    )


class CaseStatusChange(Base):
    """History of a case: opened, stage changes, owner changes, closed."""

    __tablename__ = "case_status_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("collection_cases.id"), index=True)
    business_date: Mapped[date] = mapped_column(Date)
    field: Mapped[str] = mapped_column(String(16))  # status | stage | owner | agency
    old_value: Mapped[str | None] = mapped_column(String(64))
    new_value: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(64), default="system")
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
