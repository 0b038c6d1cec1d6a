"""``daihou demo generate`` writes what import + posting + recompute would write."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from daihou.db.engine import make_engine, transaction
from daihou.demo.generate import generate_book
from daihou.eod.calendar import initialise_business_date
from daihou.ledger.service import trial_balance
from daihou.loans.models import Customer, Installment, Loan
from daihou.payments.models import Allocation, Transaction
from daihou.payments.recompute import recompute_loan, replay_loan
from tests.eod.helpers import eod
from tests.services.snapshots import loan_state

TODAY = date(2026, 3, 31)


def _generated(engine: Engine, loans: int, seed: int = 7) -> list[str]:
    with transaction(engine) as s:
        initialise_business_date(s, TODAY)
    result = generate_book(engine, loans=loans, seed=seed)
    assert result.loans == loans
    with transaction(engine) as s:
        return list(s.scalars(select(Loan.id).order_by(Loan.id)))


def test_generated_book_equals_recompute_of_every_loan(engine: Engine) -> None:
    ids = _generated(engine, 300)
    with transaction(engine) as s:
        before = {loan_id: loan_state(s, loan_id) for loan_id in ids}
        assert trial_balance(s).balanced
        # customers are stored encrypted and read back through the column type
        customer = s.scalars(select(Customer).limit(1)).one()
        assert len(customer.id_number) == 18 and customer.phone.startswith("1")
    with transaction(engine) as s:
        for loan_id in ids:
            recompute_loan(s, loan_id)
    with transaction(engine) as s:
        after = {loan_id: loan_state(s, loan_id) for loan_id in ids}
        # recompute wrote nothing new: no correcting journal entry, same allocations
        assert s.scalar(select(func.count()).select_from(Transaction)) == len(ids) + sum(
            1 for v in before.values() if v["allocations"]
        )
    assert after == before
    # a realistic book: current and delinquent loans, partial payments, pending rows
    statuses = {row[3] for v in before.values() for row in v["installments"]}
    assert statuses == {"paid", "due", "pending"}
    with transaction(engine) as s:
        overdue = s.scalar(
            select(func.count(func.distinct(Installment.loan_id))).where(
                Installment.status == "due", Installment.due_date < TODAY
            )
        )
        partial = s.scalar(
            select(func.count())
            .select_from(Installment)
            .where(Installment.status == "due", Installment.interest_paid > 0)
        )
        assert s.scalar(select(func.count()).select_from(Allocation)) > 0
    assert 10 <= (overdue or 0) <= 60 and (partial or 0) > 0


def test_eod_on_a_generated_book_equals_replay(engine: Engine) -> None:
    ids = _generated(engine, 120, seed=3)
    eod(engine, TODAY + timedelta(days=2))
    now = TODAY + timedelta(days=3)
    with transaction(engine) as s:
        assert trial_balance(s).balanced
        delinquent = 0
        for loan_id in ids:
            loan = s.get(Loan, loan_id)
            assert loan is not None
            result, _ = replay_loan(s, loan, as_of=now)
            cached = s.scalars(
                select(Installment)
                .where(Installment.loan_id == loan_id)
                .order_by(Installment.period)
            ).all()
            assert [(i.penalty_due, i.compound_due, i.penalty_base) for i in cached] == [
                (r.due["penalty"], r.due["compound"], r.penalty_base) for r in result.installments
            ], loan_id
            delinquent += loan.dpd > 0
    assert delinquent > 0


def test_same_seed_same_book_and_empty_book_required(engine: Engine) -> None:
    _generated(engine, 50, seed=9)
    with transaction(engine) as s:
        first = [
            (i.loan_id, i.period, i.due_date, i.principal_due, i.principal_paid)
            for i in s.scalars(
                select(Installment).order_by(Installment.loan_id, Installment.period)
            )
        ]
    with pytest.raises(ValueError, match="already holds loans"):
        generate_book(engine, loans=10, seed=9)
    from daihou.demo.generate import plan_loans, templates

    rows, _, _ = plan_loans(50, 9, TODAY, templates())
    assert [r[1] for r in rows] == sorted({f[0] for f in first})
    assert len(first) > 50


def test_cli_demo_generate_then_eod(tmp_path: Path) -> None:
    from tests.test_cli import run

    db = str(tmp_path / "gen.db")
    out = run("demo", "generate", "--loans", "200", "--db", db, "--seed", "4")
    assert "generated 200 loans" in out
    assert "closed 2026-03-31" in run("eod", "--db", db)
    engine = make_engine(f"sqlite:///{db}")
    with transaction(engine) as s:
        assert trial_balance(s).balanced
        assert s.scalar(select(func.count()).select_from(Loan).where(Loan.dpd > 0))
    engine.dispose()
