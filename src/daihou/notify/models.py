"""The outbox (发送队列): one row per message to deliver, and its event history.

A message row is written in the same transaction as the decision that wants it sent
(``daihou.notify.outbox.enqueue``); the worker (``daihou.notify.worker``) delivers it.
``dedupe_key`` is unique, so a re-run of the job that queued it never queues it twice.
The message id (32 hex digits) is the idempotency key handed to the provider.

Times are naive UTC on both engines. Addresses are not copied here: the worker reads
them from the encrypted customer record at delivery time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from daihou.db.base import Base
from daihou.db.ids import BigId
from daihou.db.types import Code

STATUSES = (
    "queued",  # waiting for its time (next_attempt_at)
    "deferred",  # the contact gate said not now; due again at next_attempt_at
    "sending",  # claimed and handed to the provider under an attempt token (a lease)
    "sent",  # the provider accepted it
    "delivered",  # a delivery receipt confirmed it
    "failed",  # an attempt failed: retried at next_attempt_at, or final when that is null
    "cancelled",  # hold, cured or closed case, opt-out, or by hand
    "dead",  # failed too often (dead letter); retry by hand
)
DUE_STATUSES = ("queued", "deferred", "failed")
FINAL_STATUSES = ("delivered", "cancelled", "dead")
CHANNELS = ("sms", "email", "letter")


class OutboxMessage(Base):
    """A message to a borrower, its rendered text and its delivery state."""

    __tablename__ = "outbox_messages"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    customer_id: Mapped[str] = mapped_column(Code(64), index=True)
    loan_id: Mapped[str | None] = mapped_column(Code(64), index=True)
    case_id: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(48))  # as asked of the contact gate
    template: Mapped[str] = mapped_column(String(48))  # template name, or a document kind
    template_id: Mapped[int | None] = mapped_column(Integer)  # the version rendered
    language: Mapped[str] = mapped_column(String(16))
    variables: Mapped[dict[str, Any]] = mapped_column(JSON)
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    attempt_token: Mapped[str | None] = mapped_column(String(32))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime)
    provider_message_id: Mapped[str | None] = mapped_column(String(128), index=True)
    document_id: Mapped[int | None] = mapped_column(Integer)  # letters: the PDF
    export_batch: Mapped[str | None] = mapped_column(String(64))  # letters: print batch
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (
        CheckConstraint("channel IN ('sms', 'email', 'letter')", name="channel"),
        Index("ix_outbox_messages_due", "status", "next_attempt_at"),
        Index("ix_outbox_messages_lease", "status", "lease_until"),
    )


class MessageEvent(Base):
    """What happened to a message: an attempt's outcome, a deferral, a receipt, a
    cancellation. Only ever inserted."""

    __tablename__ = "message_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("outbox_messages.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(12))
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
