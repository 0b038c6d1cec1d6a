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
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SQLColumnExpression,
    String,
    UniqueConstraint,
    func,
    literal_column,
    select,
    text,
    type_coerce,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from daihou.compliance.privacy.crypto import EncryptedString, blind_index_default
from daihou.db.base import Base
from daihou.db.ids import BigId
from daihou.db.sqlfn import SelectT, indexed_by
from daihou.db.types import Code, Money, Rate

WATCH = text("risk_class <> 'normal' OR restructured_until IS NOT NULL")
"""Loans end of day looks at every day (the partial index ``ix_loans_watch``); queries
must use this very expression so SQLite can match the index. Every loan with DPD > 0 is
in it, through its class: the classification floors always start at 1 day past due (any
overdue loan is at least 关注, ``policy.schema.Delinquency``), and end of day writes DPD
and class together. ``dpd`` itself is left out so that the nightly DPD update of every
delinquent loan changes no indexed column: no index entry rewritten on SQLite, and a
heap-only (HOT) update on PostgreSQL where the page has room."""
IN_CREDIT = text("credit_balance > 0")
"""Loans holding customer credit (溢缴款; partial index ``ix_loans_credit``): a handful in
a book. Queries must use this very expression so SQLite can match the index."""
UNSETTLED = text("status = 'due'")
"""Installments that are due and not settled (partial index ``ix_installments_unsettled``)."""
UNSETTLED_COLUMNS = (
    "loan_id",
    "due_date",
    "principal_due",
    "principal_paid",
    "interest_due",
    "interest_paid",
    "fee_due",
    "fee_paid",
    "penalty_paid",
    "compound_paid",
    "annual_rate",
    "penalty_carried",
    "compound_carried",
    "status",
    "id",
)
"""The columns of ``ix_installments_unsettled``: by loan and due date, then all that end
of day reads of an unsettled installment — its DPD and overdue sums, the accrual's
inputs — so those reads take the index alone (~320k short entries at 1 M loans) and not
the schedule's pages, one or two overdue rows to each (~130k pages). Since 罚息/复利
moved to ``installment_accruals`` nothing in it changes at night; a row enters it when
it falls due and changes with the payments on it."""
PENDING = text("status = 'pending'")
"""Installments not yet due (partial index ``ix_installments_pending``, by due date)."""
PAID = text("status = 'paid'")
"""Settled installments (partial index ``ix_installments_paid``, by due date)."""
INSTALLMENT_STATUSES = ("pending", "due", "paid")
"""Every value of ``Installment.status`` (``kernel.state.InstallmentState.status``). There
is no index on ``status`` or ``due_date`` over the whole schedule: a query that is not by
loan names its status as one of the literals above (a bound parameter matches no partial
index, on SQLite never and on PostgreSQL not in a generic plan) and reads that status's
partial index; a query by due date over several statuses is a union of one read each."""


def status_is(column: SQLColumnExpression[str], status: str) -> ColumnElement[bool]:
    """``column = 'status'`` with the status spelt as a literal, so that both engines
    match the partial index of that status (a bound parameter matches none)."""
    if status not in INSTALLMENT_STATUSES:
        raise ValueError(f"status: {status!r} is not one of {INSTALLMENT_STATUSES}")
    return column == literal_column(f"'{status}'")


def via_unsettled(stmt: SelectT) -> SelectT:
    """``stmt`` (a SELECT over installments filtered on ``status = 'due'`` spelt as a
    literal) reads ``ix_installments_unsettled`` on SQLite, by loan, so in table order.
    The hint makes a statement that cannot use the index fail rather than scan (a
    status given as a bound parameter, say)."""
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


class InstallmentAccrual(Base):
    """An installment's 罚息/复利 due (what a repayment plan carried in included) and the
    bases they accrue on, in fen·days, in a narrow table of their own.

    End of day rewrites these four values for every overdue installment every night
    (``eod.accrual``). Kept in ``installments``, those rows lie 1–2 to a page among the
    whole schedule, so a night at 1 M loans rewrote ~130k pages of it (on SQLite 3 s of
    writes and commit, on PostgreSQL most of the night's WAL). Here a row is a few
    dozen bytes and only an installment that has accrued has one, so the same rows fill
    a few thousand pages. No row: all four are zero. Read and written through
    ``Installment.penalty_due`` and its three siblings; no foreign key, as the
    end-of-day logs (a key check per row inserted by the nightly ``INSERT … SELECT``):
    the rows are removed with their installments (``delete_installments``)."""

    __tablename__ = "installment_accruals"

    installment_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    # bases in fen·days (Σ overdue principal / interest per accrued night): the posted
    # 罚息/复利 is base × rate × (1 + markup) / 360 rounded, remainder carried
    penalty_base: Mapped[int] = mapped_column(BigInteger, default=0)
    compound_base: Mapped[int] = mapped_column(BigInteger, default=0)
    penalty_due: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))  # 罚息
    compound_due: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))  # 复利


