"""Tables of the daily collections run: treatments, collectors, task lists, runs.

``collection_treatments`` is the plan: one row per treatment a strategy rule produced
for a business date, slot by slot. Other parts read it:

- the run's ``messages`` step (``daihou.collection.outbox_link``) turns rows with
  ``status = 'planned'`` and ``action`` in (sms, email, letter) into outbox messages in
  the same transaction (``template`` is the message template code, ``planned_at`` the
  UTC time to send, ``customer_id``/``loan_id``/``case_id`` the subject) and sets
  ``status = 'queued'`` and ``message_id``;
- call, visit and review actions with status planned are grouped into
  ``collection_tasks``, one per (business_date, loan_id, kind = action), as long as
  the collector's daily capacity lasts. The work beyond it is written as no task: its
  treatments stay ``planned`` and carry ``deferred_to`` (the collector whose list it
  overflowed), ``deferred_rank`` (its place in that list, after the tasks: capacity +
  1 …) and ``deferred_priority`` (the task priority it was ranked by), the same three
  values on every slot of the (loan, action); tomorrow's run ranks it again.
  ``tasks.deferred_work`` lists it.

``status``: planned (the gate allowed it at ``planned_at``), denied-by-gate (the gate
refused: ``gate_rule``, ``gate_next_allowed``), skipped-hold (an active hold 停催),
skipped-promise (an open promise to pay pauses it), queued (an outbox message was
queued: ``message_id``), skipped-no-address (an e-mail or letter for a customer without
that address on file), skipped-no-template (no active template of the code),
skipped-nothing-due (nothing left to remind of), done.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, cast

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
    Table,
    UniqueConstraint,
    func,
    insert,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from daihou.db.base import Base
from daihou.db.ids import BigId
from daihou.db.types import Code

TREATMENT_STATUSES = (
    "planned",
    "denied-by-gate",
    "skipped-hold",
    "skipped-promise",
    "queued",
    "skipped-no-address",
    "skipped-nothing-due",
    "skipped-no-template",
    "done",
)
TASK_STATUSES = ("queued", "done")  # over-capacity work is no task: see deferred_to
TIERS = ("desk", "junior", "senior")


class CollectionTreatment(Base):
    """One planned treatment (催收动作) of one loan for one business date and slot."""

    __tablename__ = "collection_treatments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    business_date: Mapped[date] = mapped_column(Date)  # the closed date the run read
    work_date: Mapped[date] = mapped_column(Date)  # the day the treatment happens (D + 1)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("collection_cases.id"))
    loan_id: Mapped[str] = mapped_column(Code(64))
    customer_id: Mapped[str] = mapped_column(Code(64))
    rule_id: Mapped[str] = mapped_column(String(48))
    slot: Mapped[int] = mapped_column(Integer)  # 0, 1 … (times a day)
    action: Mapped[str] = mapped_column(String(24))
    channel: Mapped[str | None] = mapped_column(String(24))  # gate channel; None: no contact
    party: Mapped[str | None] = mapped_column(String(24))
    purpose: Mapped[str] = mapped_column(String(48))
    template: Mapped[str | None] = mapped_column(String(64))
    strategy: Mapped[str] = mapped_column(String(48))
    arm: Mapped[str] = mapped_column(String(16))
    dpd: Mapped[int | None] = mapped_column(Integer)  # T+n; None for reminders
    days_before_due: Mapped[int | None] = mapped_column(Integer)  # reminders
    planned_at: Mapped[datetime] = mapped_column(DateTime)  # UTC, naive
    status: Mapped[str] = mapped_column(String(20))
    gate_rule: Mapped[str | None] = mapped_column(String(96))
    gate_next_allowed: Mapped[datetime | None] = mapped_column(DateTime)  # UTC, naive
    done_at: Mapped[datetime | None] = mapped_column(DateTime)
    message_id: Mapped[str | None] = mapped_column(String(32))  # outbox_messages.id
    # person-work beyond its collector's daily capacity (no task row): whose list, the
    # place in it and the priority it was ranked by; None on every other treatment
    deferred_to: Mapped[str | None] = mapped_column(String(64))
    deferred_rank: Mapped[int | None] = mapped_column(Integer)
    deferred_priority: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        # the date's rows (the run's own re-run check, the messages step) are read
        # through this key's business_date prefix; a first day inserts 400,000 rows,
        # so no index is kept that no query uses
        UniqueConstraint("business_date", "loan_id", "rule_id", "slot", name="uq_treatment_slot"),
        Index("ix_treatments_rule_case", "rule_id", "case_id"),  # `once` rules
    )


class Collector(Base):
    """A collector (催收员): a user of ``users`` with a tier, a team, a territory (属地)
    and how many tasks a day they can work."""

    __tablename__ = "collectors"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.username"), primary_key=True)
    tier: Mapped[str] = mapped_column(String(12))  # desk | junior | senior
    team: Mapped[str | None] = mapped_column(String(64))
    territory: Mapped[str | None] = mapped_column(String(64))
    daily_capacity: Mapped[int] = mapped_column(Integer, default=80)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    left_on: Mapped[date | None] = mapped_column(Date)  # 离职
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())


class CollectionTask(Base):
    """One line of a task list (催收任务单): a kind of work on one loan for one day; its
    treatments are those of the same business date, loan and action (= ``kind``).

    ``assignee_role`` collector: the case owner's list (``collector_user_id``; None when
    no collector of the tier exists); supervisor: the review list of the case's team.
    ``status``: queued (within the collector's daily capacity, ``rank`` 1…), done
    (feedback received: ``feedback_at``). Work beyond the capacity is not a task: its
    treatments carry ``deferred_to``/``deferred_rank`` (``tasks.deferred_work``).
    """

    __tablename__ = "collection_tasks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    business_date: Mapped[date] = mapped_column(Date)
    work_date: Mapped[date] = mapped_column(Date)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("collection_cases.id"))
    loan_id: Mapped[str] = mapped_column(Code(64))
    customer_id: Mapped[str] = mapped_column(Code(64))
    kind: Mapped[str] = mapped_column(String(24))  # the treatment action
    assignee_role: Mapped[str] = mapped_column(String(12))
    collector_user_id: Mapped[str | None] = mapped_column(String(64))
    team: Mapped[str | None] = mapped_column(String(64))
    territory: Mapped[str | None] = mapped_column(String(64))
    slots: Mapped[int] = mapped_column(Integer, default=1)
    dpd: Mapped[int | None] = mapped_column(Integer)
    priority: Mapped[int] = mapped_column(BigInteger)  # overdue (CNY) × risk × DPD
    rank: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12))
    feedback_at: Mapped[datetime | None] = mapped_column(DateTime)  # UTC, naive

    __table_args__ = (
        UniqueConstraint("business_date", "loan_id", "kind", name="uq_task_kind"),
        Index("ix_tasks_collector", "work_date", "collector_user_id", "status"),
    )


class CollectionRun(Base):
    """One finished daily run; a second run for the same date returns this row."""

    __tablename__ = "collection_runs"

    business_date: Mapped[date] = mapped_column(Date, primary_key=True)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON)
    finished_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())


def bulk_insert(session: Session, model: type[Base], rows: list[dict[str, Any]]) -> None:
    """Core executemany in chunks (the ORM bulk path would split rows by their None keys)."""
    table = cast(Table, model.__table__)
    for i in range(0, len(rows), 20_000):
        session.execute(insert(table), rows[i : i + 20_000])


class FastRows:
    """Write many rows of plain values in the session's transaction, by the driver's
    fastest path: ``COPY`` on PostgreSQL, ``executemany`` on SQLite.

    Values go to the driver as they are, so dates and times must be given through
    ``date``/``time`` (ISO text on SQLite, as SQLAlchemy stores them; the objects on
    PostgreSQL) and booleans through ``flag``. Columns left out take their server
    defaults.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.sqlite = session.get_bind().dialect.name == "sqlite"

    def date(self, value: date | None) -> Any:
        return value.isoformat() if self.sqlite and value is not None else value

    def time(self, value: datetime | None) -> Any:
        if self.sqlite and value is not None:
            return value.strftime("%Y-%m-%d %H:%M:%S.%f")
        return value

    def flag(self, value: bool) -> Any:
        return int(value) if self.sqlite else value

    def write(
        self, model: type[Base], columns: tuple[str, ...], rows: Sequence[Sequence[Any]]
    ) -> None:
        if not rows:
            return
        table = cast(Table, model.__table__).name
        raw: Any = self.session.connection().connection.driver_connection
        names = ", ".join(columns)
        if self.sqlite:
            marks = ", ".join("?" for _ in columns)
            raw.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
            return
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
