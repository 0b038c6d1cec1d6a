"""ORM models of complaints (投诉) and their history.

The three SLA deadlines are stored when the complaint is received (and the regulatory
one moved on extension), so overdue alerts and the monthly report are plain set-based
queries on both engines; the working-day calendar is only needed at intake.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from daihou.auth.models import UtcDateTime, utcnow
from daihou.db.base import Base
from daihou.db.ids import BigId


class Complaint(Base):
    __tablename__ = "complaints"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(24))
    category: Mapped[str] = mapped_column(String(32))
    priority: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(16), default="received")
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id"), index=True)
    loan_id: Mapped[str | None] = mapped_column(ForeignKey("loans.id"), index=True)
    collector_user_id: Mapped[str | None] = mapped_column(ForeignKey("users.username"))
    agency_id: Mapped[str | None] = mapped_column(String(64))
    regulator_ref: Mapped[str | None] = mapped_column(String(64))  # 监管转办编号
    description: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)

    response_due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    investigation_due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    regulatory_due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    extensions: Mapped[int] = mapped_column(Integer, default=0)

    responded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    response_note: Mapped[str | None] = mapped_column(Text)
    investigation_completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    findings: Mapped[str | None] = mapped_column(Text)
    result: Mapped[str | None] = mapped_column(Text)
    upheld: Mapped[bool | None] = mapped_column(Boolean)  # 有责投诉: the complaint was right
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    fed_back_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # result told to them
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reopened: Mapped[int] = mapped_column(Integer, default=0)

    hold_id: Mapped[int | None] = mapped_column(BigInteger)  # contact_holds.id (停催)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    events: Mapped[list[ComplaintEvent]] = relationship(
        back_populates="complaint",
        order_by="ComplaintEvent.id",
        cascade="all, delete-orphan",
    )

    __table_args__ = (
        Index("ix_complaints_state", "state"),
        Index("ix_complaints_received_at", "received_at"),
    )


class ComplaintEvent(Base):
    """One step in a complaint's life: who did what, when, on which authority."""

    __tablename__ = "complaint_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    complaint_id: Mapped[int] = mapped_column(
        ForeignKey("complaints.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(24))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor_id: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32))
    rule_id: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)

    complaint: Mapped[Complaint] = relationship(back_populates="events")
