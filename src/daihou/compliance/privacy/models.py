"""Reveal log, and the hooks that keep the customers' keyed hashes in step.

Importing this module (``daihou.db.models`` does) registers attribute listeners on
``Customer``: setting ``id_number`` or ``phone`` on an ORM object recomputes its hash.
Core inserts get theirs from the column defaults; Core updates and raw bulk writes must
set the hash columns themselves (``daihou.loans.book`` does).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, String, Text, event
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from daihou.compliance.audit.models import AuditRecord
from daihou.compliance.privacy.crypto import current_keyring
from daihou.db.base import Base
from daihou.db.ids import BigId
from daihou.db.types import Code
from daihou.loans.models import Customer

BLIND_INDEXES: dict[tuple[str, str], str] = {
    ("customers", "id_number"): "id_number_hash",
    ("customers", "phone"): "phone_hash",
    ("contact_logs", "phone"): "phone_hash",
    ("contact_points", "phone"): "phone_hash",
}
"""(table, encrypted column) → the column holding its keyed hash."""


class PrivacyReveal(Base):
    """One full display of a personal field (查看明文): who, what, when and why."""

    __tablename__ = "privacy_reveals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime)  # wall clock, UTC
    actor_id: Mapped[str] = mapped_column(String(64), index=True)
    roles: Mapped[str] = mapped_column(String(256))
    customer_id: Mapped[str] = mapped_column(Code(64), index=True)
    field: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    audit_id: Mapped[int] = mapped_column(ForeignKey(AuditRecord.id))


def _refuse(_mapper: Mapper[Any], _connection: Any, target: PrivacyReveal) -> None:
    raise ValueError(f"privacy reveal {target.id} is a log entry and cannot change")


event.listen(PrivacyReveal, "before_update", _refuse)
event.listen(PrivacyReveal, "before_delete", _refuse)


def _hash_on_set(field: str, hash_attribute: str) -> None:
    def on_set(target: Customer, value: Any, _old: Any, _initiator: Any) -> None:
        index = current_keyring().blind_index(value, field) if isinstance(value, str) else None
        setattr(target, hash_attribute, index)

    event.listen(getattr(Customer, field), "set", on_set)


for (_table, _field), _hash_column in BLIND_INDEXES.items():
    if _table == Customer.__tablename__:
        _hash_on_set(_field, _hash_column)
