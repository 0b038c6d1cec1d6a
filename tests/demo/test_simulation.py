"""A short simulation end to end on SQLite and PostgreSQL: invariants and determinism."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from daihou.db.engine import make_engine, transaction
from daihou.demo.run import run_simulation
from daihou.eod.calendar import business_date
from daihou.eod.models import EodRun
from daihou.loans.models import Installment, Loan
from daihou.payments.models import Transaction

START = date(2026, 5, 1)


def test_short_simulation_keeps_the_invariants(db_url: str) -> None:
    summary = run_simulation(db_url, loans=60, days=40, seed=3, start=START)
    assert summary.balanced
    assert summary.start == START and summary.end == START + timedelta(days=39)
    engine = make_engine(db_url)
    with transaction(engine) as s:
        # every simulated day was closed by end of day, and only those
        closed = set(s.scalars(select(EodRun.business_date).distinct()))
        assert closed == {START + timedelta(days=k) for k in range(40)}
        assert business_date(s) == START + timedelta(days=40)
        # every first due date fell inside the simulation and borrowers paid
        firsts = s.scalars(select(func.min(Installment.due_date)).group_by(Installment.loan_id))
        assert all(START <= d < START + timedelta(days=40) for d in firsts)
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
    engine.dispose()


def test_same_seed_same_summary_other_seed_other_book(tmp_path: object) -> None:
    def once(name: str, seed: int) -> list[tuple[str, str]]:
        url = f"sqlite:///{tmp_path}/{name}.db"
        return run_simulation(url, loans=40, days=35, seed=seed, start=START).rows()

    assert once("a", 5) == once("b", 5)
    assert once("c", 5) != once("d", 6)
