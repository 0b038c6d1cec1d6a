"""The exact fix-up path of the set-based accrual adds a repayment plan row's carried
罚息/复利 too: with every row forced through ``_exact_fixups``, end of day's cached
amounts still equal a fresh replay (plan rows: carried + accrued on the base)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine

from daihou.db.engine import transaction
from daihou.eod import accrual
from daihou.loans.models import Loan
from daihou.payments.recompute import replay_loan
from tests.collection.plans_helpers import installments
from tests.collection.test_plans import _signed
from tests.collection.test_plans import book as book
from tests.eod.helpers import eod, today


def test_exact_fixups_add_carried_amounts(book: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    _signed(book)
    # every amount is "too large for floats": all rows take the exact Python path
    monkeypatch.setattr(accrual, "FLOAT_LIMIT", 0.0)
    eod(book, date(2024, 5, 3))
    rows = installments(book, "S1")
    plan_rows = [r for r in rows if r.period > 1000]
    assert any(r.penalty_carried != 0 for r in plan_rows)  # the case this test is about
    assert any(r.penalty_due > r.penalty_carried for r in plan_rows)  # and they accrued
    cached = [(r.period, r.due_date, r.penalty_due, r.compound_due) for r in rows]
    on = today(book)
    with transaction(book) as s:
        result, _ = replay_loan(s, s.get(Loan, "S1"), as_of=on)  # type: ignore[arg-type]
        assert [
            (i.period, i.due_date, i.due["penalty"], i.due["compound"]) for i in result.installments
        ] == cached
