"""Transactions (the immutable business record) and their current allocation."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
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
from daihou.db.types import Code, Money


class Transaction(Base):
    """A disbursement, repayment, prepayment, fee, refund or reversal.

    ``(channel, reference)`` is unique: posting the same channel reference twice returns
    the original. ``status`` becomes ``reversed`` when a reversal transaction points at it.
    """

    __tablename__ = "transactions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    loan_id: Mapped[str] = mapped_column(ForeignKey("loans.id"), index=True)
    kind: Mapped[str] = mapped_column(Code(16))
    value_date: Mapped[date] = mapped_column(Date)
    booked_on: Mapped[date] = mapped_column(Date)  # business date when posted
    amount: Mapped[Decimal] = mapped_column(Money)
    channel: Mapped[str | None] = mapped_column(String(24))
    reference: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(Code(12), default="posted")
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("transactions.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())

    __table_args__ = (
        UniqueConstraint("channel", "reference"),
        Index("ix_transactions_value_date", "value_date"),
        Index("ix_transactions_booked_on", "booked_on"),
    )


class Allocation(Base):
    """How a transaction's money is applied now (a cache rebuilt by recompute).

    ``component`` is principal, interest, fee, penalty, compound or credit (溢缴款,
    ``period`` empty). The journal, not this table, is the immutable history.
    """

    __tablename__ = "allocations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("transactions.id"), index=True)
    loan_id: Mapped[str] = mapped_column(ForeignKey("loans.id"), index=True)
    period: Mapped[int | None] = mapped_column(Integer)
    component: Mapped[str] = mapped_column(Code(16))
    amount: Mapped[Decimal] = mapped_column(Money)
