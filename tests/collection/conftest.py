"""A small overdue book: loans disbursed 15 Jan 2026, first due 15 Feb, none paid."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.factories import add_loans, init_book, loan_row

START = date(2026, 1, 15)
FIRST_DUE = date(2026, 2, 15)


@pytest.fixture
def book(engine: Engine, tmp_path: Path) -> Engine:
    """Six loans of six customers (L1…L6, C-L1…) plus a second loan L1B of customer C-L1."""
    init_book(engine, START)
    rows = [loan_row(f"L{i}", principal=f"{12000 * i}.00", disbursed_on=START) for i in range(1, 7)]
    first = rows[0]
    rows.append(
        loan_row(
            "L1B",
            customer_id="C-L1",
            id_number=first["id_number"],
            phone=first["phone"],
            principal="5000.00",
            disbursed_on=START,
        )
    )
    add_loans(engine, tmp_path, rows)
    return engine
