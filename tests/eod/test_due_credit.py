"""The due step replays the loans holding credit (溢缴款) all at once
(``recompute_loans``) and writes exactly what ``recompute_loan`` writes loan by loan."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from daihou.db.engine import transaction
from daihou.eod.models import Accrual
from daihou.ledger.models import JournalEntry, JournalLine
from daihou.loans.models import IN_CREDIT, Installment, Loan, RateChange
from daihou.payments.recompute import recompute_loan
from daihou.payments.recompute_many import recompute_loans
from daihou.policy import load_pack
from tests.eod.helpers import eod, first_installments, pay, today
from tests.factories import add_loans, init_book, loan_row
from tests.services.snapshots import loan_state

LOANS = ["C1", "C2", "C3", "C4"]
OTHERS = ["N1", "N2"]  # no credit: left alone


def _book(engine: Engine, tmp_path: Path) -> None:
    """Four loans holding credit on 2024-03-15, the day their second installment falls
    due: a little credit (C1), more than the installment (C2), credit left after paying
    an overdue spell with 罚息 (C3), a floating-rate loan (C4); and two without credit,
    one on time (N1) and one overdue, paid in part (N2)."""
    init_book(engine, date(2024, 2, 10))
    add_loans(
        engine,
        tmp_path,
        [
            loan_row("C1"),
            loan_row("C2"),
            loan_row("C3"),
            loan_row("C4", product="mortgage", lpr_spread_bps="-20", term_months="60"),
            loan_row("N1"),
            loan_row("N2"),
        ],
    )
    eod(engine, date(2024, 2, 19))  # C3 and N2 are four days late with 罚息 accrued
    pay(engine, "C1", "1200.00", "C1-a", on=date(2024, 2, 15))
    pay(engine, "C2", "2500.00", "C2-a", on=date(2024, 2, 15))
    pay(engine, "C2", "1200.00", "C2-b")
    pay(engine, "C3", "1500.00", "C3-a")
    pay(engine, "C4", "4000.00", "C4-a", on=date(2024, 2, 15))
    first = first_installments(engine, "N1", 1)[0]
    pay(engine, "N1", str(first.principal_due + first.interest_due), "N1-a", on=first.due_date)
    pay(engine, "N2", "100.00", "N2-a")
    eod(engine, date(2024, 3, 14))
    assert today(engine) == date(2024, 3, 15)


def _picture(s: Session, since: int) -> dict[str, Any]:
    """Every row the recompute writes, without surrogate ids (PostgreSQL's sequences
    move on after a rollback)."""
    entries = s.execute(
        select(JournalEntry).where(JournalEntry.id > since).order_by(JournalEntry.id)
    ).scalars()
    return {
        "loans": {loan_id: loan_state(s, loan_id) for loan_id in [*LOANS, *OTHERS]},
        "rows": [
            tuple(r)
            for r in s.execute(
                select(Installment.loan_id, Installment.period, Installment.status).order_by(
                    Installment.loan_id, Installment.period
                )
            ).all()
        ],
        "credit": s.scalars(select(Loan.id).where(IN_CREDIT).order_by(Loan.id)).all(),
        "entries": [
            (
                e.kind,
                e.entry_date,
                e.booked_on,
                e.loan_id,
                e.transaction_id,
                e.memo,
                [
                    (line.account, line.debit, line.credit)
                    for line in s.scalars(
                        select(JournalLine)
                        .where(JournalLine.entry_id == e.id)
                        .order_by(JournalLine.id)
                    )
                ],
            )
            for e in list(entries)
        ],
        "accruals": [
            tuple(r)
            for r in s.execute(
                select(Accrual.loan_id, Accrual.business_date, Accrual.penalty, Accrual.compound)
                .where(Accrual.source == "recompute")
                .order_by(Accrual.id)
            ).all()
        ],
        "rate_changes": [
            tuple(r)
            for r in s.execute(
                select(RateChange.loan_id, RateChange.effective_on, RateChange.new_rate).order_by(
                    RateChange.loan_id, RateChange.effective_on
                )
            ).all()
        ],
    }


def test_recomputing_the_credit_loans_together_writes_what_one_by_one_writes(
    engine: Engine, tmp_path: Path
) -> None:
    _book(engine, tmp_path)
    pack = load_pack()
    with transaction(engine) as s:
        since = s.scalar(select(JournalEntry.id).order_by(JournalEntry.id.desc()).limit(1)) or 0
        before = _picture(s, since)
    assert before["credit"] == LOANS
    # each variant in its own transaction, rolled back, on the same book
    with engine.connect() as conn, Session(bind=conn) as s:
        trans = conn.begin()
        for loan_id in LOANS:
            recompute_loan(s, loan_id, pack=pack)
        one_by_one = _picture(s, since)
        trans.rollback()
    with engine.connect() as conn, Session(bind=conn) as s:
        trans = conn.begin()
        assert recompute_loans(s, reversed(LOANS), pack=pack) == len(LOANS)
        together = _picture(s, since)
        trans.rollback()
    assert one_by_one != before  # the credit paid what fell due: there was work to do
    assert one_by_one["entries"], "the credit's reallocation is journalled"
    assert together == one_by_one


def test_end_of_day_lets_the_credit_pay_what_falls_due(engine: Engine, tmp_path: Path) -> None:
    _book(engine, tmp_path)
    eod(engine, date(2024, 3, 15))
    with transaction(engine) as s:
        second = {
            i.loan_id: (i.status, i.principal_paid + i.interest_paid)
            for i in s.scalars(
                select(Installment).where(Installment.loan_id.in_(LOANS), Installment.period == 2)
            )
        }
    # C2 paid ahead more than the installment: settled on the day it fell due
    assert second["C2"][0] == "paid"
    assert all(paid > 0 for _, paid in second.values()), second
