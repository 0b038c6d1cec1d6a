"""Per-product overdue tolerance: an installment owing no more than it is not overdue."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine

from daihou.eod.runner import run_eod
from daihou.policy import load_pack
from tests.eod.helpers import first_installments, loan_row, pay
from tests.factories import add_loans, init_book
from tests.factories import loan_row as csv_row


def test_each_product_uses_its_own_tolerance(engine: Engine, tmp_path: Path) -> None:
    init_book(engine, date(2024, 1, 15))
    add_loans(
        engine,
        tmp_path,
        [csv_row("T1"), csv_row("T2", product="business", method="interest-only")],
    )
    base = load_pack()
    products = [
        p.model_copy(update={"overdue_tolerance": Decimal("1.00")}) if p.code == "consumer" else p
        for p in base.products
    ]
    pack = base.model_copy(update={"products": products})
    run_eod(engine, through=date(2024, 2, 14), pack=pack)
    for loan_id in ("T1", "T2"):
        first = first_installments(engine, loan_id, 1)[0]
        owed = first.principal_due + first.interest_due - Decimal("0.50")
        pay(engine, loan_id, f"{owed}", f"{loan_id}-short", on=date(2024, 2, 15))
    run_eod(engine, through=date(2024, 2, 20), pack=pack)
    # 0.50 short: within the consumer product's 1.00, beyond the business product's 0.00
    assert (loan_row(engine, "T1").dpd, loan_row(engine, "T1").bucket) == (0, "M0")
    assert (loan_row(engine, "T2").dpd, loan_row(engine, "T2").bucket) == (5, "M1")
    # the same pack with one tolerance for every product takes the no-join path
    same = base.model_copy(
        update={
            "products": [
                p.model_copy(update={"overdue_tolerance": Decimal("1.00")}) for p in base.products
            ]
        }
    )
    run_eod(engine, through=date(2024, 2, 21), pack=same, full=True)
    assert loan_row(engine, "T2").dpd == 0
