"""Tables of outsourcing (委外): agencies, placement batches, placements, agency notes.

A placement is one stay of one case with one agency, from ``placed_on`` until
``ended_on`` (exclusive: payments with a value date in ``[placed_on, ended_on)`` are
the agency's recoveries). At most one placement per case is active (a partial unique
index on both engines); ``collection_cases.agency_id`` mirrors the active one so data
scopes (``daihou.auth.scopes``) need no join. Rows are never deleted: a recall fills
the closing columns.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from daihou.db.base import Base
from daihou.db.ids import BigId
from daihou.db.types import Code, Money, Rate

AGENCY_STATUSES = ("whitelisted", "suspended", "eliminated")
RECALL_REASONS = ("expired", "on-demand", "legal", "agency-status", "case-closed")


class Agency(Base):
    """A collection agency (催收机构) on the lender's whitelist, with its contract.

    Scope lists (``products``, ``buckets``, ``territories``) empty mean "any";
    ``commission_rates`` holds the contract's per-bucket overrides of the pack's rates.
    ``contacts`` are the agency's own staff contacts (not customer data).
    """

    __tablename__ = "agencies"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    licence_no: Mapped[str] = mapped_column(String(64))
    licence_expires_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="whitelisted")
    status_reason: Mapped[str | None] = mapped_column(Text)
    contract_from: Mapped[date] = mapped_column(Date)
    contract_until: Mapped[date] = mapped_column(Date)
    products: Mapped[list[str]] = mapped_column(JSON, default=list)
    buckets: Mapped[list[str]] = mapped_column(JSON, default=list)
    territories: Mapped[list[str]] = mapped_column(JSON, default=list)
    max_cases: Mapped[int] = mapped_column(Integer)
    commission_rates: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    contacts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())

    __table_args__ = (
        CheckConstraint(
            "status IN ('whitelisted', 'suspended', 'eliminated')", name="agency_status"
        ),
        CheckConstraint("max_cases >= 0", name="agency_max_cases"),
    )


class PlacementBatch(Base):
    """One run of ``placement batch``: who allocated how many cases on which date."""

    __tablename__ = "placement_batches"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    business_date: Mapped[date] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(64))
    cases: Mapped[int] = mapped_column(Integer, default=0)
    # {agency_id: {"rank", "weight", "capacity", "placed"}}: how the batch was shared
    allocation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    basis: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())


class Placement(Base):
    """One case placed with one agency (委外案件)."""

    __tablename__ = "placements"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("placement_batches.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("collection_cases.id"))
    loan_id: Mapped[str] = mapped_column(Code(64))
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"))
    status: Mapped[str] = mapped_column(String(12), default="active")  # active | recalled
    placed_on: Mapped[date] = mapped_column(Date)
    due_back_on: Mapped[date] = mapped_column(Date)  # placed_on + placement period
    ended_on: Mapped[date | None] = mapped_column(Date)  # exclusive end of attribution
    recall_reason: Mapped[str | None] = mapped_column(String(16))
    bucket: Mapped[str] = mapped_column(String(8))  # bucket at placement: commission rate
    dpd: Mapped[int] = mapped_column(Integer)
    overdue_amount: Mapped[Decimal] = mapped_column(Money)  # placed overdue amount
    commission_rate: Mapped[Decimal] = mapped_column(Rate)  # fixed at placement
    stage_before: Mapped[str] = mapped_column(String(16))  # restored on recall
    placed_by: Mapped[str] = mapped_column(String(64))
    recalled_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())

    __table_args__ = (
        Index(
            "uq_placements_active_case",
            "case_id",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
        Index("ix_placements_agency_status", "agency_id", "status"),
        Index("ix_placements_status_due", "status", "due_back_on"),
        Index("ix_placements_loan", "loan_id"),
        CheckConstraint("status IN ('active', 'recalled')", name="placement_status"),
    )


class AgencyNote(Base):
    """An action or note an agency user logs on a case placed with their agency."""

    __tablename__ = "agency_notes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    placement_id: Mapped[int] = mapped_column(ForeignKey("placements.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("collection_cases.id"), index=True)
    agency_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(24))  # note | call | visit | letter | repair
    note: Mapped[str] = mapped_column(Text)
    language_passed: Mapped[bool | None] = mapped_column()
    business_date: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
