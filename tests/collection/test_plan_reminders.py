"""Pre-due reminders when a plan installment (分期还款) falls due on a regular due date.

Loan S1 (as in test_plans.py, two years on, when the contact gate's pack is in force):
12,000 over 12 months from 15 Jan 2026, installments due the 15th, unpaid from 15 Feb.
The plan signed on 21 Mar puts its first installment on
15 Apr, the day the contractual installment 3 falls due too: one loan, two pending rows
on one date. The run must plan each reminder rule once for the loan (the treatments'
unique key is per loan, rule and slot) and remind of what falls due that day: both rows.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from daihou.db.engine import transaction
from daihou.notify.models import OutboxMessage
from daihou.policy import load_pack
from tests.collection.helpers import close_and_run, treatments
from tests.collection.plans_helpers import D, installments, open_case, owed, signed_plan
from tests.eod.helpers import eod
from tests.factories import add_loans, init_book
from tests.factories import loan_row as csv_row

START = date(2026, 1, 15)
DUE = date(2026, 4, 15)


@pytest.fixture
def book(engine: Engine, tmp_path: Path) -> Engine:
    init_book(engine, START)
    add_loans(engine, tmp_path, [csv_row("S1", disbursed_on=START)])
    eod(engine, date(2026, 3, 20))
    open_case(engine, "S1", rpc=date(2026, 3, 18))
    return engine


def _reminder_slots(k: int) -> Counter[tuple[str, int]]:
    """(rule id, slot) the default strategy plans for a non-first installment k days ahead."""
    rules = load_pack().collections.champion.rules
    return Counter(
        (r.id, slot)
        for r in rules
        if r.days_before_due == k and not r.first_due_only
        for slot in range(len(r.times))
    )


def test_plan_installment_on_a_schedule_due_date_is_reminded_once(book: Engine) -> None:
    signed_plan(book, first_due_on=DUE)
    rows = [r for r in installments(book, "S1") if r.due_date == DUE]
    assert sorted(r.period for r in rows) == [3, 1001]  # the schedule's and the plan's
    assert all(r.status == "pending" for r in rows)
    total = sum((owed(r) for r in rows), D("0"))
    for k in (3, 1):
        d = DUE - timedelta(days=k + 1)  # contacts go out on d + 1, k days before DUE
        report = close_and_run(book, d)
        assert report.business_date == d and not report.already_run
        reminders = [r for r in treatments(book, d, status=None) if r.days_before_due is not None]
        expected = _reminder_slots(k)
        assert expected  # the default strategy reminds k days before every due date
        assert Counter((r.rule_id, r.slot) for r in reminders) == expected
        assert {(r.loan_id, r.days_before_due) for r in reminders} == {("S1", k)}
        queued = [r.message_id for r in reminders if r.status == "queued"]
        assert queued  # at least the SMS
        with transaction(book) as s:
            for message_id in queued:
                message = s.get(OutboxMessage, message_id)
                assert message is not None
                assert message.variables["due_date"] == DUE.isoformat()
                # what falls due that day: the plan's installment and the schedule's
                assert D(message.variables["amount"]) == total
