"""Tables of the contact gate: attempts, denials, holds (停催) and opt-outs (退订).

Rows are only ever inserted, except that a hold or an opt-out is closed once (release,
opt-in) by filling its closing columns: nothing is deleted, so the history of who did
what and why stays. Times are UTC without a zone (``*_at`` columns) on both engines;
the borrower's time zone is kept beside contact times. Customers and loans are
referenced by id without a foreign key, so the gate can also be asked about contacts
of customers an agency file brings before the book has them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Index, String, event, func, text
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from daihou.db.base import Base
from daihou.db.ids import BigId
from daihou.db.types import Code


class ContactAttempt(Base):
    """A contact that happened (outbound attempt or inbound conversation)."""

    __tablename__ = "contact_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(Code(64))
    loan_id: Mapped[str | None] = mapped_column(Code(64))
    case_id: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(24))
    medium: Mapped[str] = mapped_column(String(12))
    party: Mapped[str] = mapped_column(String(24))
    organisation: Mapped[str] = mapped_column(String(64))  # lender or agency id
    address_key: Mapped[str | None] = mapped_column(String(320))  # number/address, keyed
    direction: Mapped[str] = mapped_column(String(12), default="outbound")
    outcome: Mapped[str] = mapped_column(String(24))
    purpose: Mapped[str] = mapped_column(String(48))
    at_utc: Mapped[datetime] = mapped_column(DateTime)
    tz: Mapped[str] = mapped_column(String(64))  # borrower's time zone at the contact
    recorded_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())

    __table_args__ = (
        Index("ix_contact_attempts_customer_at", "customer_id", "at_utc"),
        Index("ix_contact_attempts_address_at", "address_key", "at_utc"),
    )


class ContactDenial(Base):
    """A contact the gate refused, with the rule and the request as asked."""

    __tablename__ = "contact_denials"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(Code(64))
    loan_id: Mapped[str | None] = mapped_column(Code(64))
    case_id: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(24))
    party: Mapped[str] = mapped_column(String(24))
    organisation: Mapped[str] = mapped_column(String(64))
    address_key: Mapped[str | None] = mapped_column(String(320))
    purpose: Mapped[str] = mapped_column(String(48))
    at_utc: Mapped[datetime] = mapped_column(DateTime)
    tz: Mapped[str] = mapped_column(String(64))
    rule: Mapped[str] = mapped_column(String(96), index=True)
    message_zh: Mapped[str] = mapped_column(String(512))
    message_en: Mapped[str] = mapped_column(String(512))
    next_allowed_utc: Mapped[datetime | None] = mapped_column(DateTime)
    packs: Mapped[str] = mapped_column(String(256))
    recorded_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())

    __table_args__ = (Index("ix_contact_denials_customer_at", "customer_id", "at_utc"),)


class Hold(Base):
    """停催: dispute, complaint, legal, hardship, deceased or bankruptcy, until released."""

    __tablename__ = "contact_holds"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(Code(64))
    loan_id: Mapped[str | None] = mapped_column(Code(64))  # None: every loan
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(512))
    placed_by: Mapped[str] = mapped_column(String(64))
    placed_at: Mapped[datetime] = mapped_column(DateTime)
    released_by: Mapped[str | None] = mapped_column(String(64))
    released_at: Mapped[datetime | None] = mapped_column(DateTime)
    release_reason: Mapped[str | None] = mapped_column(String(512))

    __table_args__ = (Index("ix_contact_holds_customer_released", "customer_id", "released_at"),)

    @property
    def active(self) -> bool:
        return self.released_at is None


class OptOut(Base):
    """退订: the customer asked not to be contacted on a medium (sms, email …)."""

    __tablename__ = "contact_opt_outs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(Code(64))
    medium: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str] = mapped_column(String(512))
    opted_out_by: Mapped[str] = mapped_column(String(64))
    opted_out_at: Mapped[datetime] = mapped_column(DateTime)
    opted_in_by: Mapped[str | None] = mapped_column(String(64))
    opted_in_at: Mapped[datetime | None] = mapped_column(DateTime)
    opt_in_reason: Mapped[str | None] = mapped_column(String(512))

    __table_args__ = (
        Index("ix_contact_opt_outs_customer_in", "customer_id", "opted_in_at"),
        # one open opt-out per customer and medium
        Index(
            "uq_contact_opt_outs_open",
            "customer_id",
            "medium",
            unique=True,
            sqlite_where=text("opted_in_at IS NULL"),
            postgresql_where=text("opted_in_at IS NULL"),
        ),
    )

    @property
    def active(self) -> bool:
        return self.opted_in_at is None


def _refuse_delete(_mapper: Mapper[Any], _connection: Any, target: Any) -> None:
    raise ValueError(
        f"{type(target).__name__} {target.id} is part of the contact history and cannot "
        "be deleted; release or opt in instead"
    )


for _model in (ContactAttempt, ContactDenial, Hold, OptOut):
    event.listen(_model, "before_delete", _refuse_delete)
