"""Floating-rate loans: LPR + spread, repriced on 1 January, every change recorded."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from daihou.db.engine import transaction
from daihou.ledger.models import JournalEntry, JournalLine
from daihou.loans.book import import_loans, needs_replay
from daihou.loans.import_file import ImportRejected, read_rows
from daihou.loans.importer import parse_rows
from daihou.loans.lpr import add_lpr
from daihou.loans.models import Installment, Loan, RateChange
from daihou.loans.service import loan_view
from daihou.payments.models import Allocation
from daihou.payments.recompute import recompute_loan, replay_loan
from daihou.policy import load_pack
from tests.factories import add_loans, init_book, loan_row, write_csv

D = Decimal


def test_imported_floating_mortgage_reprices_each_january(engine: Engine, tmp_path: Path) -> None:
    init_book(engine, date(2025, 3, 1))
    # disbursed 2023-06-10 at 5y LPR 4.20% − 20 bp = 4.00%; repriced on 1 Jan 2024 with
    # LPR 4.20% (unchanged: no record) and on 1 Jan 2025 with LPR 3.60% → 3.40%
    add_loans(
        engine,
        tmp_path,
        [
            loan_row(
                "F1",
                product="mortgage",
                principal="1000000",
                annual_rate="4%",
                term_months=240,
                disbursed_on="2023-06-10",
                lpr_spread_bps="-20",
            )
        ],
    )
    with transaction(engine) as s:
        view = loan_view(s, "F1")
    assert view.rate_changes == [(date(2025, 1, 1), D("0.04"), D("0.034"), "lpr-repricing")]
    assert view.current_rate == D("0.034")
    by_due = {i.due_date: i for i in view.installments}
    # the period in course on 1 Jan 2025 (10 Dec → 10 Jan) keeps 4%; the next is at 3.4%
    assert by_due[date(2025, 1, 10)].due["interest"] > by_due[date(2025, 2, 10)].due["interest"]
    assert sum(i.due["principal"] for i in view.installments) == D("1000000.00")
    # a new fixing effective before the next repricing changes it and is replayed
    with transaction(engine) as s:
        assert add_lpr(s, tenor="5y", effective_on=date(2024, 12, 20), rate=D("0.0345")) == 1
        view = loan_view(s, "F1")
        loan = view
    assert view.rate_changes[-1][2] == D("0.0325")
    with transaction(engine) as s:
        from daihou.loans.models import Loan

        result, _ = replay_loan(s, s.get(Loan, "F1"), as_of=date(2025, 3, 1))
        assert result.current_rate == loan.current_rate == D("0.0325")


def test_spread_only_for_floating_products(engine: Engine, tmp_path: Path) -> None:
    init_book(engine, date(2025, 3, 1))
    path = write_csv(
        tmp_path / "bad.csv",
        [
            loan_row("X1", lpr_spread_bps="-20"),
            loan_row("X2", product="mortgage", lpr_spread_bps="abc"),
        ],
    )
    with pytest.raises(ImportRejected) as err:
        import_loans(engine=engine, path=path)
    message = str(err.value)
    assert "row 2, lpr_spread_bps" in message and "no floating rate" in message
    assert "row 3, lpr_spread_bps" in message


def _loan_state(s: Session, loan_id: str) -> tuple[object, ...]:
    """Everything a replay of the loan may write: installments, rate changes,
    allocations, journal lines, the loan's cached columns."""
    inst = s.execute(
        select(Installment.__table__).where(Installment.loan_id == loan_id).order_by("period")
    ).all()
    changes = s.execute(select(RateChange.__table__).where(RateChange.loan_id == loan_id)).all()
    allocations = s.scalar(select(func.count()).select_from(Allocation))
    lines = s.scalar(select(func.count()).select_from(JournalLine))
    entries = s.scalar(select(func.count()).select_from(JournalEntry))
    loan = s.get(Loan, loan_id)
    assert loan is not None
    cached = (loan.outstanding_principal, loan.current_rate, loan.status, loan.closed_on)
    return tuple(inst), tuple(changes), allocations, lines, entries, cached


def test_import_replays_only_floating_loans_a_repricing_has_reached(
    engine: Engine, tmp_path: Path
) -> None:
    """A new floating loan with no repricing date between its disbursement and the
    business date is not replayed by the import: a replay would write nothing (checked
    here by replaying it); one disbursed before a repricing is replayed."""
    init_book(engine, date(2025, 3, 1))
    rows = [
        loan_row(
            f"R{n}",
            product="mortgage",
            principal="800000",
            annual_rate=rate,
            term_months=360,
            method=method,
            disbursed_on=on,
            lpr_spread_bps=spread,
        )
        for n, (rate, method, on, spread) in enumerate(
            [
                ("4.1%", "equal-installment", "2025-02-03", "30"),  # rate ≠ LPR + spread
                ("3.6%", "equal-principal", "2025-01-15", "-30"),
                ("4%", "equal-installment", "2023-06-10", "-20"),  # repriced 1 Jan 2025
            ]
        )
    ]
    today, pack = date(2025, 3, 1), load_pack()
    parsed, errors = parse_rows(
        read_rows(write_csv(tmp_path / "parse.csv", rows)), pack=pack, business_date=today
    )
    assert not errors
    assert [needs_replay(r, pack, today, new=True) for r in parsed] == [False, False, True]
    assert needs_replay(parsed[0], pack, today, new=False)  # an update is always replayed
    add_loans(engine, tmp_path, rows)
    with transaction(engine) as s:
        for loan_id in ("R0", "R1"):
            before = _loan_state(s, loan_id)
            recompute_loan(s, loan_id, pack=pack)
            assert _loan_state(s, loan_id) == before, loan_id
        repriced = loan_view(s, "R2")
    assert [c[0] for c in repriced.rate_changes] == [date(2025, 1, 1)]
