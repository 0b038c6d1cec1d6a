"""Build loan books for tests through the real import path."""

from __future__ import annotations

import csv
import itertools
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from daihou.db.engine import transaction
from daihou.eod.calendar import initialise_business_date
from daihou.loans.book import import_loans
from daihou.loans.import_file import COLUMNS
from daihou.loans.lpr import seed_lpr_from_pack

_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
_CHECK = "10X98765432"
_counter = itertools.count(1)


def id_number(serial: int) -> str:
    """A valid 18-digit PRC resident id (GB 11643 check digit) that belongs to no one."""
    body = f"110101199001{serial % 10000:04d}{serial % 1000:03d}"[:17]
    return body + _CHECK[sum(int(c) * w for c, w in zip(body, _WEIGHTS, strict=True)) % 11]


def loan_row(loan_id: str, **overrides: Any) -> dict[str, str]:
    n = next(_counter)
    row = {
        "loan_id": loan_id,
        "customer_id": f"C-{loan_id}",
        "customer_name": "测试客户",
        "id_number": id_number(n),
        "phone": f"138{n % 10**8:08d}",
        "product": "consumer",
        "principal": "12000.00",
        "annual_rate": "24%",
        "term_months": "12",
        "method": "equal-installment",
        "disbursed_on": "2024-01-15",
        "first_due_on": "",
        "repayment_day": "",
        "address": "",
        "employer": "",
        "lpr_spread_bps": "",
    }
    row.update({k: str(v) for k, v in overrides.items()})
    return row


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def init_book(engine: Engine, business_date: date) -> None:
    with transaction(engine) as session:
        initialise_business_date(session, business_date)
        seed_lpr_from_pack(session)


def add_loans(engine: Engine, tmp_path: Path, rows: list[dict[str, str]]) -> None:
    path = write_csv(tmp_path / f"book-{next(_counter)}.csv", rows)
    import_loans(engine=engine, path=path)
