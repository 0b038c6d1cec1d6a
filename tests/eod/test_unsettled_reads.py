"""End of day reads the unsettled installments through ``ix_installments_unsettled`` on
SQLite (``INDEXED BY``), by loan, and the accrual walks the installments, not the loans."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError

from daihou.db.engine import make_engine
from daihou.db.models import Base
from daihou.loans.models import UNSETTLED, Installment, via_unsettled
from tests.eod.helpers import eod
from tests.factories import add_loans, init_book, loan_row

START = date(2024, 6, 1)


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """INDEXED BY and these plans are SQLite's: these tests run on SQLite only."""
    eng = make_engine(f"sqlite:///{tmp_path}/plans.db")
    Base.metadata.create_all(eng)
    yield eng
    eng.dispose()


def test_the_hint_is_sqlite_only() -> None:
    stmt = via_unsettled(select(Installment.loan_id).where(UNSETTLED))
    assert "INDEXED BY ix_installments_unsettled" in str(stmt.compile(dialect=sqlite.dialect()))
    assert "INDEXED BY" not in str(stmt.compile(dialect=postgresql.dialect()))


def _plans(engine: Engine, tmp_path: Path) -> dict[str, list[str]]:
    """Close three dates of a book with overdue loans, capturing the SQLite query plans of
    the statements that read the unsettled installments."""
    init_book(engine, START)
    add_loans(
        engine,
        tmp_path,
        [
            loan_row(f"U{k}", disbursed_on="2023-12-01", term_months="12", principal="9000.00")
            for k in range(3)
        ],
    )
    wanted = {
        "accrual": r"INSERT INTO eod_accrual_work",
        "delinquency": r"(WITH oldest AS (?s:.*))?INSERT INTO eod_work",
        "snapshot": r"INSERT (OR FAIL )?INTO loan_snapshots",
        "kpis": r"SELECT coalesce\(sum\(installments\.principal_due\)",
        "due": r"SELECT loans\.id\s+FROM loans INDEXED BY ix_loans_credit",
        "accrual update": r"UPDATE (OR FAIL )?installment_accruals SET",
    }
    plans: dict[str, list[str]] = {}

    def capture(conn: Any, cursor: Any, stmt: str, params: Any, ctx: Any, many: bool) -> None:
        for name, pattern in wanted.items():
            if many or not re.match(r"\s*" + pattern, stmt):
                continue
            if name in ("snapshot", "delinquency") and name in plans:
                name = f"ordinary {name}"  # the first date is a full run, the next not
            if name not in plans:
                cur = conn.connection.dbapi_connection.cursor()
                plans[name] = [r[3] for r in cur.execute("EXPLAIN QUERY PLAN " + stmt, params)]
                cur.close()

    event.listen(engine, "before_cursor_execute", capture)
    try:
        eod(engine, date(2024, 6, 3))
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    return plans


def test_end_of_day_reads_the_partial_index_by_loan(sqlite_engine: Engine, tmp_path: Path) -> None:
    plans = _plans(sqlite_engine, tmp_path)
    assert set(plans) == {
        *("accrual", "delinquency", "snapshot", "ordinary snapshot", "kpis", "due"),
        *("accrual update", "ordinary delinquency"),
    }
    plans.pop("due")
    plans.pop("accrual update")
    plans.pop("ordinary delinquency")  # its candidates read other indexes too: below
    # an ordinary day's snapshot reads no installment: its amounts come from the
    # delinquency step's work rows and the night's accruals rows
    ordinary = plans.pop("ordinary snapshot")
    assert not any("installments" in line for line in ordinary), ordinary
    assert any("eod_work" in line for line in ordinary), ordinary
    # each loan's accruals row of the night found by its key, not the night walked per loan
    assert any("ix_accruals_loan_date (loan_id=? AND business_date=?)" in x for x in ordinary)
    assert sum("accruals" in x for x in ordinary) == 1, ordinary  # one probe for both amounts
    for name, plan in plans.items():
        # the index alone: it holds every column these reads take (UNSETTLED_COLUMNS)
        assert any("USING COVERING INDEX ix_installments_unsettled" in line for line in plan), (
            name,
            plan,
        )
        assert not any("ix_installments_pending" in line for line in plan), (name, plan)
    # the accrual's outer loop is the index of unsettled rows, each joined to its loan —
    # not every loan of the book probing its installments
    first = next(line for line in plans["accrual"] if "installments" in line or "loans" in line)
    assert first == "SCAN installments USING COVERING INDEX ix_installments_unsettled"
    assert any(line.startswith("SEARCH loans") for line in plans["accrual"])


def test_the_due_step_finds_loans_in_credit_without_reading_the_falling_due_rows(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    # the few loans holding credit, in id order, each probed for an installment falling
    # due by its loan key — not every falling-due installment fetched for its loan_id
    plan = _plans(sqlite_engine, tmp_path)["due"]
    assert plan[0] == "SCAN loans USING INDEX ix_loans_credit", plan
    assert any(
        line.startswith("SEARCH installments USING INDEX sqlite_autoindex_installments_1")
        for line in plan
    ), plan
    assert not any("ix_installments_pending" in line for line in plan), plan
    assert not any("TEMP B-TREE" in line for line in plan), plan


def test_the_accrual_applies_its_work_rows_by_installment_key(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    # the night's few accruing rows, each finding its accrual row by key — not every
    # accrual row probing the work table
    plan = _plans(sqlite_engine, tmp_path)["accrual update"]
    assert plan == [
        "SCAN eod_accrual_work",
        "SEARCH installment_accruals USING INTEGER PRIMARY KEY (rowid=?)",
    ], plan


def test_a_statement_that_cannot_use_the_index_fails_rather_than_scans(
    sqlite_engine: Engine,
) -> None:
    # status given as a bound parameter: the partial index's WHERE is not implied
    stmt = via_unsettled(select(Installment.loan_id).where(Installment.status == "due"))
    with (
        sqlite_engine.connect() as conn,
        pytest.raises(OperationalError, match="no query solution"),
    ):
        conn.execute(stmt).all()


def test_the_delinquency_pass_reads_the_unsettled_rows_once(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    # an ordinary day's candidates take the loans of the per-loan pass over the unsettled
    # rows rather than reading the partial index a second time
    plan = _plans(sqlite_engine, tmp_path)["ordinary delinquency"]
    reads = [x for x in plan if "ix_installments_unsettled" in x]
    assert len(reads) == 1, plan
    assert reads[0] == "SCAN installments USING COVERING INDEX ix_installments_unsettled", plan
