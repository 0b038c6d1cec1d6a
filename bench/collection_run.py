#!/usr/bin/env python3
"""Benchmark the daily collections run: cases, assignment, strategy + gate, task lists.

    python bench/collection_run.py --cases 100000 [--db postgresql://postgres@127.0.0.1:5432/test]
    python bench/collection_run.py --ci            # 2,000 cases, proves it works

(Not ``bench/collections.py``: a script's folder comes first on ``sys.path``, so that
name would shadow the standard library's ``collections`` for every script in bench/.)

The book is written straight into the database: every loan past due (DPD 1–180, spread
evenly, so every rule of the default strategy fires somewhere), two unpaid installments
and one pending, a risk score on a third of them, and one collector per 400 cases in
each tier. End of day is marked closed for the date without running it. The first run
opens every case and assigns every collector (the heaviest day there is); the second is
an ordinary next day (DPD + 1: stage changes, stickiness, new treatments). Prints the
wall and CPU seconds of each step (the CPU seconds of this process: on SQLite they
include the database's work, on PostgreSQL not the server's; on a machine shared with
other work, wall time includes waiting for a core) and the load average; nothing here
asserts a time.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from daihou.collection.run import run_collections
from daihou.compliance.privacy.crypto import (
    KeyNotConfigured,
    Keyring,
    current_keyring,
    install_keyring,
)
from daihou.db.engine import database_url, make_engine, transaction
from daihou.db.models import Base
from daihou.eod.calendar import initialise_business_date

TODAY = date(2026, 3, 31)


def build(engine: Engine, cases: int, seed: int) -> None:
    rng = random.Random(seed)
    with transaction(engine) as s:
        initialise_business_date(s, TODAY + timedelta(days=1))
    customers, loans, inst, users, roles, collectors = [], [], [], [], [], []
    # personal data is stored encrypted (the run's messages step reads names); bench
    # data encrypts one value per column once and reuses it
    table = Base.metadata.tables["customers"]
    name, id_number, phone, address = (
        table.c[col].type.process_bind_param("x", engine.dialect)
        for col in ("name", "id_number", "phone", "address")
    )
    n_inst = 0
    for n in range(cases):
        dpd = 1 + n % 180
        loan_id, customer = f"B{n:08d}", f"C{n:08d}"
        principal = rng.choice((1_200_000, 3_600_000, 6_000_000, 15_000_000))  # fen
        customers.append((customer, name, id_number, phone, address))
        bucket = "M1" if dpd <= 30 else "M2" if dpd <= 60 else "M3" if dpd <= 90 else "M4"
        loans.append(
            (
                loan_id,
                customer,
                principal,
                (TODAY - timedelta(days=400)).isoformat(),
                principal // 2,
                dpd,
                bucket,
            )
        )
        oldest = TODAY - timedelta(days=dpd)
        for k, due in enumerate((oldest, oldest + timedelta(days=30), TODAY + timedelta(days=20))):
            n_inst += 1
            status = "pending" if due > TODAY else "due"
            inst.append(
                (
                    n_inst,
                    loan_id,
                    k + 1,
                    (due - timedelta(days=30)).isoformat(),
                    due.isoformat(),
                    principal // 24,
                    principal // 100,
                    status,
                )
            )
    for tier, count in (("desk", 0.3), ("junior", 0.3), ("senior", 0.4)):
        for k in range(max(1, int(cases * count / 400))):
            user = f"{tier}-{k:03d}"
            users.append((user, "x", f"team-{k % 5}", "2026-01-01 00:00:00", "2026-01-01 00:00:00"))
            roles.append((user, "collector-senior" if tier == "senior" else "collector-junior"))
            collectors.append((user, tier, f"team-{k % 5}", 120))
    with engine.begin() as conn:
        raw: Any = conn.connection.dbapi_connection
        cur = raw.cursor()
        ph = "?" if engine.dialect.name == "sqlite" else "%s"

        def many(sql: str, rows: list[tuple[Any, ...]]) -> None:
            for i in range(0, len(rows), 50000):
                cur.executemany(sql.replace("?", ph), rows[i : i + 50000])

        many(
            "INSERT INTO customers (id, name, id_number, phone, address) VALUES (?,?,?,?,?)",
            customers,
        )
        many(
            "INSERT INTO loans (id, customer_id, product, principal, annual_rate, current_rate, "
            "term_months, method, disbursed_on, outstanding_principal, status, credit_balance, "
            "version, dpd, bucket, risk_class) VALUES (?,?,'consumer',?,1800000000,1800000000,"
            "36,'equal-installment',?,?,'active',0,1,?,?,'special-mention')",
            loans,
        )
        many(
            "INSERT INTO installments (id, loan_id, period, start_date, due_date, annual_rate, "
            "principal_due, interest_due, principal_paid, interest_paid, status, fee_due, "
            "fee_paid, penalty_paid, compound_paid) VALUES (?,?,?,?,?,1800000000,?,?,0,0,?,0,0,"
            "0,0)",
            inst,
        )
        many(
            "INSERT INTO users (username, display_name, password_hash, team, active, "
            "failed_attempts, created_at, updated_at) VALUES (?,'',?,?,true,0,?,?)",
            users,
        )
        many("INSERT INTO user_roles (username, role) VALUES (?,?)", roles)
        many(
            "INSERT INTO collectors (user_id, tier, team, daily_capacity, active, created_at) "
            "VALUES (?,?,?,?,true,'2026-01-01 00:00:00')",
            collectors,
        )
        close = (
            "INSERT INTO eod_runs (business_date, step, mode, status, loans, rows, "
            "duration_ms) VALUES (?,'close','full','done',0,0,0)"
        )
        cur.execute(close.replace("?", ph), (TODAY.isoformat(),))
        cur.execute("ANALYZE")


def next_day(engine: Engine, d: date) -> None:
    """What end of day would do for the bench book: one more day past due."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE loans SET dpd = dpd + 1"))
        conn.execute(
            text(
                "INSERT INTO eod_runs (business_date, step, mode, status, loans, rows, "
                "duration_ms) VALUES (:d, 'close', 'full', 'done', 0, 0, 0)"
            ),
            {"d": d},
        )


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(label: str, engine: Engine, d: date, cases: int) -> None:
    t0, c0 = time.perf_counter(), time.process_time()
    r = run_collections(engine, d)
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    c = r.counts
    sec, cpus = c["seconds"], c.get("cpu_seconds", {})
    work = sec["assignment"] + sec["treatments+tasks"]
    print(
        f"{label}: {total:6.2f} s total, {cases / total:9,.0f} cases/s, "
        f"peak RSS {peak_mb():,.0f} MB; CPU of this process {cpu:.2f} s; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    steps = [k for k in sec if k != "detail"]
    print("  wall s: " + "  ".join(f"{k} {sec[k]:.2f}" for k in steps))
    if cpus:
        print("  CPU s:  " + "  ".join(f"{k} {cpus[k]:.2f}" for k in steps))
        work_cpu = cpus["assignment"] + cpus["treatments+tasks"]
        print(
            f"  strategy + task generation (assignment, treatments, tasks): {work:.2f} s "
            f"wall, {work_cpu:.2f} s CPU"
        )
        print(f"  treatments+tasks detail (wall): {sec['detail']}")
        print(f"  treatments+tasks detail (CPU):  {cpus['detail']}")
    else:
        print(f"  strategy + task generation (assignment, treatments, tasks): {work:.2f} s")
        print(f"  treatments+tasks detail: {sec['detail']}")
    print(f"  {c['cases']}\n  {c['treatments']}\n  {c['tasks']}")
    if "messages" in c:
        print(f"  messages: {c['messages']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ci", action="store_true", help="2,000 cases")
    args = parser.parse_args(argv)
    cases = 2_000 if args.ci else args.cases
    try:
        current_keyring()
    except KeyNotConfigured:  # a throwaway database: a throwaway data key
        install_keyring(Keyring.generate())
    schema = None
    with tempfile.TemporaryDirectory() as tmp:
        if args.db:
            schema = f"bench_{uuid.uuid4().hex[:10]}"
            admin = make_engine(args.db)
            with admin.begin() as c:
                c.execute(text(f'CREATE SCHEMA "{schema}"'))
            engine = make_engine(f"{database_url(args.db)}?options=-csearch_path%3D{schema}")
        else:
            engine = make_engine(f"sqlite:///{Path(tmp) / 'collections.db'}")
        try:
            Base.metadata.create_all(engine)
            t0 = time.perf_counter()
            build(engine, cases, args.seed)
            print(
                f"{engine.dialect.name}: built {cases:,} past-due loans in "
                f"{time.perf_counter() - t0:.1f} s"
            )
            report("first day (opens every case)", engine, TODAY, cases)
            next_day(engine, TODAY + timedelta(days=1))
            report("next day", engine, TODAY + timedelta(days=1), cases)
        finally:
            engine.dispose()
            if schema:
                with admin.begin() as c:
                    c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
