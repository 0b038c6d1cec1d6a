"""A short simulation end to end on SQLite and PostgreSQL: invariants and determinism."""

from __future__ import annotations

from datetime import UTC, date, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import exists, func, select

from daihou.collection.contact_models import ContactLog
from daihou.collection.models import CollectionCase
from daihou.collection.tables import CollectionTask
from daihou.compliance.gate.models import ContactAttempt
from daihou.db.engine import make_engine, transaction
from daihou.demo.run import run_simulation
from daihou.eod.calendar import business_date
from daihou.eod.models import EodRun
from daihou.loans.models import Installment, Loan
from daihou.payments.models import Transaction

START = date(2026, 5, 1)


def test_short_simulation_keeps_the_invariants(db_url: str) -> None:
    summary = run_simulation(db_url, loans=150, days=45, seed=3, start=START)
    assert summary.balanced
    assert summary.start == START and summary.end == START + timedelta(days=44)
    engine = make_engine(db_url)
    with transaction(engine) as s:
        # every simulated day was closed by end of day, and only those
        closed = set(s.scalars(select(EodRun.business_date).distinct()))
        assert closed == {START + timedelta(days=k) for k in range(45)}
        assert business_date(s) == START + timedelta(days=45)
        # every first due date fell inside the simulation and borrowers paid
        firsts = s.scalars(select(func.min(Installment.due_date)).group_by(Installment.loan_id))
        assert all(START <= d < START + timedelta(days=45) for d in firsts)
        paid = s.scalar(
            select(func.count()).select_from(Transaction).where(Transaction.kind == "repayment")
        )
        assert paid == summary.counts["payments"] > 0
        # the summary's overdue figure is the book's
        overdue = sum(
            s.scalars(
                select(Loan.outstanding_principal).where(Loan.status == "active", Loan.dpd > 0)
            ),
            Decimal("0.00"),
        )
        assert Decimal(summary.kpis["overdue_balance"]) == overdue
        # every overdue loan has an open case; every collector task has an owner
        uncovered = s.scalar(
            select(func.count())
            .select_from(Loan)
            .where(
                Loan.status == "active",
                Loan.dpd > 0,
                ~exists().where(CollectionCase.loan_id == Loan.id, CollectionCase.status == "open"),
            )
        )
        assert uncovered == 0
        assert s.scalar(select(func.count()).select_from(CollectionCase)) > 0
        orphans = s.scalar(
            select(func.count())
            .select_from(CollectionTask)
            .where(
                CollectionTask.assignee_role == "collector",
                CollectionTask.collector_user_id.is_(None),
            )
        )
        assert orphans == 0
        # no contact outside the gate: every outbound contact was recorded by it, at a
        # local time the quiet hours allow
        logs = s.execute(
            select(ContactLog.attempt_id, ContactAttempt.at_utc)
            .outerjoin(ContactAttempt, ContactAttempt.id == ContactLog.attempt_id)
            .where(ContactLog.direction == "outbound")
        ).all()
        assert logs, "collectors worked their lists"
        assert all(attempt is not None for attempt, _ in logs)
        zone = ZoneInfo("Asia/Shanghai")
        for _, at in s.execute(select(ContactAttempt.id, ContactAttempt.at_utc)).all():
            local = at.replace(tzinfo=UTC).astimezone(zone)
            assert time(8) <= local.time() < time(22), local
    engine.dispose()


def test_same_seed_same_summary_other_seed_other_book(tmp_path: object) -> None:
    def once(name: str, seed: int) -> list[tuple[str, str]]:
        url = f"sqlite:///{tmp_path}/{name}.db"
        return run_simulation(url, loans=40, days=35, seed=seed, start=START).rows()

    assert once("a", 5) == once("b", 5)
    assert once("c", 5) != once("d", 6)
