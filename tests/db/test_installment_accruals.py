"""An installment's 罚息/复利 and their bases live in ``installment_accruals``: the ORM
attributes, their SQL form and the removal with the installment all see that row, and
an installment without one reads zero."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, func, select

from daihou.db.engine import transaction
from daihou.loans.models import Installment, InstallmentAccrual, accrued_due_fen
from daihou.payments.installment_rows import delete_installments
from tests.factories import add_loans, init_book, loan_row

ZERO = Decimal("0.00")


def _book(engine: Engine, tmp_path: Path) -> list[int]:
    init_book(engine, date(2024, 2, 10))
    add_loans(engine, tmp_path, [loan_row("L1")])
    with transaction(engine) as s:
        return list(
            s.scalars(
                select(Installment.id).where(Installment.loan_id == "L1").order_by(Installment.id)
            )
        )


def _rows(engine: Engine) -> dict[int, tuple[Decimal, Decimal, int, int]]:
    with transaction(engine) as s:
        return {
            a.installment_id: (a.penalty_due, a.compound_due, a.penalty_base, a.compound_base)
            for a in s.scalars(select(InstallmentAccrual))
        }


def test_no_row_reads_zero_in_python_and_in_sql(engine: Engine, tmp_path: Path) -> None:
    ids = _book(engine, tmp_path)
    assert _rows(engine) == {}
    with transaction(engine) as s:
        first = s.get(Installment, ids[0])
        assert first is not None
        assert (first.penalty_due, first.compound_due) == (ZERO, ZERO)
        assert (first.penalty_base, first.compound_base) == (0, 0)
        total = s.scalar(
            select(func.sum(Installment.penalty_due + Installment.compound_due)).where(
                Installment.loan_id == "L1"
            )
        )
        assert total == ZERO
        fen = s.scalar(select(accrued_due_fen(Installment.id)).where(Installment.id == ids[0]))
        assert fen == 0


def test_a_value_set_makes_the_row_and_sql_reads_it(engine: Engine, tmp_path: Path) -> None:
    ids = _book(engine, tmp_path)
    with transaction(engine) as s:
        first, second = s.get(Installment, ids[0]), s.get(Installment, ids[1])
        assert first is not None and second is not None
        first.penalty_due = Decimal("1.23")
        first.penalty_base = 4567
        second.compound_due = ZERO  # a zero makes no row
    assert _rows(engine) == {ids[0]: (Decimal("1.23"), ZERO, 4567, 0)}
    with transaction(engine) as s:
        by_id = dict(
            s.execute(
                select(Installment.id, Installment.penalty_due).where(Installment.loan_id == "L1")
            ).all()
        )
        assert by_id[ids[0]] == Decimal("1.23")
        assert all(by_id[i] == ZERO for i in ids[1:])
        fen = s.scalar(select(accrued_due_fen(Installment.id)).where(Installment.id == ids[0]))
        assert fen == 123
        loaded = s.get(Installment, ids[0])
        assert loaded is not None and loaded.penalty_due == Decimal("1.23")
        loaded.compound_due = Decimal("0.45")  # the same row, not a second one
    assert _rows(engine) == {ids[0]: (Decimal("1.23"), Decimal("0.45"), 4567, 0)}


def test_rows_go_with_their_installments(engine: Engine, tmp_path: Path) -> None:
    ids = _book(engine, tmp_path)
    with transaction(engine) as s:
        for i in ids[:3]:
            inst = s.get(Installment, i)
            assert inst is not None
            inst.compound_base = 10
    assert set(_rows(engine)) == set(ids[:3])
    with transaction(engine) as s:
        delete_installments(s, [ids[0]])  # Core: the replay writer's removal
        gone = s.get(Installment, ids[1])
        assert gone is not None
        s.delete(gone)  # ORM: the relationship's cascade
    assert set(_rows(engine)) == {ids[2]}
