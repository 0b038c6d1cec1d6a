"""Recoveries during placement and the monthly commission statement, to the fen."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine

from daihou.auth.permissions import PermissionDenied
from daihou.collection.agencies.commission import (
    commission_statement,
    month_bounds,
    statement_csv,
    write_statement_xlsx,
)
from daihou.collection.agencies.placement import place_case
from daihou.collection.agencies.recall import recall_case
from daihou.db.engine import transaction
from daihou.payments.service import post_payment, reverse_transaction
from tests.collection_agencies.helpers import (
    MANAGER,
    START,
    SUPERVISOR,
    add_test_agency,
    agency_user,
    build_book,
    make_case,
    set_business_date,
)


def _pay(engine: Engine, loan_id: str, amount: str, on: date) -> int:
    with transaction(engine) as s:
        posting = post_payment(
            session=s,
            loan_id=loan_id,
            amount=amount,
            value_date=on,
            channel="online",
            reference=f"{loan_id}-{on}-{amount}",
        )
        return posting.transaction_id


def test_statement_lines_rates_rounding_and_reversal(engine: Engine, tmp_path: Path) -> None:
    build_book(engine, tmp_path, {"L1": {}, "L2": {}, "L3": {}, "L4": {}})
    _pay(engine, "L1", "100.00", date(2026, 9, 30))  # before placement: not the agency's
    with transaction(engine) as s:
        add_test_agency(s, "A1", rates={"M4": "33%"})  # contract overrides M4 only
        add_test_agency(s, "A2")
        cases = {
            loan: make_case(s, loan, dpd=dpd, bucket=bucket).id
            for loan, dpd, bucket in (
                ("L1", 40, "M2"),
                ("L2", 70, "M3"),
                ("L3", 100, "M4"),
                ("L4", 40, "M2"),
            )
        }
        for loan, agency in (("L1", "A1"), ("L2", "A1"), ("L3", "A1"), ("L4", "A2")):
            place_case(
                s,
                actor=SUPERVISOR,
                case_id=cases[loan],
                agency_id=agency,
                business_date=START,
                reason="test",
            )
    set_business_date(engine, date(2026, 10, 25))
    _pay(engine, "L1", "100.30", date(2026, 10, 5))  # × 0.15 = 15.045 → 15.05 (half-up)
    reversed_id = _pay(engine, "L1", "500.00", date(2026, 10, 10))
    _pay(engine, "L2", "333.33", date(2026, 10, 15))  # × 0.22 = 73.3326 → 73.33
    _pay(engine, "L3", "1234.57", date(2026, 10, 20))  # × 0.33 = 407.4081 → 407.41
    _pay(engine, "L4", "999.99", date(2026, 10, 20))  # another agency's case
    with transaction(engine) as s:
        reverse_transaction(session=s, transaction_id=reversed_id, reason="bounced")
        recall_case(s, actor=SUPERVISOR, case_id=cases["L1"], reason="moved")  # ends 10-25
    set_business_date(engine, date(2026, 11, 5))
    _pay(engine, "L1", "200.00", date(2026, 11, 2))  # after the recall
    _pay(engine, "L2", "50.00", date(2026, 11, 3))  # × 0.22 = 11.00, November

    with transaction(engine) as s:
        october = commission_statement(s, actor=MANAGER, agency_id="A1", month="2026-10")
        november = commission_statement(s, actor=MANAGER, agency_id="A1", month="2026-11")
        other = commission_statement(s, actor=MANAGER, agency_id="A2", month="2026-10")
        with pytest.raises(PermissionDenied):
            commission_statement(s, actor=agency_user("A1"), agency_id="A1", month="2026-10")

    lines = {line.loan_id: line for line in october.lines}
    assert set(lines) == {"L1", "L2", "L3"}
    assert (lines["L1"].recovered, lines["L1"].rate, lines["L1"].commission) == (
        Decimal("100.30"),
        Decimal("0.15"),
        Decimal("15.05"),
    )
    assert (lines["L2"].recovered, lines["L2"].commission) == (Decimal("333.33"), Decimal("73.33"))
    assert (lines["L3"].rate, lines["L3"].commission) == (Decimal("0.33"), Decimal("407.41"))
    assert october.recovered == Decimal("1668.20")
    assert october.commission == Decimal("495.79")  # the sum of the rounded lines
    assert october.by_bucket()["M4"] == {
        "recovered": Decimal("1234.57"),
        "commission": Decimal("407.41"),
    }
    assert [(x.loan_id, x.recovered, x.commission) for x in november.lines] == [
        ("L2", Decimal("50.00"), Decimal("11.00"))
    ]
    assert [(x.loan_id, x.commission) for x in other.lines] == [("L4", Decimal("150.00"))]

    rows = list(csv.reader(io.StringIO(statement_csv(october))))
    assert rows[0][-1] == "commission" and rows[-1][0] == "total"
    assert rows[-1][-2:] == ["1668.20", "495.79"]
    path = tmp_path / "statement.xlsx"
    write_statement_xlsx(october, path)
    summary = load_workbook(path)["summary"]
    total = next(r for r in summary.iter_rows(values_only=True) if r[0] == "total")
    assert Decimal(str(total[2])) == Decimal("495.79")


def test_half_even_rounding_from_the_pack(engine: Engine, tmp_path: Path) -> None:
    from daihou.collection.agencies.settings import settings

    build_book(engine, tmp_path, {"L1": {}})
    with transaction(engine) as s:
        add_test_agency(s, "A1")
        case_id = make_case(s, "L1", dpd=40, bucket="M2").id
        place_case(
            s, actor=SUPERVISOR, case_id=case_id, agency_id="A1", business_date=START, reason="t"
        )
    set_business_date(engine, date(2026, 10, 25))
    _pay(engine, "L1", "100.30", date(2026, 10, 5))
    config = settings().model_copy(update={"commission_rounding": "half-even"})
    with transaction(engine) as s:
        st = commission_statement(s, actor=MANAGER, agency_id="A1", month="2026-10", config=config)
    assert st.commission == Decimal("15.04")  # 15.045 to even


def test_month_bounds() -> None:
    assert month_bounds("2026-12") == (date(2026, 12, 1), date(2027, 1, 1))
    with pytest.raises(ValueError, match="month"):
        month_bounds("2026-13")
