#!/usr/bin/env python3
"""Benchmark outsourcing: a placement batch, KPIs, a commission statement and the daily
expiry on a synthetic book of open collection cases.

    python bench/placements.py --cases 50000 [--db postgresql://postgres@127.0.0.1:5432/test]
    python bench/placements.py --ci            # 2,000 cases, proves it works

The book is written straight into the database: one loan per case, 31–200 days past
due with one due installment, 8 agencies (some limited to buckets or full), a fifth of
the loans with a repayment during the placement. Prints seconds and cases per second
for each step. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

if not os.environ.get("DAIHOU_DATA_KEY") and not os.environ.get("DAIHOU_KEY_FILE"):
    import base64

    os.environ["DAIHOU_DATA_KEY"] = base64.b64encode(os.urandom(32)).decode()

from daihou.auth.actor import Actor
from daihou.collection.agencies.commission import commission_statement
from daihou.collection.agencies.kpis import compute_kpis
from daihou.collection.agencies.placement import place_batch
from daihou.collection.agencies.recall import expire_placements
from daihou.collection.agencies.registry import AgencyTerms, add_agency
from daihou.db.engine import database_url, make_engine, transaction
from daihou.db.models import Base
from daihou.eod.calendar import initialise_business_date

TODAY = date(2026, 10, 1)
MANAGER = Actor(user_id="bench", roles=frozenset({"manager"}))
BUCKETS = [(31, 60, "M2"), (61, 90, "M3"), (91, 120, "M4"), (121, 150, "M5"), (151, 200, "M6")]


def build(engine: Engine, cases: int, seed: int) -> None:
    rng = random.Random(seed)
    with transaction(engine) as s:
        initialise_business_date(s, TODAY)
        for i in range(8):
            add_agency(
                s,
                actor=MANAGER,
                agency_id=f"AG{i}",
                terms=AgencyTerms(
                    name=f"Agency {i}",
                    licence_no=f"L{i}",
                    licence_expires_on=date(2028, 1, 1),
                    contract_from=date(2026, 1, 1),
                    contract_until=date(2028, 1, 1),
                    max_cases=cases // 4 if i % 3 else cases // 20,
                    buckets=["M2", "M3"] if i == 5 else [],
                ),
                reason="bench",
            )
    loans, inst, case_rows, txns = [], [], [], []
    for n in range(cases):
        lo, hi, bucket = rng.choice(BUCKETS)
        dpd = rng.randint(lo, hi)
        due = TODAY - timedelta(days=dpd)
        fen = rng.randint(50_000, 5_000_000)
        loan_id = f"B{n:08d}"
        loans.append((loan_id, f"C{n:08d}", fen * 10, due.isoformat(), fen * 8, dpd, bucket))
        inst.append((n + 1, loan_id, (due - timedelta(days=30)).isoformat(), due.isoformat(), fen))
        case_rows.append((n + 1, loan_id, f"C{n:08d}"))
        if rng.random() < 0.2:
            paid_on = TODAY + timedelta(days=rng.randint(1, 60))
            txns.append((n + 1, loan_id, paid_on.isoformat(), rng.randint(1000, fen), f"r{n}"))
    with engine.begin() as conn:
        raw: Any = conn.connection.dbapi_connection
        cur = raw.cursor()
        ph = "?" if engine.dialect.name == "sqlite" else "%s"

        def many(sql: str, rows: list[tuple[Any, ...]]) -> None:
            for i in range(0, len(rows), 20000):
                cur.executemany(sql.replace("?", ph), rows[i : i + 20000])

        many(
            "INSERT INTO customers (id, name, id_number, phone) VALUES (?,'x','x','x')",
            [(f"C{n:08d}",) for n in range(cases)],
        )
        many(
            "INSERT INTO loans (id, customer_id, product, principal, annual_rate, current_rate, "
            "term_months, method, disbursed_on, outstanding_principal, status, credit_balance, "
            "version, dpd, bucket, risk_class) "
            "VALUES (?,?,'consumer',?,1800000000,1800000000,12,'equal-installment',?,?,"
            "'active',0,1,?,?,'special-mention')",
            loans,
        )
        many(
            "INSERT INTO installments (id, loan_id, period, start_date, due_date, annual_rate, "
            "principal_due, interest_due, principal_paid, interest_paid, status, fee_due, "
            "fee_paid, penalty_paid, compound_paid) VALUES (?,?,1,?,?,1800000000,?,0,0,0,'due',"
            "0,0,0,0)",
            inst,
        )
        many(
            "INSERT INTO collection_cases (id, loan_id, customer_id, status, opened_on, stage, "
            "contact_status, broken_promises, failed_visits, refused, team) "
            "VALUES (?,?,?,'open','2026-06-01','junior','reachable',0,0,"
            f"{'false' if engine.dialect.name == 'postgresql' else '0'},'t1')",
            case_rows,
        )
        many(
            "INSERT INTO transactions (id, loan_id, kind, value_date, booked_on, amount, "
            "channel, reference, status) VALUES (?,?,'repayment',?,'2026-12-31',?,'online',?,"
            "'posted')",
            txns,
        )
        cur.execute("ANALYZE")


def timed(label: str, n: int, fn: Any) -> Any:
    t0 = time.perf_counter()
    result = fn()
    took = time.perf_counter() - t0
    print(f"{label:<28} {took:7.2f} s  {n / took:10,.0f} cases/s")
    return result


def run(engine: Engine, cases: int) -> None:
    with transaction(engine) as s:
        batch = timed(
            "placement batch",
            cases,
            lambda: place_batch(s, actor=MANAGER, business_date=TODAY),
        )
        placed = batch.cases
    with engine.begin() as conn:  # what autovacuum does in service after a big batch
        conn.execute(text("ANALYZE"))
    print(
        f"  placed {placed:,} of {cases:,}: "
        + ", ".join(f"{a} {v['placed']:,}" for a, v in batch.allocation.items())
    )
    end = TODAY + timedelta(days=91)
    with transaction(engine) as s:
        timed("KPIs and ranking", placed, lambda: compute_kpis(s, start=TODAY, end=end))
        timed(
            "commission statement (1)",
            placed // 8,
            lambda: commission_statement(s, actor=MANAGER, agency_id="AG1", month="2026-10"),
        )
    with transaction(engine) as s:
        ended = timed("expire placements", placed, lambda: expire_placements(s, end))
    print(f"  ended {ended:,}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=50_000)
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ci", action="store_true", help="2,000 cases")
    args = parser.parse_args(argv)
    cases = 2_000 if args.ci else args.cases
    schema = None
    with tempfile.TemporaryDirectory() as tmp:
        if args.db:
            schema = f"bench_{uuid.uuid4().hex[:10]}"
            admin = make_engine(args.db)
            with admin.begin() as c:
                c.execute(text(f'CREATE SCHEMA "{schema}"'))
            engine = make_engine(f"{database_url(args.db)}?options=-csearch_path%3D{schema}")
        else:
            engine = make_engine(f"sqlite:///{Path(tmp) / 'placements.db'}")
        try:
            Base.metadata.create_all(engine)
            t0 = time.perf_counter()
            build(engine, cases, args.seed)
            print(
                f"{engine.dialect.name}: built {cases:,} cases in {time.perf_counter() - t0:.1f} s"
            )
            run(engine, cases)
        finally:
            engine.dispose()
            if schema:
                with admin.begin() as c:
                    c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
