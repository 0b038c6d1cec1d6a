"""A full run recomputes every active loan's cached delinquency, even where DPD has not
moved, though it writes work rows only for the loans whose DPD, bucket or class does."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import Engine, select, text, update

from daihou.db.engine import transaction
from daihou.eod.models import EodRun
from daihou.loans.models import Loan
from tests.eod.helpers import eod, first_installments, pay
from tests.factories import add_loans, init_book, loan_row

OVERDUE, CURRENT = ["F0", "F1", "F2", "F3"], ["F4", "F5", "F6"]


def _cached(engine: Engine) -> dict[str, tuple[int, str, str]]:
    with transaction(engine) as s:
        return {r.id: (r.dpd, r.bucket, r.risk_class) for r in s.scalars(select(Loan))}


def test_a_full_run_repairs_a_cached_bucket_or_class_whose_dpd_is_right(
    engine: Engine, tmp_path: Path
) -> None:
    init_book(engine, date(2024, 2, 10))
    add_loans(engine, tmp_path, [loan_row(k) for k in OVERDUE + CURRENT])
    eod(engine, date(2024, 2, 14))
    for k in CURRENT:  # these pay their first installment and stay current
        due = first_installments(engine, k, 1)[0]
        pay(engine, k, str(due.principal_due + due.interest_due), f"{k}-a")
    eod(engine, date(2024, 2, 19))
    assert _cached(engine) == {
        **{k: (4, "M1", "special-mention") for k in OVERDUE},
        **{k: (0, "M0", "normal") for k in CURRENT},
    }
    with transaction(engine) as s:
        # cached values out of step with the loan's DPD (an edit outside end of day, a
        # policy pack changed since): on two current loans whose DPD will not move, and
        # on an overdue one
        s.execute(update(Loan).where(Loan.id == "F4").values(bucket="M3"))
        s.execute(update(Loan).where(Loan.id == "F5").values(risk_class="doubtful"))
        s.execute(update(Loan).where(Loan.id == "F1").values(bucket="M0", risk_class="normal"))

    eod(engine, date(2024, 2, 20), full=True)

    assert _cached(engine) == {
        **{k: (5, "M1", "special-mention") for k in OVERDUE},
        **{k: (0, "M0", "normal") for k in CURRENT},
    }
    with transaction(engine) as s:
        run = s.scalars(
            select(EodRun).where(
                EodRun.business_date == date(2024, 2, 20), EodRun.step == "delinquency"
            )
        ).one()
        # the run row counts the loans looked at, every active one; work rows are kept
        # for those that moved or were repaired, not for F6
        assert (run.mode, run.loans) == ("full", 7)
        assert list(s.scalars(text("SELECT loan_id FROM eod_work ORDER BY loan_id"))) == [
            "F0",
            "F1",
            "F2",
            "F3",
            "F4",
            "F5",
        ]
