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
from daihou.loans.models import Installment, status_is

_PAIRS = (
    ("principal_due", "principal_paid"),
    ("interest_due", "interest_paid"),
    ("fee_due", "fee_paid"),
    ("penalty_due", "penalty_paid"),
    ("compound_due", "compound_paid"),
)


def _fen(column: Any) -> Any:
    return type_coerce(column, BigInteger)


def unpaid_fen_expr() -> Any:
    """Per installment: Σ (due − paid) over the components, in fen."""
    expr: Any = None
    for due, paid in _PAIRS:
        part = _fen(getattr(Installment, due)) - _fen(getattr(Installment, paid))
        expr = part if expr is None else expr + part
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
