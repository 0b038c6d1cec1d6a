"""Pre-due reminder subjects: loans with an installment falling due ``k`` days after the
next day and nothing overdue — checked against a plain scan of the installments."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from daihou.collection.facts import reminder_facts
from daihou.db.engine import transaction
from daihou.loans.models import Installment, Loan
from daihou.policy import load_pack
from tests.eod.helpers import eod, pay
from tests.factories import add_loans, init_book, loan_row

START = date(2026, 1, 15)


def _by_scan(engine: Engine, d: date, offsets: set[int]) -> set[tuple[str, int]]:
    """(loan, k) where an active loan owes nothing due and has a pending installment on
    d + 1 + k: what the query must find, computed row by row."""
    targets = {d + timedelta(days=1 + k): k for k in offsets}
    with transaction(engine) as s:
        active = set(s.scalars(select(Loan.id).where(Loan.status == "active")))
        rows = s.execute(select(Installment.loan_id, Installment.status, Installment.due_date))
        owing, coming = set(), set()
        for loan_id, status, due in rows:
            if status == "due":
                owing.add(loan_id)
            elif status == "pending" and due in targets:
                coming.add((loan_id, targets[due]))
    return {(loan, k) for loan, k in coming if loan in active and loan not in owing}


def test_reminders_skip_loans_that_owe_anything(engine: Engine, tmp_path: Path) -> None:
    init_book(engine, START)  # LATER falls due on the 12th, the others on the 15th
    add_loans(
        engine,
        tmp_path,
        [
            loan_row("PAYS", disbursed_on=START),
            loan_row("OWES", disbursed_on=START),
            loan_row("LATER", disbursed_on=START - timedelta(days=3)),
        ],
    )
    eod(engine, date(2026, 2, 11))
    pay(engine, "LATER", "1134.72", "r-1")  # installment 1 (894.72 + 240.00), due 12 Feb
    eod(engine, date(2026, 2, 14))
    pay(engine, "PAYS", "1134.72", "r-2")  # installment 1, due 15 Feb
    settings = load_pack().collections
    offsets = {1, 3, 6}
    seen: set[tuple[str, int]] = set()
    for d in (date(2026, 3, 8), date(2026, 3, 10), date(2026, 3, 11), date(2026, 3, 13)):
        eod(engine, d)
        with transaction(engine) as s:
            facts = reminder_facts(s, business_date=d, settings=settings, offsets=offsets)
        got = {(f.loan_id, f.days_before_due) for f in facts}
        assert len(got) == len(facts)  # one fact per loan and date
        assert got == _by_scan(engine, d, offsets), d
        assert all(f.dpd is None and not f.first_due for f in facts)
        seen |= {(loan, k) for loan, k in got if k is not None}
    # PAYS is reminded of 15 Mar at 6, 3 and 1 days; LATER of 12 Mar; OWES never
    assert {loan for loan, _ in seen} == {"PAYS", "LATER"}
    assert {k for loan, k in seen if loan == "PAYS"} == {1, 3, 6}
