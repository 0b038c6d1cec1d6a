"""An ordinary day looks at a current loan whose installment falls due that day, whether
or not the pack runs the due step first (without it the installment is still pending)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from daihou.db.engine import transaction
from daihou.eod.models import LoanSnapshot
from daihou.eod.runner import run_eod
from daihou.loans.models import Installment
from daihou.policy.loader import load_pack
from tests.eod.helpers import eod, first_installments
from tests.factories import add_loans, init_book, loan_row


def _pictured(engine: Engine, on: date) -> list[str]:
    with transaction(engine) as s:
        return list(
            s.scalars(
                select(LoanSnapshot.loan_id)
                .where(LoanSnapshot.business_date == on)
                .order_by(LoanSnapshot.loan_id)
            )
        )


def _status(engine: Engine, loan_id: str, period: int) -> str:
    with transaction(engine) as s:
        return s.scalars(
            select(Installment.status).where(
                Installment.loan_id == loan_id, Installment.period == period
            )
        ).one()


def test_a_loan_falling_due_is_looked_at_with_or_without_the_due_step(
    engine: Engine, tmp_path: Path
) -> None:
    init_book(engine, date(2024, 2, 10))
    add_loans(engine, tmp_path, [loan_row("T1")])
    due = first_installments(engine, "T1", 1)[0].due_date
    eod(engine, due - timedelta(days=2))  # the first night: a full run
    default = load_pack()
    assert default.eod.steps[0] == "due"
    # the night before: nothing falls due, the current loan is not looked at
    eod(engine, due - timedelta(days=1))
    assert _pictured(engine, due - timedelta(days=1)) == []

    without_due = default.model_copy(
        update={
            "eod": default.eod.model_copy(
                update={"steps": [s for s in default.eod.steps if s != "due"]}
            )
        }
    )
    run_eod(engine, through=due, pack=without_due)
    assert _status(engine, "T1", 1) == "pending"  # no due step flipped it
    assert _pictured(engine, due) == ["T1"]  # found by the pending rows falling due

    eod(engine, due + timedelta(days=1))  # the default pack again: the due step runs
    assert _status(engine, "T1", 1) == "due"
    assert _pictured(engine, due + timedelta(days=1)) == ["T1"]  # found as unsettled
