"""Champion–challenger (冠军挑战者): which strategy a loan's cases follow, and how each arm
did.

The arm is a pure function of the loan id, the pack's salt and the challenger
percentage, so it is the same in every run, on every machine, for every episode of the
loan, and is also stored on the case when it opens (sticky: a later change of the
percentage moves new cases only).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, and_, func, select, type_coerce
from sqlalchemy.orm import Session

from daihou.collection.models import CollectionCase
from daihou.compliance.gate.models import ContactAttempt
from daihou.loans.models import Loan
from daihou.payments.models import Transaction

ARMS = ("champion", "challenger")
PAYMENT_KINDS = ("repayment", "prepayment")


def arm_bucket(loan_id: str, salt: str) -> int:
    """0…9999, uniform over loan ids."""
    digest = hashlib.blake2b(f"{salt}:{loan_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 10_000


def arm_for(loan_id: str, *, percent: int, salt: str) -> str:
    return "challenger" if arm_bucket(loan_id, salt) < percent * 100 else "champion"


@dataclass(frozen=True, slots=True)
class ArmOutcome:
    arm: str
    cases: int
    open: int
    cured: int
    cured_principal: Decimal  # outstanding principal of the cured loans (back to current)
    recovered: Decimal  # repayments on the loans while their case was open
    contacts: int  # contact attempts recorded on the cases' loans while open


def _fen(column: Any) -> Any:
    return func.coalesce(func.sum(type_coerce(column, BigInteger)), 0)


def arm_outcomes(session: Session, *, since: date, until: date) -> list[ArmOutcome]:
    """Outcomes per arm of the cases opened from ``since`` to ``until`` (inclusive)."""
    c = CollectionCase
    opened = and_(c.opened_on >= since, c.opened_on <= until)
    end = func.coalesce(c.closed_on, until)
    out: list[ArmOutcome] = []
    for arm in ARMS:
        arm_cond = and_(opened, c.arm == arm)
        cases = session.scalar(select(func.count()).select_from(c).where(arm_cond)) or 0
        open_ = session.scalar(select(func.count()).where(arm_cond, c.status == "open")) or 0
        cured, cured_fen = session.execute(
            select(func.count(), _fen(Loan.outstanding_principal))
            .select_from(c)
            .join(Loan, Loan.id == c.loan_id)
            .where(arm_cond, c.close_reason == "cured")
        ).one()
        recovered_fen = session.scalar(
            select(_fen(Transaction.amount))
            .select_from(c)
            .join(Transaction, Transaction.loan_id == c.loan_id)
            .where(
                arm_cond,
                Transaction.kind.in_(PAYMENT_KINDS),
                Transaction.status == "posted",
                Transaction.value_date >= c.opened_on,
                Transaction.value_date <= end,
            )
        )
        contacts = session.scalar(
            select(func.count())
            .select_from(c)
            .join(ContactAttempt, ContactAttempt.loan_id == c.loan_id)
            .where(
                arm_cond,
                func.date(ContactAttempt.at_utc) >= c.opened_on,
                func.date(ContactAttempt.at_utc) <= end,
            )
        )
        out.append(
            ArmOutcome(
                arm=arm,
                cases=int(cases),
                open=int(open_),
                cured=int(cured),
                cured_principal=_yuan(cured_fen),
                recovered=_yuan(recovered_fen),
                contacts=int(contacts or 0),
            )
        )
    return out


def _yuan(fen: Any) -> Decimal:
    return (Decimal(int(fen or 0)) / 100).quantize(Decimal("0.01"))
