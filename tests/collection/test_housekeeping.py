"""Housekeeping in the daily collections run: approval expiry and plan review.

Loans S1 and S2 (as in test_plans, two years later so that the compliance pack of the
contact gate is in force: 12,000 over 12 months from 15 Jan 2026, unpaid from 15 Feb).
S1 signs a plan whose first installment (20 Apr) is missed; S2 has a plan request that
nobody decided before it expired.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update

from daihou.collection.approval_models import ApprovalRequest, RepaymentPlan
from daihou.collection.housekeeping import housekeeping
from daihou.collection.models import CaseStatusChange
from daihou.collection.run import run_collections
from daihou.compliance.audit.models import AuditRecord
from daihou.db.engine import transaction
from daihou.payments.models import Transaction
from daihou.policy import load_pack
from tests.collection.plans_helpers import open_case, request_plan_of, signed_plan
from tests.eod.helpers import eod, today
from tests.factories import add_loans, init_book
from tests.factories import loan_row as csv_row

FIRST = date(2026, 4, 20)  # the plan's first installment
CLOSED = date(2026, 4, 29)  # the business date is 30 Apr: 20 Apr + the 10 days' grace


@pytest.fixture
def book(engine: Engine, tmp_path: Path) -> Engine:
    init_book(engine, date(2026, 1, 15))
    add_loans(engine, tmp_path, [csv_row(k, disbursed_on="2026-01-15") for k in ("S1", "S2")])
    eod(engine, date(2026, 3, 20))
    open_case(engine, "S1", rpc=date(2026, 3, 18))
    open_case(engine, "S2", rpc=date(2026, 3, 18))
    return engine


def state(engine: Engine) -> list[object]:
    with transaction(engine) as s:
        plans = s.execute(select(RepaymentPlan.id, RepaymentPlan.status).order_by("id")).all()
        requests = s.execute(select(ApprovalRequest.id, ApprovalRequest.status).order_by("id"))
        return [
            [tuple(p) for p in plans],
            [tuple(r) for r in requests],
            s.scalar(select(func.count()).select_from(Transaction)),
            s.scalar(select(func.count()).select_from(CaseStatusChange)),
            s.scalar(select(func.count()).select_from(AuditRecord)),
        ]


def test_the_daily_run_breaks_a_missed_plan_and_expires_requests(book: Engine) -> None:
    plan_id = signed_plan(book, "S1", first_due_on=FIRST)
    lapsing = request_plan_of(book, loan_id="S2", first_due_on=FIRST)
    with transaction(book) as s:
        s.execute(update(ApprovalRequest).values(expires_on=date(2026, 4, 1)))
    eod(book, CLOSED)
    assert today(book) == date(2026, 4, 30)

    report = run_collections(book, CLOSED)
    assert report.counts["housekeeping"] == {
        "approvals_expired": 1,
        "plans_completed": 0,
        "plans_broken": 1,
        "plans_lapsed": 0,
    }
    with transaction(book) as s:
        plan = s.get(RepaymentPlan, plan_id)
        assert plan is not None and plan.status == "broken" and plan.break_txn_id is not None
        change = s.scalars(select(CaseStatusChange).where(CaseStatusChange.field == "plan")).one()
        assert (change.old_value, change.new_value) == ("active", "broken-revert")
        request = s.scalars(select(ApprovalRequest).where(ApprovalRequest.loan_id == "S2")).one()
        assert request.status == "expired"
        assert s.get(RepaymentPlan, lapsing).status == "cancelled"  # type: ignore[union-attr]
    after = state(book)

    # the same date again: the stored counts, nothing changes
    again = run_collections(book, CLOSED)
    assert again.already_run and again.counts == report.counts
    assert state(book) == after
    # the step itself twice: nothing left to do
    with transaction(book) as s:
        assert housekeeping(s, CLOSED, load_pack()) == {
            "approvals_expired": 0,
            "plans_completed": 0,
            "plans_broken": 0,
            "plans_lapsed": 0,
        }
    assert state(book) == after


def test_a_plan_kept_to_date_is_left_alone(book: Engine) -> None:
    plan_id = signed_plan(book, "S1", first_due_on=FIRST)
    eod(book, date(2026, 4, 14))
    report = run_collections(book, date(2026, 4, 14))  # before the first plan date
    assert report.counts["housekeeping"]["plans_broken"] == 0
    with transaction(book) as s:
        assert s.get(RepaymentPlan, plan_id).status == "active"  # type: ignore[union-attr]
