"""Tables of contact work: the contact log (催记), contact repairs (信息修复), promises to
pay (承诺还款), field visits (外访) and their photos.

Contact logs, repairs and photos are only ever inserted: an update or a delete raises.
A promise changes once, from open to kept, broken or cancelled; a visit once, from
planned to done or cancelled. Numbers, addresses and places are personal data and
stored encrypted (``EncryptedString``); phone numbers also get a keyed hash
(``phone_hash``, registered in ``privacy.models.BLIND_INDEXES`` so key rotation
recomputes it) that the lost-contact evaluation compares.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    event,
    func,
    text,
)
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from daihou.compliance.privacy.crypto import EncryptedString, blind_index_default
from daihou.db.base import Base
from daihou.db.ids import BigId
from daihou.db.types import Code, Money

# ``created_at`` is not read back after an insert (it loads when read): fetching it made
# SQLite's flush send one INSERT per row, where rows with ids go in one executemany
# (``db.inserts.give_ids``).
_NO_EAGER_DEFAULTS: dict[str, Any] = {"eager_defaults": False}
PROMISE_STATUSES = ("open", "kept", "broken", "cancelled")
VISIT_STATUSES = ("planned", "done", "cancelled")


class ContactLog(Base):
    """One contact of a case: who was contacted how, the outcome, and what next.

    ``rpc`` (right-party contact) is true when the borrower themself took part.
    ``contact_date`` is the borrower's local date of the contact. ``attempt_id`` is
    the contact gate's record of it (caps and windows count it); ``basis`` the
    authorisation basis of the collector who logged it.
    """

    __tablename__ = "contact_logs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("collection_cases.id"))
    customer_id: Mapped[str] = mapped_column(Code(64))
    loan_id: Mapped[str] = mapped_column(Code(64))
    channel: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(8))  # outbound | inbound
    party: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(24))
    rpc: Mapped[bool] = mapped_column(Boolean)
    phone: Mapped[str | None] = mapped_column(EncryptedString(512, context="contact_logs.phone"))
    phone_hash: Mapped[str | None] = mapped_column(
        Code(100), default=blind_index_default("phone", "phone")
    )
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    note_flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    attitude: Mapped[str | None] = mapped_column(String(24))
    next_action: Mapped[str | None] = mapped_column(String(24))
    next_action_on: Mapped[date | None] = mapped_column(Date)
    task_id: Mapped[int | None] = mapped_column(BigInteger)  # a task of the day's list
    collector: Mapped[str] = mapped_column(String(64))
    organisation: Mapped[str] = mapped_column(String(64))  # lender or the agency's id
    at_utc: Mapped[datetime] = mapped_column(DateTime)
    contact_date: Mapped[date] = mapped_column(Date)
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("contact_attempts.id"))
    hold_id: Mapped[int | None] = mapped_column(ForeignKey("contact_holds.id"))
    basis: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())

    __table_args__ = (
        Index("ix_contact_logs_case_date", "case_id", "contact_date"),
        Index("ix_contact_logs_collector_date", "collector", "contact_date"),
        Index("ix_contact_logs_phone_hash", "phone_hash"),
    )
    __mapper_args__ = _NO_EAGER_DEFAULTS


class ContactPoint(Base):
    """信息修复: a phone, address, employer, e-mail or WeChat found for a case's
    borrower (or their contact person), with its source and whether it was verified."""

    __tablename__ = "contact_points"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("collection_cases.id"), index=True)
    customer_id: Mapped[str] = mapped_column(Code(64))
    kind: Mapped[str] = mapped_column(String(12))
    party: Mapped[str] = mapped_column(String(16), default="borrower")
    phone: Mapped[str | None] = mapped_column(EncryptedString(512, context="contact_points.phone"))
    phone_hash: Mapped[str | None] = mapped_column(
        Code(100), default=blind_index_default("phone", "phone"), index=True
    )
    detail: Mapped[str | None] = mapped_column(
        EncryptedString(1024, context="contact_points.detail")
    )
    source: Mapped[str] = mapped_column(String(16))
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    found_on: Mapped[date] = mapped_column(Date)
    recorded_by: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())


class PromiseToPay(Base):
    """承诺还款: ``amount`` by ``promised_on``; ``until`` = ``promised_on`` + grace days,
    the day treatments pause through. ``tolerance`` is how much short still counts as
    kept. ``paid`` is what the payments since ``made_on`` came to when it was settled."""

    __tablename__ = "promises_to_pay"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("collection_cases.id"), index=True)
    loan_id: Mapped[str] = mapped_column(Code(64))
    customer_id: Mapped[str] = mapped_column(Code(64))
    contact_log_id: Mapped[int | None] = mapped_column(ForeignKey("contact_logs.id"))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("field_visits.id"))
    amount: Mapped[Decimal] = mapped_column(Money)
    made_on: Mapped[date] = mapped_column(Date)
    promised_on: Mapped[date] = mapped_column(Date)
    grace_days: Mapped[int] = mapped_column(Integer)
    tolerance: Mapped[Decimal] = mapped_column(Money)
    until: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), default="open")
    paid: Mapped[Decimal | None] = mapped_column(Money)
    resolved_on: Mapped[date | None] = mapped_column(Date)
    collector: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())

    __table_args__ = (
        Index("ix_promises_status_until", "status", "until"),
        Index("ix_promises_collector_resolved", "collector", "resolved_on"),
        # at most one open promise per case
        Index(
            "uq_promises_open_case",
            "case_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )
    __mapper_args__ = _NO_EAGER_DEFAULTS


class FieldVisit(Base):
    """外访 / 下户: planned (date, place, visitors), then recorded once with its result."""

    __tablename__ = "field_visits"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("collection_cases.id"), index=True)
    customer_id: Mapped[str] = mapped_column(Code(64))
    loan_id: Mapped[str] = mapped_column(Code(64))
    kind: Mapped[str] = mapped_column(String(12))  # home | workplace | other
    status: Mapped[str] = mapped_column(String(12), default="planned")
    planned_on: Mapped[date | None] = mapped_column(Date)
    planned_by: Mapped[str | None] = mapped_column(String(64))
    place: Mapped[str] = mapped_column(EncryptedString(1024, context="field_visits.place"))
    visitors: Mapped[str] = mapped_column(String(256))  # user ids, comma-separated
    visited_at: Mapped[datetime | None] = mapped_column(DateTime)  # UTC
    visit_date: Mapped[date | None] = mapped_column(Date)  # borrower's local date
    result: Mapped[str | None] = mapped_column(String(24))
    failed: Mapped[bool | None] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str | None] = mapped_column(String(64))
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("contact_attempts.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())


class VisitPhoto(Base):
    """A photo of a visit: the file under the photo directory and its SHA-256."""

    __tablename__ = "visit_photos"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("field_visits.id"), index=True)
    path: Mapped[str] = mapped_column(String(256))  # relative to the photo directory
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    filename: Mapped[str] = mapped_column(String(256))  # as uploaded
    uploaded_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())


def _append_only(_mapper: Mapper[Any], _connection: Any, target: Any) -> None:
    raise ValueError(
        f"{type(target).__name__} {target.id} is part of the collection record and cannot "
        "be changed or deleted"
    )


for _model in (ContactLog, ContactPoint, VisitPhoto):
    event.listen(_model, "before_update", _append_only)
    event.listen(_model, "before_delete", _append_only)