ACCRUED = ("penalty_base", "compound_base", "penalty_due", "compound_due")
"""The columns of ``installment_accruals`` an installment reads as its own."""


def accrued_attribute(name: str) -> Any:
    """``Installment.<name>`` for a column of its ``InstallmentAccrual``: zero without
    a row, a row made on the first non-zero value set; in SQL, the value read by key
    (zero without a row) — for small sets; end of day joins the table itself."""
    zero: Decimal | int = Decimal("0.00") if name.endswith("_due") else 0

    def get(self: Installment) -> Any:
        acc = self.accrual
        return zero if acc is None else getattr(acc, name)

    def put(self: Installment, value: Any) -> None:
        acc = self.accrual
        if acc is None:
            if not value:
                return
            acc = self.accrual = InstallmentAccrual(
                penalty_base=0,
                compound_base=0,
                penalty_due=Decimal("0.00"),
                compound_due=Decimal("0.00"),
            )
        setattr(acc, name, value)

    def expression(cls: type[Installment]) -> Any:
        column = InstallmentAccrual.__table__.c[name]
        return type_coerce(_probe(column, cls.id), column.type)

    return hybrid_property(get, put, expr=expression)


def accrued_due_fen(installment_id: Any) -> Any:
    """In SQL: the 罚息 + 复利 an installment has accrued, in fen (zero without its
    accrual row) — one key probe where reading both attributes would make two."""
    c = InstallmentAccrual.__table__.c
    both = type_coerce(c.penalty_due, BigInteger) + type_coerce(c.compound_due, BigInteger)
    return _probe(both, installment_id)


def _probe(value: Any, installment_id: Any) -> Any:
    """``value`` (over ``installment_accruals``) of the installment's accrual row, found
    by key, or zero without a row."""
    table = InstallmentAccrual.__table__
    found = (
        select(value)
        .where(table.c.installment_id == installment_id)
        .correlate_except(table)
        .scalar_subquery()
    )
    return func.coalesce(found, literal_column("0"))


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
    principal_paid: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    interest_paid: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    fee_paid: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    penalty_paid: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    compound_paid: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    status: Mapped[str] = mapped_column(Code(12), default="pending")  # INSTALLMENT_STATUSES
    paid_on: Mapped[date | None] = mapped_column(Date)
    # 罚息/复利 moved in (+) or out (−) by a repayment plan (分期还款): penalty_due is
    # carried + the amount accrued on the base (see ``daihou.kernel.restructure``).
    penalty_carried: Mapped[Decimal] = mapped_column(
        Money, default=Decimal("0.00"), server_default="0"
    )
    compound_carried: Mapped[Decimal] = mapped_column(
        Money, default=Decimal("0.00"), server_default="0"
    )

    loan: Mapped[Loan] = relationship(back_populates="installments")
    # 罚息/复利 accrued (and their bases): their own row, ``InstallmentAccrual``; read
    # and written through the four attributes below as if they were columns here
    accrual: Mapped[InstallmentAccrual | None] = relationship(
        primaryjoin="Installment.id == foreign(InstallmentAccrual.installment_id)",
        lazy="selectin",
        cascade="all, delete-orphan",
    )
    penalty_due = accrued_attribute("penalty_due")  # 罚息
    compound_due = accrued_attribute("compound_due")  # 复利
    penalty_base = accrued_attribute("penalty_base")
    compound_base = accrued_attribute("compound_base")

    __table_args__ = (
        UniqueConstraint("loan_id", "period"),
        # by due date within one status, as partial indexes: the due step and reminders
        # (pending), the day's paid-ahead rows (paid). One (status, due_date) index over
        # the whole schedule sorted 4-5x slower to build on PostgreSQL (a three-valued
        # leading column makes every comparison a tie on it) and carried the due rows too
        Index(
            "ix_installments_pending", "due_date", sqlite_where=PENDING, postgresql_where=PENDING
        ),
        Index("ix_installments_paid", "due_date", sqlite_where=PAID, postgresql_where=PAID),
        # the unsettled installments that are due, by loan: what end of day reads (DPD,
        # overdue sums, the accrual's inputs) — a small partial index instead of the
        # whole schedule, holding every column those reads take (UNSETTLED_COLUMNS)
        Index(
            "ix_installments_unsettled",
            *UNSETTLED_COLUMNS,
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
