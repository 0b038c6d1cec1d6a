"""One installment of a loan's schedule as the replay builds it (due and paid per
component), shared by the replay and the restructuring rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from daihou.kernel.allocation import COMPONENTS
from daihou.kernel.money import ZERO


@dataclass(slots=True)
class InstallmentState:
    period: int
    start_date: date
    due_date: date
    annual_rate: Decimal
    due: dict[str, Decimal]
    paid: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(COMPONENTS, ZERO))
    paid_on: date | None = None
    kind: str = "regular"  # regular | prepayment | payoff | plan
    penalty_base: int = 0  # Σ overdue principal in fen over accrued nights (fen·days)
    compound_base: int = 0  # Σ overdue interest in fen over accrued nights
    # 罚息/复利 moved in (+) or out (−) by a restructuring: due = carried + accrued(base)
    penalty_carried: Decimal = ZERO
    compound_carried: Decimal = ZERO

    def owed(self, component: str) -> Decimal:
        return self.due.get(component, ZERO) - self.paid[component]

    @property
    def settled(self) -> bool:
        # owed(c) <= 0 for every component; a plain loop is 3x faster than all(...) with
        # owed() and this is the replay's hottest call
        due, paid = self.due, self.paid
        for c in COMPONENTS:  # noqa: SIM110
            if due.get(c, ZERO) > paid[c]:
                return False
        return True

    def status(self, as_of: date) -> str:
        if self.settled:
            return "paid"
        return "due" if self.due_date <= as_of else "pending"
