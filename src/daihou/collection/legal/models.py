"""Tables of litigation (诉讼): legal files, their stage history, evidence and costs.

A legal file opens when the litigation file is prepared (60 DPD, by the daily job) or
at referral; ``referred_on`` is set when a supervisor refers the case (then the case's
stage is ``legal`` and agency placement is blocked). Stages move forward only along
``daihou.collection.legal.service.TRANSITIONS``; every move is kept.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, DateTime, ForeignKey, Index, String, Text, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column

from daihou.db.base import Base
from daihou.db.ids import BigId
from daihou.db.types import Code, Money


class LegalFile(Base):
    __tablename__ = "legal_files"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("collection_cases.id"))
    loan_id: Mapped[str] = mapped_column(Code(64))
    stage: Mapped[str] = mapped_column(String(16), default="preparing-file")
    opened_on: Mapped[date] = mapped_column(Date)
    referred_on: Mapped[date | None] = mapped_column(Date)
    referred_by: Mapped[str | None] = mapped_column(String(64))
    referral_basis: Mapped[str | None] = mapped_column(Text)  # rules met + authorisation
    stage_before: Mapped[str | None] = mapped_column(String(16))  # case stage at referral
    court: Mapped[str | None] = mapped_column(String(128))
    docket_no: Mapped[str | None] = mapped_column(String(64))  # 案号
    closed_on: Mapped[date | None] = mapped_column(Date)
    outcome: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())

    __table_args__ = (
        # one file per case that is not closed
        Index(
            "uq_legal_files_open_case",
            "case_id",
            unique=True,
            sqlite_where=text("stage <> 'closed'"),
            postgresql_where=text("stage <> 'closed'"),
        ),
        Index("ix_legal_files_loan", "loan_id"),
    )


class LegalStageChange(Base):
    __tablename__ = "legal_stage_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    legal_file_id: Mapped[int] = mapped_column(ForeignKey("legal_files.id"), index=True)
    from_stage: Mapped[str | None] = mapped_column(String(16))
    to_stage: Mapped[str] = mapped_column(String(16))
    business_date: Mapped[date] = mapped_column(Date)
    actor: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())


class LegalEvidence(Base):
    """One item of the evidence list (证据清单): missing → requested → attached → verified."""

    __tablename__ = "legal_evidence"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    legal_file_id: Mapped[int] = mapped_column(ForeignKey("legal_files.id"))
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(12), default="missing")
    file_name: Mapped[str | None] = mapped_column(String(256))
    file_hash: Mapped[str | None] = mapped_column(String(64))  # SHA-256 of the document
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_on: Mapped[date] = mapped_column(Date)

    __table_args__ = (UniqueConstraint("legal_file_id", "kind"),)


class LegalCost(Base):
    """A cost of the proceedings: court fee (诉讼费), lawyer fee (律师费), other."""

    __tablename__ = "legal_costs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    legal_file_id: Mapped[int] = mapped_column(ForeignKey("legal_files.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(Money)
    incurred_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
