"""The audit log table. Rows are only ever inserted; the ORM refuses updates and
deletes, and ``daihou audit verify`` detects any made behind its back."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, DateTime, Index, String, Text, event
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from daihou.db.base import Base
from daihou.db.ids import BigId


class AuditRecord(Base):
    """One action: who, in which role, did what to which object, on what basis, when.

    ``id`` is assigned by ``record`` as the previous id + 1 under the append lock (not
    from a sequence, whose rolled-back values leave gaps), so a gap means a deletion.
    ``at`` is wall-clock UTC (naive); ``business_date`` the system's business date then.
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime)
    business_date: Mapped[date | None] = mapped_column(Date)
    actor_id: Mapped[str] = mapped_column(String(64), index=True)
    roles: Mapped[str] = mapped_column(String(256))  # sorted, comma-separated
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str] = mapped_column(String(128))
    before_digest: Mapped[str | None] = mapped_column(String(64))
    after_digest: Mapped[str | None] = mapped_column(String(64))
    basis: Mapped[str | None] = mapped_column(Text)  # canonical JSON
    document_hash: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    __table_args__ = (Index("ix_audit_log_object", "object_type", "object_id"),)


def _refuse_change(_mapper: Mapper[Any], _connection: Any, target: AuditRecord) -> None:
    raise ValueError(f"audit record {target.id} is append-only and cannot change")


def _refuse_delete(_mapper: Mapper[Any], _connection: Any, target: AuditRecord) -> None:
    raise ValueError(f"audit record {target.id} is append-only and cannot be deleted")


event.listen(AuditRecord, "before_update", _refuse_change)
event.listen(AuditRecord, "before_delete", _refuse_delete)
