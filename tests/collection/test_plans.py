"""Repayment plans (分期还款) through their life, on SQLite and PostgreSQL.

Loan S1: 12,000 at 24% over 12 months from 15 Jan 2024 (installments of 1,134.72 due
the 15th; 罚息/复利 at 36% a year). Unpaid from 15 Feb, so on 21 Mar two installments
are overdue with 罚息 and 复利.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from daihou.auth.permissions import PermissionDenied
from daihou.collection.approval_models import ApprovalRequest, PlanStatusChange, RepaymentPlan
from daihou.collection.models import CaseStatusChange
from daihou.collection.plan_rules import PlanInvalid
from daihou.collection.plans import (
    approve_plan,
    overdue_total,
    request_plan,
    review_plans,
    sign_plan,
)
from daihou.db.engine import transaction
from daihou.eod.models import LoanSnapshot
from daihou.ledger.service import trial_balance
from daihou.loans.models import Loan
from daihou.payments.recompute import replay_loan
from daihou.policy import load_pack
from tests.collection.plans_helpers import (
    SENIOR,
    SUP,
    SUP2,
    D,
    installments,
    open_case,
    owed,
)
from tests.collection.plans_helpers import request_plan_of as _request
from tests.collection.plans_helpers import signed_plan as _signed
from tests.eod.helpers import eod, loan_row, pay, today
from tests.factories import add_loans, init_book
from tests.factories import loan_row as csv_row


@pytest.fixture
def book(engine: Engine, tmp_path: Path) -> Engine:
    init_book(engine, date(2024, 1, 15))
    add_loans(engine, tmp_path, [csv_row("S1")])
    eod(engine, date(2024, 3, 20))
    open_case(engine, "S1", rpc=date(2024, 3, 18))
    return engine


def test_signing_replaces_the_overdue_amounts(book: Engine) -> None:
    assert today(book) == date(2024, 3, 21)
    before = installments(book, "S1")
    overdue = sum((owed(r) for r in before if r.due_date <= date(2024, 3, 21)), D("0"))
    with transaction(book) as s:
        assert overdue_total(s, "S1", date(2024, 3, 21)) == overdue
    assert overdue > D("2269.44")  # two installments plus 罚息/复利
    plan_id = _signed(book)
    rows = installments(book, "S1")
    plan_rows = [r for r in rows if r.period > 1000]
    assert [r.period for r in plan_rows] == [1001, 1002, 1003]
    assert [r.due_date for r in plan_rows] == [
        date(2024, 4, 20),
        date(2024, 5, 20),
        date(2024, 6, 20),
    ]
    amounts = [owed(r) for r in plan_rows]
    assert sum(amounts, D("0")) == overdue  # to the fen
    assert amounts[0] == amounts[1] and amounts[2] - amounts[0] < D("0.03")
    # 罚息/复利 moved with the rest and stay penalty
    moved_penalty = sum((r.penalty_due - r.penalty_paid for r in before), D("0"))
    assert sum((r.penalty_due for r in plan_rows), D("0")) == moved_penalty
    old = [r for r in rows if r.period in (1, 2)]
    assert all(r.status == "paid" for r in old)
    loan = loan_row(book, "S1")
    assert loan.restructured_until == date(2024, 9, 21)  # + 6 observation months
    with transaction(book) as s:
        plan = s.get(RepaymentPlan, plan_id)
        assert plan is not None and plan.status == "active"
        history = s.scalars(
            select(PlanStatusChange.new_status)
            .where(PlanStatusChange.plan_id == plan_id)
            .order_by(PlanStatusChange.id)
        ).all()
        assert history == ["requested", "approved", "active"]
        assert trial_balance(s).balanced
    # end of day: nothing is overdue now, but the class floor 关注 holds
    eod(book, date(2024, 3, 21))
    loan = loan_row(book, "S1")
    assert (loan.dpd, loan.bucket, loan.risk_class) == (0, "M0", "special-mention")
    # cache == a fresh replay
    cached = [(r.period, r.penalty_due, r.penalty_paid) for r in installments(book, "S1")]
    on = today(book)
    with transaction(book) as s:
        result, _ = replay_loan(s, s.get(Loan, "S1"), as_of=on)  # type: ignore[arg-type]
        assert [
            (i.period, i.due["penalty"], i.paid["penalty"]) for i in result.installments
        ] == cached


def test_dpd_counts_from_the_plan_installments_and_a_miss_reverts(book: Engine) -> None:
    plan_id = _signed(book)
    eod(book, date(2024, 4, 14))
    pay(book, "S1", "1134.72", "reg-3")  # the contractual installment of 15 Apr, early
    eod(book, date(2024, 4, 22))
    loan = loan_row(book, "S1")
    assert (loan.dpd, loan.bucket) == (2, "M1")  # from the plan row of 20 Apr
    with transaction(book) as s:
        assert review_plans(session=s) == {"completed": 0, "broken": 0, "lapsed": 0}
    eod(book, date(2024, 4, 29))
    assert today(book) == date(2024, 4, 30)  # 20 Apr + 10 days
    with transaction(book) as s:
        assert review_plans(session=s) == {"completed": 0, "broken": 1, "lapsed": 0}
    rows = [r for r in installments(book, "S1") if r.period > 1000]
    assert {r.due_date for r in rows} == {date(2024, 4, 20), date(2024, 4, 30)}
    eod(book, date(2024, 5, 3))
    assert loan_row(book, "S1").dpd == 13
    # end of day's set-based 罚息/复利 on plan rows (carried + accrued) == the replay
    cached = [
        (r.period, r.due_date, r.penalty_due, r.compound_due) for r in installments(book, "S1")
    ]
    on = today(book)
    with transaction(book) as s:
        result, _ = replay_loan(s, s.get(Loan, "S1"), as_of=on)  # type: ignore[arg-type]
        assert [
            (i.period, i.due_date, i.due["penalty"], i.due["compound"]) for i in result.installments
        ] == cached
    with transaction(book) as s:
        plan = s.get(RepaymentPlan, plan_id)
        assert plan is not None and plan.status == "broken" and plan.break_txn_id is not None
        change = s.scalars(select(CaseStatusChange).where(CaseStatusChange.field == "plan")).one()
        assert (change.old_value, change.new_value) == ("active", "broken-revert")
        assert trial_balance(s).balanced


def test_paid_plan_completes(book: Engine) -> None:
    plan_id = _signed(book)
    for k, due in enumerate((date(2024, 4, 20), date(2024, 5, 20), date(2024, 6, 20))):
        eod(book, due - timedelta(days=1))
        assert today(book) == due
        owing = sum((owed(r) for r in installments(book, "S1") if r.due_date <= due), D("0"))
        pay(book, "S1", str(owing), f"on-time-{k}")
        with transaction(book) as s:
            assert review_plans(session=s)["completed"] == (1 if k == 2 else 0)
    with transaction(book) as s:
        plan = s.get(RepaymentPlan, plan_id)
        assert plan is not None and plan.status == "completed"


def test_backdated_payment_before_signing_replays_through_the_plan(book: Engine) -> None:
    _signed(book)
    before = sum((owed(r) for r in installments(book, "S1") if r.period > 1000), D("0"))
    pay(book, "S1", "500.00", "late-news", on=date(2024, 3, 1))
    rows = installments(book, "S1")
    after = sum((owed(r) for r in rows if r.period > 1000), D("0"))
    on = today(book)
    # less is owed (500 and the 罚息 it avoided) and the plan rows shrank from the end
    assert after < before - D("500.00")
    with transaction(book) as s:
        result, _ = replay_loan(s, s.get(Loan, "S1"), as_of=on)  # type: ignore[arg-type]
        assert [
            (i.period, i.due["principal"], i.paid["principal"]) for i in result.installments
        ] == [(r.period, r.principal_due, r.principal_paid) for r in rows]
        assert trial_balance(s).balanced


def test_plan_needs_approval_by_someone_else(book: Engine) -> None:
    plan_id = _request(book, actor=SUP)
    with transaction(book) as s, pytest.raises(PermissionDenied, match="maker–checker"):
        approve_plan(session=s, actor=SUP, plan_id=plan_id, reason="my own")
    with transaction(book) as s, pytest.raises(PermissionDenied, match=r"may not plan\.approve"):
        approve_plan(session=s, actor=SENIOR, plan_id=plan_id, reason="not mine to approve")
    with transaction(book) as s, pytest.raises(Exception, match="not approved"):
        sign_plan(session=s, actor=SENIOR, plan_id=plan_id)
    with transaction(book) as s:
        approve_plan(session=s, actor=SUP2, plan_id=plan_id, approve=False, reason="too long")
        req = s.scalars(select(ApprovalRequest)).one()
        assert (req.status, req.decided_by) == ("rejected", "sv2")
        assert req.decided_basis is not None and req.decided_basis["role"] == "supervisor"


def test_plan_validation_names_fields_and_writes_nothing(book: Engine) -> None:
    with pytest.raises(PlanInvalid) as caught:
        _request(book, installments=7, monthly_income="-1", first_due_on=date(2024, 3, 1))
    fields = [f for f, _ in caught.value.problems]
    assert fields == ["monthly_income", "installments", "first_due_on"]
    with pytest.raises(PlanInvalid) as caught:
        _request(book, installments=3, monthly_income="2000.00")  # 30% = 600 < ~760
    assert [f for f, _ in caught.value.problems] == ["amounts[1]", "amounts[2]", "amounts[3]"]
    assert "600.00" in str(caught.value)
    with transaction(book) as s:
        assert s.scalars(select(RepaymentPlan)).all() == []
        assert s.scalars(select(ApprovalRequest)).all() == []


def test_an_approved_plan_not_signed_in_time_lapses(book: Engine) -> None:
    plan_id = _request(book)
    with transaction(book) as s:
        approve_plan(session=s, actor=SUP, plan_id=plan_id, reason="ok")
    with transaction(book) as s, pytest.raises(Exception, match="already has a plan"):
        request_plan(
            session=s,
            actor=SENIOR,
            loan_id="S1",
            installments=3,
            monthly_income="3000",
            first_due_on=date(2024, 5, 20),
        )
    eod(book, date(2024, 4, 18))  # business date 19 Apr: it can still be signed
    with transaction(book) as s:
        assert review_plans(session=s)["lapsed"] == 0
    eod(book, date(2024, 4, 19))  # 20 Apr, its first due date: too late
    with transaction(book) as s:
        assert review_plans(session=s)["lapsed"] == 1
        plan = s.get(RepaymentPlan, plan_id)
        assert plan is not None and plan.status == "cancelled"
    with transaction(book) as s, pytest.raises(Exception, match="is cancelled, not approved"):
        sign_plan(session=s, actor=SENIOR, plan_id=plan_id)
    _request(book, installments=6, monthly_income="9000", first_due_on=date(2024, 5, 25))


def test_backdated_payment_after_signing_rewrites_closed_days(book: Engine) -> None:
    _signed(book)
    eod(book, date(2024, 4, 14))
    pay(book, "S1", "1134.72", "reg-3")
    eod(book, date(2024, 4, 25))

    def dpds() -> list[int]:
        with transaction(book) as s:
            return list(
                s.scalars(
                    select(LoanSnapshot.dpd)
                    .where(
                        LoanSnapshot.loan_id == "S1",
                        LoanSnapshot.business_date >= date(2024, 4, 20),
                    )
                    .order_by(LoanSnapshot.business_date)
                )
            )

    assert dpds() == [0, 1, 2, 3, 4, 5]
    row1 = next(r for r in installments(book, "S1") if r.period == 1001)
    pay(book, "S1", str(owed(row1)), "plan-1-late-news", on=date(2024, 4, 21))
    assert dpds() == [0, 0, 0, 0, 0, 0]
    assert loan_row(book, "S1").dpd == 0
    with transaction(book) as s:
        assert trial_balance(s).balanced


def test_observation_period_starts_at_signing_in_replayed_history(book: Engine) -> None:
    _signed(book)
    eod(book, date(2024, 3, 22))
    pay(book, "S1", "2400.00", "found-in-suspense", on=date(2024, 2, 10))  # cures it all

    def classes(since: date, until: date) -> set[tuple[int, str]]:
        with transaction(book) as s:
            return set(
                s.execute(
                    select(LoanSnapshot.dpd, LoanSnapshot.risk_class).where(
                        LoanSnapshot.loan_id == "S1",
                        LoanSnapshot.business_date >= since,
                        LoanSnapshot.business_date <= until,
                    )
                ).tuples()
            )

    assert classes(date(2024, 2, 10), date(2024, 3, 20)) == {(0, "normal")}
    assert classes(date(2024, 3, 21), date(2024, 3, 22)) == {(0, "special-mention")}


def test_a_miss_can_escalate_instead_of_reverting(book: Engine) -> None:
    plan_id = _signed(book)
    base = load_pack()
    escalate = base.model_copy(
        update={
            "approvals": base.approvals.model_copy(
                update={
                    "plans": base.approvals.plans.model_copy(
                        update={"on_missed": "escalate", "broken_after_days": 3}
                    )
                }
            )
        }
    )
    eod(book, date(2024, 4, 22))  # 20 Apr + 3 days is 23 Apr, the business date now
    with transaction(book) as s:
        assert review_plans(session=s, pack=escalate)["broken"] == 1
        plan = s.get(RepaymentPlan, plan_id)
        assert plan is not None and plan.status == "broken" and plan.break_txn_id is None
        change = s.scalars(select(CaseStatusChange).where(CaseStatusChange.field == "plan")).one()
        assert change.new_value == "broken-escalate"
    dates = [r.due_date for r in installments(book, "S1") if r.period > 1000]
    assert dates == [date(2024, 4, 20), date(2024, 5, 20), date(2024, 6, 20)]  # unchanged
