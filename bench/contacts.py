#!/usr/bin/env python3
"""Benchmark the daily contact evaluations: promises kept/broken and lost contact.

    python bench/contacts.py --cases 100000 [--db postgresql://postgres@127.0.0.1:5432/test]
    python bench/contacts.py --ci           # 2,000 cases, proves it works

Each case has a customer (phone on file, encrypted), a loan with one overdue
installment, three logged calls in the last week (a third reached the borrower, the
rest did not), and one case in five an open promise due that day, half of them paid.
Prints the seconds and cases per second of ``evaluate_promises`` and
``evaluate_contact_status`` for one business date. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
import uuid
from base64 import b64encode
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, insert, text

from daihou.collection.contact_models import ContactLog, PromiseToPay
from daihou.collection.models import CollectionCase
from daihou.collection.promises import evaluate_promises
from daihou.collection.repair import evaluate_contact_status
from daihou.db.engine import database_url, make_engine, transaction
from daihou.db.models import Base
from daihou.eod.calendar import initialise_business_date
from daihou.loans.models import Customer, Installment, Loan
from daihou.payments.models import Transaction

TODAY = date(2026, 3, 2)
BATCH = 5_000


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


def _insert(engine: Engine, model: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), BATCH):
        with transaction(engine) as s:
            s.execute(insert(_table(model)), rows[start : start + BATCH])


def build(engine: Engine, cases: int, seed: int) -> None:
    rng = random.Random(seed)
    with transaction(engine) as s:
        initialise_business_date(s, TODAY)
    customers, loans, installments, cases_, logs, promises, payments = [], [], [], [], [], [], []
    for n in range(cases):
        cid, lid, phone = f"C{n:08d}", f"L{n:08d}", f"138{n:08d}"
        customers.append({"id": cid, "name": "客户", "id_number": f"X{n}", "phone": phone})
        loans.append(
            {
                "id": lid,
                "customer_id": cid,
                "product": "consumer",
                "principal": Decimal("12000.00"),
                "annual_rate": Decimal("0.18"),
                "current_rate": Decimal("0.18"),
                "term_months": 12,
                "method": "equal-installment",
                "disbursed_on": date(2025, 11, 15),
                "outstanding_principal": Decimal("12000.00"),
                # as end of day closes it: the lost-contact rule counts from T+0 = D − DPD
                "dpd": (TODAY - date(2026, 2, 15)).days,
                "bucket": "M1",
            }
        )
        installments.append(
            {
                "loan_id": lid,
                "period": 1,
                "start_date": date(2025, 11, 15),
                "due_date": date(2026, 2, 15),
                "annual_rate": Decimal("0.18"),
                "principal_due": Decimal("1000.00"),
                "interest_due": Decimal("100.00"),
            }
        )
        case = {
            "id": n + 1,
            "loan_id": lid,
            "customer_id": cid,
            "opened_on": date(2026, 2, 16),
            "owner_user_id": "li",
            "last_rpc_on": None,
        }
        cases_.append(case)
        for k in range(3):
            day = TODAY - timedelta(days=1 + k * 2)
            outcome = "rpc" if rng.random() < 0.33 else rng.choice(["no-answer", "busy"])
            if outcome == "rpc" and (case["last_rpc_on"] is None or day > case["last_rpc_on"]):
                case["last_rpc_on"] = day  # the contact service keeps this column
            logs.append(
                {
                    "case_id": n + 1,
                    "customer_id": cid,
                    "loan_id": lid,
                    "channel": "call",
                    "direction": "outbound",
                    "party": "borrower",
                    "outcome": outcome,
                    "rpc": outcome == "rpc",
                    "phone": phone,
                    "note_flagged": False,
                    "collector": "li",
                    "organisation": "lender",
                    "at_utc": datetime.combine(day, datetime.min.time()),
                    "contact_date": day,
                    "basis": {},
                }
            )
        if n % 5 == 0:
            promises.append(
                {
                    "case_id": n + 1,
                    "loan_id": lid,
                    "customer_id": cid,
                    "amount": Decimal("500.00"),
                    "made_on": TODAY - timedelta(days=5),
                    "promised_on": TODAY - timedelta(days=3),
                    "grace_days": 2,
                    "tolerance": Decimal("10.00"),
                    "until": TODAY - timedelta(days=1),
                    "status": "open",
                    "collector": "li",
                }
            )
            if n % 10 == 0:
                payments.append(
                    {
                        "loan_id": lid,
                        "kind": "repayment",
                        "value_date": TODAY - timedelta(days=2),
                        "booked_on": TODAY - timedelta(days=2),
                        "amount": Decimal("500.00"),
                        "channel": "counter",
                        "reference": f"P{n}",
                        "status": "posted",
                    }
                )
    for model, rows in (
        (Customer, customers),
        (Loan, loans),
        (Installment, installments),
        (CollectionCase, cases_),
        (ContactLog, logs),
        (PromiseToPay, promises),
        (Transaction, payments),
    ):
        _insert(engine, model, rows)


def timed(label: str, cases: int, run: Any) -> None:
    t0 = time.perf_counter()
    result = run()
    took = time.perf_counter() - t0
    print(f"{label:<26} {took:7.2f} s  {cases / took:12,.0f} cases/s  {result}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ci", action="store_true", help="2,000 cases")
    args = parser.parse_args(argv)
    cases = 2_000 if args.ci else args.cases
    if not os.environ.get("DAIHOU_DATA_KEY") and not os.environ.get("DAIHOU_KEY_FILE"):
        os.environ["DAIHOU_DATA_KEY"] = b64encode(os.urandom(32)).decode()  # thrown away
    schema = None
    with tempfile.TemporaryDirectory() as tmp:
        if args.db:
            schema = f"bench_{uuid.uuid4().hex[:10]}"
            admin = make_engine(args.db)
            with admin.begin() as c:
                c.execute(text(f'CREATE SCHEMA "{schema}"'))
            engine = make_engine(f"{database_url(args.db)}?options=-csearch_path%3D{schema}")
        else:
            engine = make_engine(f"sqlite:///{Path(tmp) / 'contacts.db'}")
        try:
            Base.metadata.create_all(engine)
            t0 = time.perf_counter()
            build(engine, cases, args.seed)
            print(
                f"{engine.dialect.name}: built {cases:,} cases in {time.perf_counter() - t0:.1f} s"
            )
            if engine.dialect.name == "postgresql":
                with engine.begin() as c:
                    c.execute(text("ANALYZE"))

            def promises() -> str:
                with transaction(engine) as s:
                    run = evaluate_promises(s, TODAY)
                return f"{len(run.kept):,} kept, {len(run.broken):,} broken"

            def lost() -> str:
                with transaction(engine) as s:
                    run = evaluate_contact_status(s, TODAY)
                return f"{len(run.lost):,} lost contact"

            timed("evaluate_promises", cases, promises)
            timed("evaluate_contact_status", cases, lost)
        finally:
            engine.dispose()
            if schema:
                with admin.begin() as c:
                    c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
