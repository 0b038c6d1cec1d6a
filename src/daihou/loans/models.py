"""ORM models of the loan book.

Installments are a cached projection of the loan's terms and transactions (see
``daihou.payments.recompute``); the immutable record is the transactions and the
journal. Customer personal fields are stored encrypted (``EncryptedString``: the ORM
and Core see plaintext, the database AES-GCM ciphertext); ID number and phone also have
a keyed hash for search (``daihou.compliance.privacy``).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from daihou.compliance.privacy.crypto import EncryptedString, blind_index_default
from daihou.db.base import Base
from daihou.db.ids import BigId
from daihou.db.sqlfn import SelectT, indexed_by
from daihou.db.types import Code, Money, Rate

WATCH = text("dpd > 0 OR risk_class <> 'normal' OR restructured_until IS NOT NULL")
"""Loans end of day looks at every day (the partial index ``ix_loans_watch``); queries
must use this very expression so SQLite can match the index."""
IN_CREDIT = text("credit_balance > 0")
"""Loans holding customer credit (溢缴款; partial index ``ix_loans_credit``): a handful in
a book. Queries must use this very expression so SQLite can match the index."""
UNSETTLED = text("status = 'due'")
"""Installments that are due and not settled (partial index ``ix_installments_unsettled``)."""
INSTALLMENT_STATUSES = ("pending", "due", "paid")
"""Every value of ``Installment.status`` (``kernel.state.InstallmentState.status``). A
query by due date alone lists them (``status IN (…) AND due_date = d``) so both engines
read ``ix_installments_status_due_date``: there is no index on ``due_date`` alone."""


def via_unsettled(stmt: SelectT) -> SelectT:
    """``stmt`` (a SELECT over installments filtered on ``status = 'due'`` spelt as a
    literal) reads ``ix_installments_unsettled`` on SQLite. Its planner otherwise prefers
    ``ix_installments_status_due_date`` unless the statistics are fresh, and that reads
    the unsettled rows in due-date order — a random walk over the schedule table on a big
    book — where the partial index gives them by loan, so in table order."""
    return indexed_by(stmt, Installment.__table__, "ix_installments_unsettled")


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(Code(64), primary_key=True)
    name: Mapped[str] = mapped_column(EncryptedString(512, context="customers.name"))
    id_number: Mapped[str] = mapped_column(  # 身份证号
        EncryptedString(512, context="customers.id_number")
    )
    phone: Mapped[str] = mapped_column(EncryptedString(512, context="customers.phone"))
    address: Mapped[str | None] = mapped_column(EncryptedString(1024, context="customers.address"))
    email: Mapped[str | None] = mapped_column(  # for e-mail notices (daihou.notify)
        EncryptedString(512, context="customers.email")
    )
    employer: Mapped[str | None] = mapped_column(
        EncryptedString(1024, context="customers.employer")
    )
    id_number_hash: Mapped[str | None] = mapped_column(
        Code(100), default=blind_index_default("id_number", "id_number"), index=True
    )
    phone_hash: Mapped[str | None] = mapped_column(
        Code(100), default=blind_index_default("phone", "phone"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())


class Loan(Base):
    __tablename__ = "loans"

    id: Mapped[str] = mapped_column(Code(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    product: Mapped[str] = mapped_column(String(32))
    principal: Mapped[Decimal] = mapped_column(Money)
    annual_rate: Mapped[Decimal] = mapped_column(Rate)  # contract rate at disbursement
    current_rate: Mapped[Decimal] = mapped_column(Rate)  # after repricing
    term_months: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(24))
    disbursed_on: Mapped[date] = mapped_column(Date)
    first_due_on: Mapped[date | None] = mapped_column(Date)
    repayment_day: Mapped[int | None] = mapped_column(Integer)  # 还款日
    spread_bps: Mapped[int | None] = mapped_column(Integer)  # floating: LPR + spread
    status: Mapped[str] = mapped_column(Code(16), default="active")
    closed_on: Mapped[date | None] = mapped_column(Date)  # settlement date (结清日)
    outstanding_principal: Mapped[Decimal] = mapped_column(Money)
    credit_balance: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))  # 溢缴款
    # delinquency as of the last closed business date (end of day writes these)
    dpd: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # 逾期天数
    bucket: Mapped[str] = mapped_column(Code(8), default="M0", server_default="M0")
    risk_class: Mapped[str] = mapped_column(
        Code(16), default="normal", server_default="normal"
    )  # 五级分类
    restructured_until: Mapped[date | None] = mapped_column(Date)  # observation period end
    written_off_on: Mapped[date | None] = mapped_column(Date)  # 核销日 (status written-off)
    # First business date daihou serviced the loan (its import): 罚息/复利 accrue only
    # from then on; what happened before belongs to the previous system.
    serviced_from: Mapped[date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())

    customer: Mapped[Customer] = relationship()
    installments: Mapped[list[Installment]] = relationship(
        back_populates="loan", order_by="Installment.period", cascade="all, delete-orphan"
    )

    __table_args__ = (
        # status first (filters by status use it as before); the rest makes it covering
        # for the daily KPIs' GROUP BY bucket, class over the active book, which reads
        # this narrow index instead of every loan row (``analytics.kpis.daily_kpis``)
        Index("ix_loans_status", "status", "bucket", "risk_class", "outstanding_principal"),
        # end of day's incremental candidates: loans whose cached delinquency is not the
        # default (a small partial index instead of a scan of the book)
        Index("ix_loans_watch", "id", sqlite_where=WATCH, postgresql_where=WATCH),
        # end of day's due step: the few loans holding credit, so it need not read the
        # day's falling-due installments (a random fetch of each for its loan_id) to
        # find them
        Index("ix_loans_credit", "id", sqlite_where=IN_CREDIT, postgresql_where=IN_CREDIT),
    )


class Installment(Base):
    """One period of a loan's current schedule, with due and paid per component."""

    __tablename__ = "installments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    loan_id: Mapped[str] = mapped_column(ForeignKey("loans.id"))
    period: Mapped[int] = mapped_column(Integer)
    start_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    annual_rate: Mapped[Decimal] = mapped_column(Rate)
    principal_due: Mapped[Decimal] = mapped_column(Money)
    interest_due: Mapped[Decimal] = mapped_column(Money)
    fee_due: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    penalty_due: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))  # 罚息
    compound_due: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))  # 复利
    principal_paid: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    interest_paid: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    fee_paid: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    penalty_paid: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    compound_paid: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    status: Mapped[str] = mapped_column(Code(12), default="pending")  # INSTALLMENT_STATUSES
    paid_on: Mapped[date | None] = mapped_column(Date)
    # Accrual bases in fen·days (Σ overdue principal / interest per accrued night): the
    # posted 罚息/复利 is base × rate × (1 + markup) / 360 rounded, remainder carried.
    penalty_base: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    compound_base: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # 罚息/复利 moved in (+) or out (−) by a repayment plan (分期还款): penalty_due is
    # carried + the amount accrued on the base (see ``daihou.kernel.restructure``).
    penalty_carried: Mapped[Decimal] = mapped_column(
        Money, default=Decimal("0.00"), server_default="0"
    )
    compound_carried: Mapped[Decimal] = mapped_column(
        Money, default=Decimal("0.00"), server_default="0"
    )

    loan: Mapped[Loan] = relationship(back_populates="installments")

    __table_args__ = (
        UniqueConstraint("loan_id", "period"),
        # by status and date: the due step, the overdue reads, reminders; a query by
        # date alone lists every status (INSTALLMENT_STATUSES) rather than have a second
        # 23-million-key index on due_date (half the build time of a 1 M-loan book)
        Index("ix_installments_status_due_date", "status", "due_date"),
        # the unsettled installments that are due, by loan: what end of day reads (DPD,
        # overdue sums) — a small partial index instead of the whole schedule
        Index(
            "ix_installments_unsettled",
            "loan_id",
            "due_date",
            sqlite_where=UNSETTLED,
            postgresql_where=UNSETTLED,
        ),
    )


class LprRate(Base):
    """Loan Prime Rate (贷款市场报价利率) history, kept as data."""

    __tablename__ = "lpr_rates"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenor: Mapped[str] = mapped_column(String(4))  # "1y" | "5y"
    effective_on: Mapped[date] = mapped_column(Date)
    rate: Mapped[Decimal] = mapped_column(Rate)

    __table_args__ = (UniqueConstraint("tenor", "effective_on"),)


class RateChange(Base):
    """Every change of a loan's rate, with the LPR and spread it came from."""

    __tablename__ = "rate_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    loan_id: Mapped[str] = mapped_column(ForeignKey("loans.id"), index=True)
    effective_on: Mapped[date] = mapped_column(Date)
    old_rate: Mapped[Decimal] = mapped_column(Rate)
    new_rate: Mapped[Decimal] = mapped_column(Rate)
    lpr_rate: Mapped[Decimal | None] = mapped_column(Rate)
    spread_bps: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())

    __table_args__ = (UniqueConstraint("loan_id", "effective_on"),)
