"""Payment allocation (还款冲销顺序) over installments and components.

The order is product policy. The default follows Civil Code art. 561: costs (fees), then
interest — penalty (罚息), compound (复利), contractual — then principal; installments
oldest first, each paid in full before the next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from daihou.kernel.money import ZERO

COMPONENTS = ("fee", "penalty", "compound", "interest", "principal")


@dataclass(frozen=True, slots=True)
class Outstanding:
    """What is still unpaid on one due installment, per component."""

    period: int
    amounts: dict[str, Decimal]


@dataclass(frozen=True, slots=True)
class Applied:
    period: int | None  # None for customer credit (溢缴款)
    component: str
    amount: Decimal


def allocate(
    amount: Decimal,
    outstanding: Sequence[Outstanding],
    *,
    components: Sequence[str] = COMPONENTS,
    by: str = "installment",
    newest_first: bool = False,
) -> tuple[list[Applied], Decimal]:
    """Apply ``amount`` to ``outstanding`` (given oldest first); return parts and leftover.

    The parts plus the leftover always sum to ``amount``; no part exceeds what is owed.
    """
    if amount < 0:
        raise ValueError("amount to allocate must not be negative")
    rows = list(reversed(outstanding)) if newest_first else list(outstanding)
    if by == "installment":
        slots = [(row, c) for row in rows for c in components]
    elif by == "component":
        slots = [(row, c) for c in components for row in rows]
    else:
        raise ValueError(f"unknown allocation mode {by!r}")
    left = amount
    parts: list[Applied] = []
    for row, component in slots:
        if left <= ZERO:
            break
        owed = row.amounts.get(component, ZERO)
        if owed <= ZERO:
            continue
        paid = min(owed, left)
        parts.append(Applied(row.period, component, paid))
        left -= paid
    return parts, left
