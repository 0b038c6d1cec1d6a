"""End-of-day tables: the business date, runs, events, snapshots, class history,
overrides, the accrual subledger and daily KPIs."""

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
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from daihou.db.base import Base
from daihou.db.ids import BigId
from daihou.db.types import Code, Money

# NO_KEY_CHECK — the end-of-day logs (``loan_events``, ``class_changes``, ``accruals``,
# ``loan_snapshots``) have no foreign keys. End of day writes them with set-based
# ``INSERT … SELECT`` from its work rows, which come from joins with ``loans`` (and the
# accrual rows reference the journal entry posted in the same transaction); replay and
# recompute write them for a loan they have just loaded. Loans are never deleted. A key
# check per row costs PostgreSQL a trigger and a row lock on the parent: 1.2 of 5.1 s
# server CPU over a full run and an ordinary day on 100k loans (``bench/README.md``).


class SystemState(Base):
    """The system business date; it advances only through end of day. While an end of
    day runs, ``eod_running`` is set and postings wait (are refused, retryable)."""

    __tablename__ = "system_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    business_date: Mapped[date] = mapped_column(Date)
    eod_running: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class EodRun(Base):
    """One step of one business date: committed together with the step's own writes,
    so a crashed step is redone and a finished one is never redone."""

    __tablename__ = "eod_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    business_date: Mapped[date] = mapped_column(Date)
    step: Mapped[str] = mapped_column(String(24))
    mode: Mapped[str] = mapped_column(String(12))  # incremental | full
    status: Mapped[str] = mapped_column(String(12))  # done
    loans: Mapped[int] = mapped_column(Integer, default=0)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    finished_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())

    __table_args__ = (UniqueConstraint("business_date", "step"),)


class LoanEvent(Base):
    """What collections consumes: entered-bucket, rolled-forward, cured, classified."""

    __tablename__ = "loan_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    business_date: Mapped[date] = mapped_column(Date)
    loan_id: Mapped[str] = mapped_column(Code(64))  # no foreign key: see NO_KEY_CHECK
    kind: Mapped[str] = mapped_column(String(24))
    from_value: Mapped[str | None] = mapped_column(String(24))
    to_value: Mapped[str | None] = mapped_column(String(24))
    superseded: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())

    __table_args__ = (
        Index("ix_loan_events_date_kind", "business_date", "kind"),
        Index("ix_loan_events_loan", "loan_id", "business_date"),
    )


class LoanSnapshot(Base):
    """A loan's delinquency picture at the end of a business date. Rows are written for
    every loan the day touched (a full run writes all); the state of a loan on a date is
    its latest row on or before that date."""

    __tablename__ = "loan_snapshots"

    business_date: Mapped[date] = mapped_column(Date, primary_key=True)
    # No foreign key: rows are only ever written by INSERT … SELECT joined with loans,
    # and a full end of day writes one per loan — a per-row key check costs PostgreSQL
    # seconds per million rows for nothing.
    loan_id: Mapped[str] = mapped_column(Code(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    outstanding_principal: Mapped[Decimal] = mapped_column(Money)
    overdue_principal: Mapped[Decimal] = mapped_column(Money)
    overdue_interest: Mapped[Decimal] = mapped_column(Money)
    penalty_outstanding: Mapped[Decimal] = mapped_column(Money)
    compound_outstanding: Mapped[Decimal] = mapped_column(Money)
    dpd: Mapped[int] = mapped_column(Integer)
    bucket: Mapped[str] = mapped_column(String(8))
    risk_class: Mapped[str] = mapped_column(String(16))

    __table_args__ = (
        Index("ix_loan_snapshots_loan_date", "loan_id", "business_date"),
        # SQLite: the rows live in the key's b-tree (WITHOUT ROWID), so each written row
        # costs two b-trees, not three (rowid table, key index, loan index)
        {"sqlite_with_rowid": False},
    )


class ClassChange(Base):
    """History of every five-tier class change (五级分类变动)."""

    __tablename__ = "class_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    loan_id: Mapped[str] = mapped_column(Code(64), index=True)  # see NO_KEY_CHECK
    business_date: Mapped[date] = mapped_column(Date)
    old_class: Mapped[str] = mapped_column(String(16))
    new_class: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(12))  # eod | override | replay
    reason: Mapped[str | None] = mapped_column(Text)
    superseded: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class ClassOverride(Base):
    """A manual classification that may only raise the class, with reason and approver."""

    __tablename__ = "class_overrides"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    loan_id: Mapped[str] = mapped_column(ForeignKey("loans.id"), index=True)
    risk_class: Mapped[str] = mapped_column(String(16))
    effective_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(64))
    approved_by: Mapped[str] = mapped_column(String(64))
    released_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())


