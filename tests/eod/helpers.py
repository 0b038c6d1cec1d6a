"""Helpers for end-of-day tests: run EOD, post payments on the business date, read state."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Engine, func, select

from daihou.db.engine import transaction
from daihou.eod.calendar import business_date
from daihou.eod.models import Accrual, ClassChange, DailyKpi, LoanEvent, LoanSnapshot
from daihou.eod.runner import run_eod
from daihou.loans.models import Installment, Loan
from daihou.payments.service import post_payment
from tests.services.snapshots import loan_state


def eod(engine: Engine, through: date, *, full: bool = False) -> None:
    run_eod(engine, through=through, full=full)


def today(engine: Engine) -> date:
    with transaction(engine) as s:
        return business_date(s)


def pay(engine: Engine, loan_id: str, amount: str, ref: str, on: date | None = None) -> Any:
    with transaction(engine) as s:
        return post_payment(
            session=s,
            loan_id=loan_id,
            amount=amount,
            value_date=on or business_date(s),
            channel="counter",
            reference=ref,
        )


def loan_row(engine: Engine, loan_id: str) -> Loan:
    with transaction(engine) as s:
        loan = s.get(Loan, loan_id)
        assert loan is not None
        s.expunge(loan)
        return loan


def first_installments(engine: Engine, loan_id: str, n: int = 3) -> list[Installment]:
    with transaction(engine) as s:
        rows = list(
            s.scalars(
                select(Installment)
                .where(Installment.loan_id == loan_id)
                .order_by(Installment.period)
                .limit(n)
            )
        )
        for r in rows:
            s.expunge(r)
        return rows


def state_on(engine: Engine, loan_id: str, d: date) -> tuple[Any, ...] | None:
    """The loan's snapshot in force at the end of ``d`` (latest row on or before)."""
    with transaction(engine) as s:
        snap = s.scalars(
            select(LoanSnapshot)
            .where(LoanSnapshot.loan_id == loan_id, LoanSnapshot.business_date <= d)
            .order_by(LoanSnapshot.business_date.desc())
            .limit(1)
        ).first()
        if snap is None:
            return None
        return (
            snap.status,
            snap.outstanding_principal,
            snap.overdue_principal,
            snap.overdue_interest,
            snap.penalty_outstanding,
            snap.compound_outstanding,
            snap.dpd,
            snap.bucket,
            snap.risk_class,
        )


def book_state(engine: Engine, loan_ids: list[str], dates: list[date]) -> dict[str, Any]:
    """Everything EOD and servicing derive, comparable across databases."""
    out: dict[str, Any] = {}
    with transaction(engine) as s:
        for loan_id in loan_ids:
            loan = s.get(Loan, loan_id)
            assert loan is not None
            out[loan_id] = {
                **loan_state(s, loan_id),
                "delinquency": (loan.dpd, loan.bucket, loan.risk_class),
                "events": sorted(
                    (e.business_date, e.kind, e.from_value, e.to_value)
                    for e in s.scalars(
                        select(LoanEvent).where(
                            LoanEvent.loan_id == loan_id, LoanEvent.superseded.is_(False)
                        )
                    )
                ),
                "classes": sorted(
                    (c.business_date, c.old_class, c.new_class)
                    for c in s.scalars(
                        select(ClassChange).where(
                            ClassChange.loan_id == loan_id, ClassChange.superseded.is_(False)
                        )
                    )
                ),
                "accrued": tuple(
                    s.execute(
                        select(func.sum(Accrual.penalty), func.sum(Accrual.compound)).where(
                            Accrual.loan_id == loan_id
                        )
                    ).one()
                ),
            }
        kpis = {k.business_date: k.data for k in s.scalars(select(DailyKpi))}
    for loan_id in loan_ids:
        out[loan_id]["snapshots"] = [state_on(engine, loan_id, d) for d in dates]
    out["kpis"] = kpis
    return out
