"""The loans end of day looks at every day (``loans.models.WATCH``, partial index
``ix_loans_watch``) hold every delinquent loan through its class, and the nightly DPD
update of those loans changes no indexed column."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, Index, select

from daihou.db.engine import transaction
from daihou.eod.runner import run_eod
from daihou.loans.models import WATCH, Loan
from daihou.policy import load_pack
from daihou.policy.schema import ClassFloor, Delinquency
from tests.eod.helpers import pay
from tests.factories import add_loans, init_book, loan_row

START = date(2024, 1, 10)


@pytest.mark.parametrize(
    "floors",
    [
        [ClassFloor(min_dpd=31, risk_class="special-mention")],
        [ClassFloor(min_dpd=91, risk_class="substandard")],
        [],
    ],
)
def test_floors_must_start_at_one_day_past_due(floors: list[ClassFloor]) -> None:
    with pytest.raises(ValidationError, match="floors must include one from min_dpd 1"):
        Delinquency(floors=floors)


def test_floors_from_one_day_are_accepted() -> None:
    d = Delinquency(
        floors=[
            ClassFloor(min_dpd=91, risk_class="substandard"),
            ClassFloor(min_dpd=1, risk_class="special-mention"),
        ]
    )
    assert min(f.min_dpd for f in d.effective_floors()) == 1


def test_no_index_of_loans_holds_dpd() -> None:
    """An index on ``dpd`` (as a column or in a partial index's WHERE) would make the
    nightly DPD update of every delinquent loan rewrite index entries (SQLite) and stop
    it being heap-only (PostgreSQL)."""
    indexes: set[Index] = set(Loan.__table__.indexes)
    assert "ix_loans_watch" in {i.name for i in indexes}
    for index in indexes:
        assert "dpd" not in {c.name for c in index.columns}, index.name
        for dialect in ("sqlite", "postgresql"):
            where = index.dialect_options[dialect]["where"]
            assert where is None or "dpd" not in str(where), index.name


def test_every_delinquent_loan_is_watched(engine: Engine, tmp_path: Path) -> None:
    """Over 100 closed days of loans that miss, pay late, partly, and pay off, every loan
    end of day leaves with DPD > 0 is in the watch set, under both classification
    variants (so an ordinary day finds it even once nothing of it is due any more)."""
    init_book(engine, START)
    rows = [
        loan_row(
            f"W{k}",
            disbursed_on=(START - timedelta(days=20 + 7 * k)).isoformat(),
            term_months="6",
            principal=f"{3000 + 500 * k}.00",
        )
        for k in range(6)
    ]
    add_loans(engine, tmp_path, rows)
    card = load_pack().model_copy(update={"delinquency": Delinquency(classification="card")})
    payments = {
        START + timedelta(days=40): [("W1", "700.00"), ("W2", "150.00")],
        START + timedelta(days=70): [("W3", "9000.00"), ("W2", "2000.00")],
        START + timedelta(days=85): [("W4", "600.00")],
    }
    seen_delinquent: set[str] = set()
    d = START
    while d <= START + timedelta(days=100):
        for loan_id, amount in payments.get(d, []):
            pay(engine, loan_id, amount, f"{loan_id}-{d}")
        run_eod(engine, through=d, pack=card if d.day % 2 else None)
        with transaction(engine) as s:
            delinquent = set(s.scalars(select(Loan.id).where(Loan.dpd > 0)))
            watched = set(s.scalars(select(Loan.id).where(WATCH)))
        assert delinquent <= watched, d
        seen_delinquent |= delinquent
        d += timedelta(days=1)
    assert len(seen_delinquent) >= 4  # not a trivial book
    assert any(p.startswith("W3") for p in seen_delinquent)


def test_the_nightly_dpd_update_rewrites_no_index_entry(engine: Engine, tmp_path: Path) -> None:
    """What the database does with ``UPDATE loans SET dpd``: on SQLite the statement's
    program opens no index of ``loans`` for writing; on PostgreSQL every such update is
    heap-only (HOT), counted by the server for the transaction."""
    init_book(engine, START)
    add_loans(engine, tmp_path, [loan_row(f"H{k}", disbursed_on="2023-12-01") for k in range(5)])
    with engine.connect() as conn:  # nothing is committed: rolled back below
        if engine.dialect.name == "sqlite":
            program = conn.exec_driver_sql("EXPLAIN UPDATE loans SET dpd = dpd + 1").all()
            roots = dict(conn.exec_driver_sql("SELECT rootpage, name FROM sqlite_master").all())
            opened = {roots[row[3]] for row in program if row[1] == "OpenWrite"}
            assert opened == {"loans"}
        else:
            conn.exec_driver_sql("UPDATE loans SET dpd = dpd + 1")
            upd, hot = conn.exec_driver_sql(
                "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables"
                " WHERE relname = 'loans' AND schemaname = current_schema()"
            ).one()
            assert upd == 5
            assert hot == upd
        conn.rollback()
