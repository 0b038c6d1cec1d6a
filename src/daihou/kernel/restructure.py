"""Repayment plans (分期还款) inside the replay: pure rules over the schedule rows.

A signed plan is a ``restructure`` event on its signing date: everything owed on the
installments due on or before that date (principal, interest, fee, 罚息, 复利) moves
into the plan's installments, which the replay keeps in the schedule next to the
contractual ones (``kind == "plan"``, periods ``number × 1000 + k``). The old rows are
left settled; the plan rows fall due on their own dates, so days past due count from
the oldest unpaid plan row. The plan rows are filled in the product's allocation order
up to each signed amount, the last row taking any rest: a backdated payment before the
signing date that lowered what was owed makes the last rows smaller, never wrong.

A broken plan is a ``plan-break`` event: every plan row not yet due falls due at once.
Both are ordinary events, so a backdated posting replays through them deterministically.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from daihou.kernel.allocation import COMPONENTS
from daihou.kernel.money import ZERO
from daihou.kernel.state import InstallmentState

PLAN_PERIOD_BASE = 1000
WAIVABLE = ("penalty", "compound")  # 罚息, 复利


def plan_period(number: int, k: int) -> int:
    return number * PLAN_PERIOD_BASE + k


def plan_of(period: int) -> int:
    """The plan number of a plan row's period (0 for contractual rows)."""
    return period // PLAN_PERIOD_BASE


def sort_rows(rows: Sequence[InstallmentState]) -> list[InstallmentState]:
    return sorted(rows, key=lambda r: (r.due_date, r.period))


def restructure(
    rows: list[InstallmentState],
    *,
    day: date,
    plan: Sequence[tuple[date, Decimal]],
    number: int,
    components: Sequence[str],
    rate: Decimal,
) -> list[InstallmentState]:
    """Move what is owed on rows due by ``day`` into the plan's rows."""
    if not plan or number < 1:
        raise ValueError("a restructuring needs a plan number and at least one installment")
    moved = dict.fromkeys(COMPONENTS, ZERO)
    for row in rows:
        if row.due_date > day or row.settled:
            continue
        for c in COMPONENTS:
            owed = row.owed(c)
            if owed <= ZERO:
                continue
            moved[c] += owed
            row.due[c] -= owed
            if c == "penalty":
                row.penalty_carried -= owed
            elif c == "compound":
                row.compound_carried -= owed
        if row.paid_on is None:
            row.paid_on = day
    order = [c for c in components if c in COMPONENTS]
    new_rows: list[InstallmentState] = []
    start = day
    for k, (due_date, amount) in enumerate(plan, start=1):
        last = k == len(plan)
        due = dict.fromkeys(COMPONENTS, ZERO)
        room = amount
        for c in order:
            take = moved[c] if last else min(moved[c], room)
            due[c] += take
            moved[c] -= take
            room -= take
        if any(v > ZERO for v in due.values()):
            new_rows.append(
                InstallmentState(
                    period=plan_period(number, k),
                    start_date=start,
                    due_date=due_date,
                    annual_rate=rate,
                    due=due,
                    kind="plan",
                    penalty_carried=due["penalty"],
                    compound_carried=due["compound"],
                )
            )
        start = due_date
    return sort_rows([*rows, *new_rows])


def accelerate(rows: list[InstallmentState], *, day: date, number: int) -> list[InstallmentState]:
    """Plan broken: every row of plan ``number`` due after ``day`` falls due on ``day``."""
    for row in rows:
        if row.kind == "plan" and plan_of(row.period) == number and row.due_date > day:
            row.due_date = day
    return sort_rows(rows)
