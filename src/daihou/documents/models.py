"""Generated documents (PDF): the bytes, their SHA-256 and the inputs they came from.

``inputs`` is the canonical JSON the builder read (amounts as strings, dates ISO), so
``daihou.documents.service.regenerate`` rebuilds the same bytes from it; the hash is
also in the audit chain (``document.generate`` records).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from daihou.compliance.privacy.crypto import EncryptedString
from daihou.db.base import Base
from daihou.db.ids import BigId
from daihou.db.types import Code


class Document(Base):
    """One generated document (还款提醒, 逾期通知书, 催收函, 结清证明, ...)."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    loan_id: Mapped[str] = mapped_column(Code(64))
    customer_id: Mapped[str] = mapped_column(Code(64))
    case_id: Mapped[str | None] = mapped_column(String(64))
    message_id: Mapped[str | None] = mapped_column(String(32))  # a letter's outbox row
    builder_version: Mapped[str] = mapped_column(String(16))
    inputs: Mapped[str] = mapped_column(  # canonical JSON, encrypted (names, addresses)
        EncryptedString(10_000_000, context="documents.inputs")
    )
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)  # UTC
    audit_id: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (Index("ix_documents_loan", "loan_id", "kind"),)