class Accrual(Base):
    """Accrual subledger: per loan, the change in posted 罚息/复利 each time it moves.
    End of day posts one summary journal entry per date; a backdated recompute posts a
    per-loan correcting entry. Σ rows per loan = Σ penalty/compound due on its schedule."""

    __tablename__ = "accruals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    loan_id: Mapped[str] = mapped_column(Code(64))  # see NO_KEY_CHECK
    business_date: Mapped[date] = mapped_column(Date)
    penalty: Mapped[Decimal] = mapped_column(Money)
    compound: Mapped[Decimal] = mapped_column(Money)
    source: Mapped[str] = mapped_column(String(12))  # eod | recompute
    journal_entry_id: Mapped[int | None] = mapped_column(BigId)  # see NO_KEY_CHECK

    __table_args__ = (
        # a loan's rows, and its row of one date: the snapshot of an ordinary day looks up
        # each loan's night by it (``eod.steps.snapshot_from_work``)
        Index("ix_accruals_loan_date", "loan_id", "business_date"),
        # a date's rows. With the loan as its second column, so that an index by date
        # alone is never the cheaper-looking path for the snapshot's lookup by loan and
        # date: PostgreSQL with statistics from before the night (autovacuum's, say)
        # estimates the new date at one row and scanned the whole night for every loan
        Index("ix_accruals_date_loan", "business_date", "loan_id"),
    )


class DailyKpi(Base):
    __tablename__ = "daily_kpis"

    business_date: Mapped[date] = mapped_column(Date, primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class EodWork(Base):
    """Scratch rows of the delinquency step: per candidate loan the new DPD, bucket and
    class, beside the cached ones they replace (so events and updates need no join), and
    the amounts its unsettled installments owe (for the snapshot)."""

    __tablename__ = "eod_work"

    business_date: Mapped[date] = mapped_column(Date, primary_key=True)
    loan_id: Mapped[str] = mapped_column(Code(64), primary_key=True)
    dpd: Mapped[int] = mapped_column(Integer)
    bucket: Mapped[str] = mapped_column(String(8))
    risk_class: Mapped[str] = mapped_column(String(16))
    old_dpd: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    old_bucket: Mapped[str] = mapped_column(String(8), default="M0", server_default="M0")
    old_class: Mapped[str] = mapped_column(String(16), default="normal", server_default="normal")
    # what the loan's unsettled installments owe, read in the same pass as its DPD (in
    # fen): principal and interest overdue before the date, and 罚息/复利 before the
    # night's accrual — the snapshot adds the accrual's per-loan amounts (``accruals``)
    # instead of reading the installments again
    overdue_principal: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    overdue_interest: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    penalty: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    compound: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")

    # SQLite: the rows live in the key's b-tree (WITHOUT ROWID): one b-tree written, not two
    __table_args__ = ({"sqlite_with_rowid": False},)


class EodAccrualWork(Base):
    """Scratch rows of the accrual step, one per installment accruing tonight: the new
    bases (fen·days), the posted 罚息/复利 before and after (integer fen), and whether
    the amount must be recomputed exactly in Python (``exact``: a rounding tie within
    floating-point error, or a product off the fast path)."""

    __tablename__ = "eod_accrual_work"

    # BigId: on SQLite the rowid itself (BIGINT was a rowid table plus a key index), so
    # the rows are written once and the UPDATE … FROM walks them in installment order
    installment_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    loan_id: Mapped[str] = mapped_column(Code(64))
    product: Mapped[str] = mapped_column(String(32))
    annual_rate: Mapped[int] = mapped_column(BigInteger)
    penalty_base: Mapped[int] = mapped_column(BigInteger)
    compound_base: Mapped[int] = mapped_column(BigInteger)
    old_penalty: Mapped[int] = mapped_column(BigInteger)
    old_compound: Mapped[int] = mapped_column(BigInteger)
    penalty_fen: Mapped[int] = mapped_column(BigInteger)
    compound_fen: Mapped[int] = mapped_column(BigInteger)
    exact: Mapped[int] = mapped_column(Integer)
