"""Message templates, language checks and flags for the supervisor queue.

``message_templates`` is deliberately minimal: the notifications issue extends it with
rendering and preview. ``language_checks`` has one row per checked note or transcript
(QA scores count every check); ``language_flags`` one row per failed check, for a
supervisor to confirm or dismiss.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from daihou.db.base import Base
from daihou.db.ids import BigId

TEMPLATE_STATUSES = ("draft", "active", "retired")
FLAG_STATUSES = ("open", "confirmed", "dismissed")


class MessageTemplate(Base):
    """A versioned message template (模板) per channel, language and purpose."""

    __tablename__ = "message_templates"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(48))
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(Text)  # e-mail subject (a template too)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    created_by: Mapped[str] = mapped_column(String(64))
    activated_by: Mapped[str | None] = mapped_column(String(64))
    lexicon_version: Mapped[str | None] = mapped_column(String(128))  # check at activation
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
    activated_at: Mapped[datetime | None] = mapped_column(DateTime)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime)
    # daihou.notify.templates: the preview with sample data that activation requires
    previewed_at: Mapped[datetime | None] = mapped_column(DateTime)
    previewed_by: Mapped[str | None] = mapped_column(String(64))
    preview_sha256: Mapped[str | None] = mapped_column(String(64))  # of subject + body

    __table_args__ = (
        UniqueConstraint("channel", "language", "purpose", "version"),
        CheckConstraint("status IN ('draft', 'active', 'retired')", name="status"),
        Index("ix_message_templates_lookup", "channel", "language", "purpose", "status"),
    )


class LanguageCheck(Base):
    """One checked note, transcript or message: counted by the QA scores."""

    __tablename__ = "language_checks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    author_id: Mapped[str] = mapped_column(String(64))
    agency_id: Mapped[str | None] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64))
    passed: Mapped[bool] = mapped_column(Boolean)
    max_severity: Mapped[str | None] = mapped_column(String(8))
    hit_count: Mapped[int] = mapped_column(Integer, default=0)
    lexicon_version: Mapped[str] = mapped_column(String(128))
    checked_at: Mapped[datetime] = mapped_column(DateTime)  # UTC

    __table_args__ = (
        Index("ix_language_checks_author", "author_id", "checked_at"),
        Index("ix_language_checks_agency", "agency_id", "checked_at"),
        Index("ix_language_checks_checked_at", "checked_at"),
    )


class LanguageFlag(Base):
    """A failed check waiting for (or decided by) a supervisor (质检复核)."""

    __tablename__ = "language_flags"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("language_checks.id"), index=True)
    author_id: Mapped[str] = mapped_column(String(64), index=True)
    agency_id: Mapped[str | None] = mapped_column(String(64), index=True)
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64))
    max_severity: Mapped[str] = mapped_column(String(8))
    # [{category, severity, rule_id, span: [start, end], text, context}]
    hits: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="open")
    reviewer_id: Mapped[str | None] = mapped_column(String(64))
    decision_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)  # UTC, the check's time
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (
        CheckConstraint("status IN ('open', 'confirmed', 'dismissed')", name="status"),
        Index("ix_language_flags_status", "status", "created_at"),
    )
