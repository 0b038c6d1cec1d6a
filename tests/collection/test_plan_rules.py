"""Pure plan rules and the restructure events of the kernel replay."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daihou.collection.approval_policy import PlanSettings
from daihou.collection.plan_rules import PlanInvalid, check_plan, equal_amounts
from daihou.kernel.replay import Event, LoanTerms, replay

D = Decimal
S = PlanSettings()
TODAY = date(2024, 3, 21)


@given(
    total=st.integers(min_value=1, max_value=10**9).map(lambda f: D(f) / 100),
    n=st.integers(min_value=1, max_value=12),
)
def test_equal_amounts_sum_to_the_total(total: Decimal, n: int) -> None:
    parts = equal_amounts(total, n)
    assert sum(parts, D(0)) == total and len(parts) == n
    assert len(set(parts[:-1])) <= 1 and D(0) <= parts[-1] - parts[0] < D("0.01") * n


def test_count_bounds_and_income_cap() -> None:
    for n in (3, 6):
        _, rows = check_plan(
            settings=S,
            total=D("1800.00"),
            count=n,
            monthly_income="3000",
            first_due=date(2024, 4, 20),
            today=TODAY,
        )
        assert len(rows) == n and rows[1][0] == date(2024, 5, 20)
    for n in (2, 7, "3"):
        with pytest.raises(PlanInvalid) as caught:
            check_plan(
                settings=S,
                total=D("1800.00"),
                count=n,
                monthly_income="9000",
                first_due=date(2024, 4, 20),
                today=TODAY,
            )
        assert caught.value.field == "installments"
    # 1800 / 3 = 600 = exactly 30% of 2000: allowed; of 1999.99: not
    check_plan(
        settings=S,
        total=D("1800.00"),
        count=3,
        monthly_income="2000.00",
        first_due=date(2024, 4, 20),
        today=TODAY,
    )
    with pytest.raises(
        PlanInvalid,
        match=r"amounts\[1\]: 600.00 exceeds 30% of the monthly income 1999.99 \(599.99\)",
    ):
        check_plan(
            settings=S,
            total=D("1800.00"),
            count=3,
            monthly_income="1999.99",
            first_due=date(2024, 4, 20),
            today=TODAY,
        )


def test_explicit_amounts_must_be_fixed_and_sum() -> None:
    args = dict(
        settings=S,
        total=D("1800.00"),
        count=0,
        monthly_income="9000",
        first_due=date(2024, 4, 20),
        today=TODAY,
    )
    check_plan(**args, amounts=["600", "600", "600"])  # type: ignore[arg-type]
    with pytest.raises(PlanInvalid, match=r"amounts: sum to 1700\.00"):
        check_plan(**args, amounts=["600", "600", "500"])  # type: ignore[arg-type]
    with pytest.raises(PlanInvalid, match="fixed"):
        check_plan(**args, amounts=["500", "700", "600"])  # type: ignore[arg-type]
    with pytest.raises(PlanInvalid, match=r"amounts\[2\]"):
        check_plan(**args, amounts=["600", "x", "600"])  # type: ignore[arg-type]


TERMS = LoanTerms(
    principal=D("12000.00"),
    annual_rate=D("0.24"),
    months=12,
    method="equal-installment",
    start=date(2024, 1, 15),
)
PLAN = (
    (date(2024, 4, 20), D("800.00")),
    (date(2024, 5, 20), D("800.00")),
    (date(2024, 6, 20), D("800.00")),
)


def _plan_event(txn_id: int = 9) -> Event:
    return Event(txn_id, "restructure", TODAY, D("2400.00"), plan=PLAN, plan_number=1)


def test_restructure_moves_every_component_and_accelerate_brings_dates_forward() -> None:
    before = replay(TERMS, [], as_of=TODAY)
    owed = sum((i.owed(c) for i in before.installments if i.due_date <= TODAY for c in i.due), D(0))
    after = replay(TERMS, [_plan_event()], as_of=TODAY)
    plan = [i for i in after.installments if i.kind == "plan"]
    assert [i.period for i in plan] == [1001, 1002, 1003]
    assert sum((i.owed(c) for i in plan for c in i.due), D(0)) == owed
    assert [sum(i.due.values(), D(0)) for i in plan[:2]] == [D("800.00"), D("800.00")]
    # fee, 罚息, 复利, interest first (allocation order), principal last
    assert plan[0].due["penalty"] > 0 and plan[2].due["penalty"] == 0
    assert all(i.settled for i in after.installments if i.kind != "plan" and i.due_date <= TODAY)
    # a day later nothing is overdue; a month after the first plan date, only plan row 1 is
    broken = replay(
        TERMS,
        [_plan_event(), Event(10, "plan-break", date(2024, 5, 1), D(0), plan_number=1)],
        as_of=date(2024, 5, 2),
    )
    plan_dates = sorted(i.due_date for i in broken.installments if i.kind == "plan")
    assert plan_dates == [date(2024, 4, 20), date(2024, 5, 1), date(2024, 5, 1)]


def test_a_waiver_settles_penalty_only() -> None:
    base = replay(TERMS, [], as_of=TODAY)
    pen = sum((i.owed("penalty") + i.owed("compound") for i in base.installments), D(0))
    result = replay(TERMS, [Event(5, "waiver", TODAY, D("5.00"))], as_of=TODAY)
    assert sum(
        (i.owed("penalty") + i.owed("compound") for i in result.installments), D(0)
    ) == pen - D("5.00")
    assert {a.component for a in result.allocations[5]} <= {"penalty", "compound"}
    too_much = replay(TERMS, [Event(5, "waiver", TODAY, pen + 1)], as_of=TODAY)
    assert "found no 罚息/复利" in too_much.notes[5]
    assert sum((a.amount for a in too_much.allocations[5]), D(0)) == pen


def test_prepayment_and_repricing_leave_plan_rows_alone() -> None:
    prepay = Event(11, "prepayment", date(2024, 4, 1), D("3000.00"))
    result = replay(TERMS, [_plan_event(), prepay], as_of=date(2024, 4, 2))
    plan = [i for i in result.installments if i.kind == "plan"]
    alone = replay(TERMS, [_plan_event()], as_of=date(2024, 4, 2))
    assert [(i.period, i.due_date, i.due) for i in plan] == [
        (i.period, i.due_date, i.due) for i in alone.installments if i.kind == "plan"
    ]
    assert sum((i.due["principal"] for i in result.installments), D(0)) == D("12000.00")
    assert any(i.kind == "prepayment" for i in result.installments)
    dates = [i.due_date for i in result.installments]
    assert dates == sorted(dates)
