"""Overdue amount (逾期金额) of loans, set-based: what is due and unpaid.

The overdue amount of a loan is the unpaid principal, interest, fee, 罚息 and 复利 of
its installments in status ``due`` (end of day marks them). Computed in integer fen
in SQL so a whole batch of loans costs one query on either engine.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Select, func, select, type_coerce
from sqlalchemy.orm import Session

from daihou.kernel.money import from_fen
from daihou.loans.models import Installment, accrued_due_fen, status_is


def _fen(column: Any) -> Any:
    return type_coerce(column, BigInteger)


def unpaid_fen_expr() -> Any:
    """Per installment: Σ (due − paid) over the components, in fen (罚息 and 复利 due
    read from the installment's accrual row by one key probe)."""
    i = Installment
    expr: Any = accrued_due_fen(i.id)
    for c in ("principal", "interest", "fee"):
        expr = expr + _fen(getattr(i, f"{c}_due"))
    for c in ("principal", "interest", "fee", "penalty", "compound"):
        expr = expr - _fen(getattr(i, f"{c}_paid"))
    return expr


def overdue_fen_query() -> Select[tuple[str, int]]:
    """``(loan_id, overdue_fen)`` for every loan with a due installment (a subquery)."""
    return (
        select(Installment.loan_id, func.sum(unpaid_fen_expr()).label("overdue_fen"))
        .where(status_is(Installment.status, "due"))
        .group_by(Installment.loan_id)
    )


def overdue_amounts(session: Session, loan_ids: Iterable[str]) -> dict[str, Decimal]:
    """Overdue amount per loan; loans with nothing due map to 0.00."""
    ids = sorted(set(loan_ids))
    result = {loan_id: Decimal("0.00") for loan_id in ids}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = session.execute(overdue_fen_query().where(Installment.loan_id.in_(chunk)))
        for loan_id, fen in rows:
            result[loan_id] = from_fen(int(fen or 0))
    return result
