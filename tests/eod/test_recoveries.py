"""Recovery by bucket: cash by the bucket the loan was in before the value date;
reversed payments and other loans' buckets kept apart — SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine

from daihou.analytics.recoveries import recovery_by_bucket
from daihou.db.engine import transaction
from daihou.payments.service import reverse_transaction
from tests.eod.helpers import eod, loan_row, pay
from tests.factories import add_loans, init_book
from tests.factories import loan_row as csv_row

BUCKETS = ["M0", "M1", "M2", "M3", "M4", "M5", "M6", "M7"]


@pytest.fixture
def book(engine: Engine, tmp_path: Path) -> Engine:
    init_book(engine, date(2024, 1, 15))
    add_loans(engine, tmp_path, [csv_row("R1"), csv_row("R2"), csv_row("R3")])
    return engine


def rows(engine: Engine, start: date, end: date) -> dict[str, tuple[int, str]]:
    with transaction(engine) as s:
        out = recovery_by_bucket(s, start, end, BUCKETS)
    assert [r["bucket"] for r in out["rows"]] == BUCKETS
    return {r["bucket"]: (r["payments"], r["amount"]) for r in out["rows"] if r["payments"]}


def test_payments_count_for_the_bucket_before_the_value_date(book: Engine) -> None:
    eod(book, date(2024, 2, 14))
    pay(book, "R3", "1134.72", "R3-on-time")  # 15 Feb, on the due date: current
    eod(book, date(2024, 2, 29))
    assert loan_row(book, "R1").bucket == "M1"
    pay(book, "R1", "300.00", "R1-m1")  # 1 Mar, R1 was M1 at the end of 29 Feb
    eod(book, date(2024, 3, 20))
    assert loan_row(book, "R2").bucket == "M2"
    bounced = pay(book, "R2", "100.00", "R2-m2-bounced")
    pay(book, "R2", "250.50", "R2-m2")
    with transaction(book) as s:
        reverse_transaction(session=s, transaction_id=bounced.transaction_id, reason="returned")

    assert rows(book, date(2024, 2, 1), date(2024, 3, 31)) == {
        "M0": (1, "1134.72"),
        "M1": (1, "300.00"),
        "M2": (1, "250.50"),
    }
    # the period is by value date, both ends included
    assert rows(book, date(2024, 3, 1), date(2024, 3, 1)) == {"M1": (1, "300.00")}
    with transaction(book) as s:
        total = recovery_by_bucket(s, date(2024, 2, 1), date(2024, 3, 31), BUCKETS)["total"]
        assert total == {"payments": 3, "amount": "1685.22"}
        with pytest.raises(ValueError, match="start"):
            recovery_by_bucket(s, date(2024, 3, 2), date(2024, 3, 1), BUCKETS)
