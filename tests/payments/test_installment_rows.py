"""``recompute_loan`` writes its installments through ``installment_rows``: whatever the
stored rows were (a value off by a fen, a changed rate or status, a row missing, a row
too many), afterwards they are the replay's values field for field, compared as
Decimals the way ``recompute_loan`` compared them before it shared the batch's writer;
and rows already right keep their ids."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, delete, insert, select, update

from daihou.db.engine import transaction
from daihou.eod.calendar import business_date
from daihou.eod.runner import run_eod
from daihou.kernel.allocation import COMPONENTS
from daihou.loans.models import ACCRUED, Installment, InstallmentAccrual, Loan
from daihou.payments.installment_rows import INSTALLMENT_FIELDS
from daihou.payments.recompute import recompute_loan, replay_loan
from daihou.payments.service import post_payment
from tests.factories import add_loans, init_book, loan_row

START = date(2024, 2, 10)


def _expected(state: object, as_of: date) -> dict[str, object]:
    values: dict[str, object] = {
        "status": state.status(as_of),  # type: ignore[attr-defined]
        **{
            f: getattr(state, f)
            for f in INSTALLMENT_FIELDS
            if "_due" not in f and "_paid" not in f and f != "status"
        },
    }
    for c in COMPONENTS:
        values[f"{c}_due"] = state.due[c]  # type: ignore[attr-defined]
        values[f"{c}_paid"] = state.paid[c]  # type: ignore[attr-defined]
    return {f: values[f] for f in INSTALLMENT_FIELDS}


def _stored(engine: Engine) -> dict[int, dict[str, object]]:
    with transaction(engine) as s:
        rows = s.scalars(select(Installment).where(Installment.loan_id == "L1")).all()
        return {r.period: {f: getattr(r, f) for f in INSTALLMENT_FIELDS} for r in rows}


def test_recompute_restores_every_field(engine: Engine, tmp_path: Path) -> None:
    init_book(engine, START)
    add_loans(engine, tmp_path, [loan_row("L1")])
    run_eod(engine, through=date(2024, 3, 20))  # installment 1 overdue: 罚息 accrues
    with transaction(engine) as s:
        post_payment(
            session=s,
            loan_id="L1",
            amount="300.00",
            value_date=date(2024, 3, 21),
            channel="counter",
            reference="P-1",
        )
    right = _stored(engine)
    with transaction(engine) as s:
        loan = s.get(Loan, "L1")
        assert loan is not None
        today = business_date(s)
        result, _ = replay_loan(s, loan, as_of=today)
    assert right == {i.period: _expected(i, today) for i in result.installments}
    assert any(v["penalty_due"] != Decimal("0.00") for v in right.values())

    table = Installment.__table__
    accruals = InstallmentAccrual.__table__
    with transaction(engine) as s:  # tamper: fen, a rate, a status, a row gone, one too many
        s.execute(
            update(table)
            .where(table.c.loan_id == "L1", table.c.period == 1)
            .values(interest_paid=table.c.interest_paid + Decimal("0.01"))
        )
        first = select(table.c.id).where(table.c.loan_id == "L1", table.c.period == 1)
        tampered = s.execute(
            update(accruals)
            .where(accruals.c.installment_id == first.scalar_subquery())
            .values(penalty_due=accruals.c.penalty_due + Decimal("0.01"))
        )
        assert tampered.rowcount == 1  # type: ignore[attr-defined]
        s.execute(
            update(table)
            .where(table.c.loan_id == "L1", table.c.period == 2)
            .values(annual_rate=Decimal("0.0999"), status="due")
        )
        s.execute(delete(table).where(table.c.loan_id == "L1", table.c.period == 3))
        extra = {**right[12], "due_date": date(2025, 3, 15), "start_date": date(2025, 2, 15)}
        extra = {k: v for k, v in extra.items() if k not in ACCRUED}
        s.execute(insert(table).values(loan_id="L1", period=13, **extra))
    assert _stored(engine) != right

    with transaction(engine) as s:
        recompute_loan(s, "L1")
    assert _stored(engine) == right

    with transaction(engine) as s:  # already right: no row is replaced
        before = s.scalars(select(Installment.id).where(Installment.loan_id == "L1")).all()
        recompute_loan(s, "L1")
        after = s.scalars(select(Installment.id).where(Installment.loan_id == "L1")).all()
    assert sorted(before) == sorted(after)
    assert _stored(engine) == right
