"""The replay's starting states: one per scheduled installment, built positionally."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from daihou.kernel.allocation import COMPONENTS
from daihou.kernel.money import ZERO
from daihou.kernel.replay import _new_state, _state
from daihou.kernel.schedule import ScheduleTerms, generate_schedule, schedule_rows
from daihou.kernel.state import InstallmentState

TERMS = ScheduleTerms(
    principal=Decimal("12000.00"),
    annual_rate=Decimal("0.24"),
    months=12,
    method="equal-installment",
    start=date(2024, 1, 15),
)


def test_a_state_is_the_installment_due_with_nothing_paid() -> None:
    rows = generate_schedule(TERMS)
    for kind in ("regular", "plan"):
        for row in rows:
            due = dict.fromkeys(COMPONENTS, ZERO)
            due["principal"], due["interest"] = row.principal, row.interest
            expected = InstallmentState(
                period=row.period,
                start_date=row.start_date,
                due_date=row.due_date,
                annual_rate=row.annual_rate,
                due=due,
                kind=kind,
            )
            got = _state(row, kind)
            assert got == expected
            assert list(got.due) == list(COMPONENTS) and list(got.paid) == list(COMPONENTS)


def test_states_share_no_dicts() -> None:
    first, second = (_state(row) for row in generate_schedule(TERMS)[:2])
    first.paid["principal"] += Decimal("1.00")
    first.due["fee"] += Decimal("2.00")
    assert second.paid["principal"] == ZERO and second.due["fee"] == ZERO
    assert _state(generate_schedule(TERMS)[0]).paid["principal"] == ZERO


def test_states_built_from_the_figures_equal_states_of_the_schedule_rows() -> None:
    """The replay builds its states by ``schedule_rows`` without ``ScheduledInstallment``
    objects in between; bullet and odd first periods included."""
    for terms in (
        TERMS,
        replace(TERMS, method="bullet"),
        replace(TERMS, method="equal-principal", first_due=date(2024, 3, 1), months=7),
    ):
        assert list(schedule_rows(terms, _new_state)) == [
            _state(row) for row in generate_schedule(terms)
        ]
