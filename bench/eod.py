#!/usr/bin/env python3
"""Benchmark end of day: a full EOD and an ordinary incremental day on a synthetic book.

    python bench/eod.py --loans 100000 [--db postgresql://postgres@127.0.0.1:5432/test]
    python bench/eod.py --ci            # 10,000 loans, proves it works

The book is written straight into the database (36-month equal-installment loans; about
90% current, the rest spread over M1–M7 by leaving their recent installments unpaid).
Prints loans per second and peak memory for each run, then times the same DPD + bucket
+ penalty computation in plain DuckDB in memory and prints our time as a ratio of it.
Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import time
import uuid
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from daihou.db.engine import database_url, make_engine, transaction
from daihou.db.models import Base
from daihou.eod.calendar import initialise_business_date
from daihou.eod.runner import run_eod
from daihou.kernel.money import to_fen
from daihou.kernel.schedule import ScheduleTerms, generate_schedule

TODAY = date(2026, 3, 31)
DELINQUENT_MONTHS = [1, 1, 1, 2, 2, 3, 4, 5, 6, 8]  # months unpaid for the ~10% late


def template_schedules() -> dict[int, list[Any]]:
    """A few principal sizes; each loan takes one, with its own disbursement date."""
    out = {}
    for k, principal in enumerate(("12000.00", "36000.00", "60000.00", "150000.00")):
        out[k] = list(
            generate_schedule(
                ScheduleTerms(
                    principal=Decimal(principal),
                    annual_rate=Decimal("0.18"),
                    months=36,
                    method="equal-installment",
                    start=date(2024, 1, 1),
                )
            )
        )
    return out


def build(engine: Engine, loans: int, seed: int) -> tuple[int, int]:
    rng = random.Random(seed)
    templates = template_schedules()
    with transaction(engine) as s:
        initialise_business_date(s, TODAY)
    conn_loans, conn_inst = [], []
    n_inst = 0
    late = 0
    for n in range(loans):
        t = templates[n % len(templates)]
        months_ago = rng.randrange(1, 34)
        start = TODAY - timedelta(days=30 * months_ago + rng.randrange(0, 28))
        unpaid_from = 10**9
        if rng.random() < 0.10:
            late += 1
            unpaid_from = max(0, months_ago - rng.choice(DELINQUENT_MONTHS))
        principal = sum(r.principal for r in t)
        outstanding = principal
        loan_id = f"B{n:08d}"
        for k, row in enumerate(t):
            due = date.fromordinal(start.toordinal() + 30 * (k + 1))
            paid = due < TODAY and k < unpaid_from
            if paid:
                outstanding -= row.principal
            n_inst += 1
            conn_inst.append(
                (
                    n_inst,
                    loan_id,
                    row.period,
                    (due - timedelta(days=30)).isoformat(),
                    due.isoformat(),
                    1800000000,
                    to_fen(row.principal),
                    to_fen(row.interest),
                    to_fen(row.principal) if paid else 0,
                    to_fen(row.interest) if paid else 0,
                    "paid" if paid else ("due" if due <= TODAY else "pending"),
                )
            )
        conn_loans.append(
            (
                loan_id,
                f"C{n:08d}",
                "consumer",
                to_fen(principal),
                1800000000,
                1800000000,
                36,
                "equal-installment",
                start.isoformat(),
                to_fen(outstanding),
            )
        )
    customers = [(f"C{n:08d}", "x", "x", "x") for n in range(loans)]
    with engine.begin() as conn:
        raw: Any = conn.connection.dbapi_connection
        cur = raw.cursor()
        ph = "?" if engine.dialect.name == "sqlite" else "%s"

        def many(sql: str, rows: list[tuple[Any, ...]]) -> None:
            for i in range(0, len(rows), 50000):
                cur.executemany(sql.replace("?", ph), rows[i : i + 50000])

        many("INSERT INTO customers (id, name, id_number, phone) VALUES (?,?,?,?)", customers)
        many(
            "INSERT INTO loans (id, customer_id, product, principal, annual_rate, current_rate, "
            "term_months, method, disbursed_on, outstanding_principal, status, credit_balance, "
            "version, dpd, bucket, risk_class) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,'active',0,1,0,'M0','normal')",
            conn_loans,
        )
        many(
            "INSERT INTO installments (id, loan_id, period, start_date, due_date, annual_rate, "
            "principal_due, interest_due, principal_paid, interest_paid, status, fee_due, "
            "penalty_due, compound_due, fee_paid, penalty_paid, compound_paid, penalty_base, "
            "compound_base) VALUES (?,?,?,?,?,?,?,?,?,?,?,0,0,0,0,0,0,0,0)",
            conn_inst,
        )
        cur.execute("ANALYZE")  # planner statistics, as a database in service has
    return n_inst, late


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def duckdb_baseline(engine: Engine) -> float | None:
    """The same DPD + bucket + one night of penalty in DuckDB, in memory."""
    try:
        import duckdb
    except ImportError:
        print("duckdb not installed (pip install duckdb): baseline skipped")
        return None
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT loan_id, due_date, principal_due - principal_paid, annual_rate, status "
                "FROM installments"
            )
        ).all()
    db = duckdb.connect()
    db.execute(
        "CREATE TABLE inst (loan_id VARCHAR, due DATE, unpaid BIGINT, rate BIGINT, status VARCHAR)"
    )
    columns = [list(c) for c in zip(*rows, strict=True)]
    db.execute(
        "INSERT INTO inst SELECT * FROM (SELECT unnest($1), unnest($2)::DATE, unnest($3), "
        "unnest($4), unnest($5))",
        columns,
    )
    t0 = time.perf_counter()
    db.execute(
        f"""CREATE TABLE res AS SELECT loan_id,
              coalesce(DATE '{TODAY}' - min(due) FILTER (
                WHERE status = 'due' AND unpaid > 0 AND due < DATE '{TODAY}'), 0) AS dpd,
              sum(CASE WHEN status = 'due' AND due <= DATE '{TODAY}'
                  THEN unpaid * rate * 1.5 / 1e10 / 360 ELSE 0 END) AS penalty
            FROM inst GROUP BY loan_id"""
    )
    db.execute(
        "SELECT CASE WHEN dpd = 0 THEN 'M0' WHEN dpd <= 30 THEN 'M1' WHEN dpd <= 60 THEN 'M2' "
        "WHEN dpd <= 90 THEN 'M3' WHEN dpd <= 120 THEN 'M4' WHEN dpd <= 150 THEN 'M5' "
        "WHEN dpd <= 180 THEN 'M6' ELSE 'M7' END AS bucket, count(*) FROM res GROUP BY 1"
    ).fetchall()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loans", type=int, default=100_000)
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ci", action="store_true", help="10,000 loans")
    args = parser.parse_args(argv)
    loans = 10_000 if args.ci else args.loans
    schema = None
    with tempfile.TemporaryDirectory() as tmp:
        if args.db:
            schema = f"bench_{uuid.uuid4().hex[:10]}"
            admin = make_engine(args.db)
            with admin.begin() as c:
                c.execute(text(f'CREATE SCHEMA "{schema}"'))
            engine = make_engine(f"{database_url(args.db)}?options=-csearch_path%3D{schema}")
        else:
            engine = make_engine(f"sqlite:///{Path(tmp) / 'eod.db'}")
        try:
            Base.metadata.create_all(engine)
            t0 = time.perf_counter()
            n_inst, late = build(engine, loans, args.seed)
            print(
                f"{engine.dialect.name}: built {loans:,} loans, {n_inst:,} installments "
                f"({late:,} delinquent) in {time.perf_counter() - t0:.1f} s"
            )
            t0 = time.perf_counter()
            run_eod(engine, full=True)
            full = time.perf_counter() - t0
            print(f"full EOD:        {full:6.2f} s  {loans / full:10,.0f} loans/s  ", end="")
            print(f"peak RSS {peak_mb():,.0f} MB")
            t0 = time.perf_counter()
            run_eod(engine)
            incr = time.perf_counter() - t0
            print(f"incremental day: {incr:6.2f} s  {loans / incr:10,.0f} loans/s  ", end="")
            print(f"peak RSS {peak_mb():,.0f} MB")
            with engine.connect() as c:
                steps = c.execute(
                    text(
                        "SELECT business_date, step, mode, loans, duration_ms FROM eod_runs "
                        "WHERE step != 'close' ORDER BY id"
                    )
                ).all()
            for row in steps:
                print(f"  {row[0]} {row[2]:<11} {row[1]:<12} {row[3]:>9,} loans {row[4]:>7,} ms")
            base = duckdb_baseline(engine)
            if base:
                print(
                    f"DuckDB in memory (DPD + bucket + penalty): {base:.3f} s; "
                    f"full EOD = {full / base:.0f}× , incremental = {incr / base:.0f}×"
                )
        finally:
            engine.dispose()
            if schema:
                with admin.begin() as c:
                    c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
