"""No statement of a simulated stretch of days walks the whole schedule table on SQLite.

The installments table is the book's largest (23 million rows at a million loans) and
has no index on ``status`` or ``due_date`` over all of it: reads not by loan go through
the partial index of one status (``loans.models.status_is``), which only a literal
status can use — a bound parameter quietly turns such a read into a scan."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine, event

from daihou.demo.run import run_simulation

PARTIAL = ("ix_installments_unsettled", "ix_installments_pending", "ix_installments_paid")
WALK = re.compile(r"^SCAN installments(\s|$)")
EVERY_LOAN = re.compile(
    r"^(SCAN loans$|SCAN loans USING (COVERING )?INDEX (ix_loans_status|sqlite_autoindex_loans_1)\b"
    r"|SEARCH loans USING (COVERING )?INDEX ix_loans_status\b)"
)  # the active loans, or all of them — not a partial index of a few
STATEMENT = re.compile(r"\s*(SELECT|INSERT|UPDATE|DELETE|WITH)")


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """The SQLite query plan of every distinct statement reading or writing the
    installments during a short simulation (end of day, collections, payments)."""
    tmp_path = tmp_path_factory.mktemp("schedule")
    plans: dict[str, list[str]] = {}

    def capture(conn: Any, cursor: Any, stmt: str, params: Any, ctx: Any, many: bool) -> None:
        if many or conn.dialect.name != "sqlite" or stmt in plans:
            return
        if "installments" not in stmt or not STATEMENT.match(stmt):
            return
        cur = conn.connection.dbapi_connection.cursor()
        try:
            plans[stmt] = [row[3] for row in cur.execute("EXPLAIN QUERY PLAN " + stmt, params)]
        finally:
            cur.close()

    event.listen(Engine, "before_cursor_execute", capture)
    try:
        run_simulation(
            f"sqlite:///{tmp_path}/sim.db", loans=150, days=40, seed=3, start=date(2026, 5, 1)
        )
    finally:
        event.remove(Engine, "before_cursor_execute", capture)
    return {re.sub(r"\s+", " ", stmt): plan for stmt, plan in plans.items()}


def plan_of(plans: dict[str, list[str]], start: str, *, after_with: bool = False) -> list[str]:
    """The plans of the statements beginning with ``start`` (``after_with``: or with a
    ``WITH`` clause and then ``start``)."""
    found = [
        plan
        for stmt, plan in plans.items()
        if stmt.startswith(start) or (after_with and stmt.startswith("WITH") and start in stmt)
    ]
    assert found, start
    return [line for plan in found for line in plan]


def test_no_statement_of_a_simulation_walks_the_schedule(plans: dict[str, list[str]]) -> None:
    assert len(plans) > 20  # the simulation's reads were seen
    walks = {
        stmt: plan
        for stmt, plan in plans.items()
        if any(WALK.match(line) and not any(ix in line for ix in PARTIAL) for line in plan)
    }
    assert not walks, "\n\n".join(f"{s}\n{p}" for s, p in walks.items())


def test_no_statement_walks_the_schedule_of_every_active_loan(
    plans: dict[str, list[str]],
) -> None:
    # the other way to read the whole schedule: every active loan (by the loans' status
    # index, or all of them) with its installments probed by loan key, which the
    # planner prefers when the installments' side has no usable index
    def walks(plan: list[str]) -> bool:
        every_loan = [k for k, line in enumerate(plan) if EVERY_LOAN.match(line)]
        return any(
            plan[j].startswith("SEARCH installments USING INDEX sqlite_autoindex_installments_1")
            for k in every_loan
            for j in range(k + 1, len(plan))
        )

    walking = {stmt: plan for stmt, plan in plans.items() if walks(plan)}
    assert not walking, "\n\n".join(f"{s}\n{p}" for s, p in walking.items())


def test_the_due_step_reads_the_pending_rows_by_date(plans: dict[str, list[str]]) -> None:
    plan = plan_of(
        plans, "UPDATE OR FAIL installments SET status=? WHERE installments.status = 'pending'"
    )
    assert plan == ["SEARCH installments USING INDEX ix_installments_pending (due_date<?)"]


def test_an_ordinary_day_finds_the_installments_falling_due_by_status_and_date(
    plans: dict[str, list[str]],
) -> None:
    # the candidates of an ordinary day: the unsettled rows (the day's newly due among
    # them) and the paid-ahead rows falling due, each off its own partial index; not the
    # pending rows, which the due step has just flipped (``eod.steps.ran_before``)
    plan = plan_of(plans, "INSERT INTO eod_work", after_with=True)
    for index in ("COVERING INDEX ix_installments_unsettled", "INDEX ix_installments_paid"):
        assert any(f"USING {index}" in line for line in plan), (index, plan)
    assert not any("ix_installments_pending" in line for line in plan), plan


def test_the_simulated_borrowers_read_what_they_owe_off_the_partial_indexes(
    plans: dict[str, list[str]],
) -> None:
    # pending and due rows up to the day, not every installment of every active loan
    # probed by its loan key (the plan of ``status IN ('pending', 'due')``)
    plan = plan_of(plans, "SELECT anon_1.loan_id, sum(anon_1.owed)")
    assert any("USING INDEX ix_installments_pending (due_date<?)" in line for line in plan)
    assert any("USING COVERING INDEX ix_installments_unsettled" in line for line in plan)
    assert not any("sqlite_autoindex_installments_1" in line for line in plan), plan
