#!/usr/bin/env python3
"""Benchmark ``daihou demo generate``: write a generated book and say where the time went.

    python bench/generate.py --loans 200000                 # SQLite file in /var/tmp
    python bench/generate.py --loans 200000 --db postgresql://postgres@127.0.0.1:5432/test
    python bench/generate.py --loans 1000000 --dir /var/tmp  # ~10 GB free: book + scratch
    python bench/generate.py --ci                           # 10,000 loans

Prints, for the whole run and for each part (``GenerateResult.seconds``): wall seconds,
the CPU seconds of this process, of its worker processes (customer encryption, side
tables) and, on PostgreSQL when the server runs on this machine, of the load's own
server backend (and, per part where known, the CPU seconds of this process or of the
worker that built a table); the whole machine's busy CPU seconds over the run (every
process: the side tables' backends and the parallel index workers too) against what
its cores could give; the peak RSS and the load average. Then checks the book: the
foreign keys hold (``PRAGMA foreign_key_check`` on SQLite; on PostgreSQL the keys were
re-validated when rebuilt) and every index of the model exists. The SQLite file or
PostgreSQL schema is dropped at the end. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

from sqlalchemy import inspect, text

from daihou.db.engine import database_url, make_engine, transaction
from daihou.db.models import Base
from daihou.demo.generate import generate_book
from daihou.eod.calendar import initialise_business_date
from eod import _key, watch_server_cpu

TODAY = date(2026, 3, 31)


def machine_cpu() -> float | None:
    """Busy CPU seconds of the whole machine so far (``/proc/stat``: user, nice, system,
    irq, softirq, steal), or None where there is no ``/proc``."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--loans", type=int, default=200_000)
    parser.add_argument("--db", help="PostgreSQL URL (default: a SQLite file in --dir)")
    parser.add_argument("--dir", type=Path, default=Path("/var/tmp"), help="for SQLite")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--ci", action="store_true", help="10,000 loans")
    parser.add_argument("--keep", type=Path, help="SQLite: keep the book at this path")
    args = parser.parse_args(argv)
    loans = 10_000 if args.ci else args.loans
    _key()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        schema = None
        if args.db:
            schema = f"bench_{uuid.uuid4().hex[:10]}"
            admin = make_engine(args.db)
            with admin.begin() as c:
                c.execute(text(f'CREATE SCHEMA "{schema}"'))
            engine = make_engine(f"{database_url(args.db)}?options=-csearch_path%3D{schema}")
        else:
            path = args.keep or Path(tmp) / "book.db"
            engine = make_engine(f"sqlite:///{path}")
        try:
            Base.metadata.create_all(engine)
            with transaction(engine) as s:
                initialise_business_date(s, TODAY)
            server = watch_server_cpu(engine)
            load0 = os.getloadavg()[0]
            t0, c0, k0, s0 = time.perf_counter(), time.process_time(), children_cpu(), server()
            m0 = machine_cpu()
            result = generate_book(engine, loans=loans, seed=args.seed)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            workers, s1, m1 = children_cpu() - k0, server(), machine_cpu()
            print(
                f"{engine.dialect.name}: {loans:,} loans, {result.customers:,} customers, "
                f"{result.installments:,} installments: {wall:.1f} s wall, CPU {cpu:.1f} s "
                f"(this process) + {workers:.1f} s (workers)",
                end="",
            )
            if s0 is not None and s1 is not None:
                print(f" + {s1 - s0:.1f} s (the load's backend)", end="")
            if m0 is not None and m1 is not None:
                cores = os.cpu_count() or 1
                print(f"; machine busy {m1 - m0:.1f} of {cores} × {wall:.1f} s", end="")
            print(
                f"; peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f}"
                f" MB; load average {load0:.1f} → {os.getloadavg()[0]:.1f}"
            )
            print(f"  {'part':<36} {'wall s':>8} {'CPU s':>8}")
            for part in {**(result.seconds or {}), **result.cpu}:
                wall_s = (result.seconds or {}).get(part)
                cpu_s = result.cpu.get(part)
                print(
                    f"  {part:<36} {'' if wall_s is None else f'{wall_s:.1f}':>8}"
                    f" {'' if cpu_s is None else f'{cpu_s:.1f}':>8}"
                )
            problems = check_book(engine)
            for p in problems:
                print("PROBLEM:", p)
            return 1 if problems else 0
        finally:
            engine.dispose()
            if schema:
                with admin.begin() as c:
                    c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()


def check_book(engine: object) -> list[str]:
    """Foreign keys hold (SQLite) and every index of the model exists."""
    from sqlalchemy import Engine

    assert isinstance(engine, Engine)
    problems = []
    with engine.connect() as c:
        if engine.dialect.name == "sqlite":
            bad = c.exec_driver_sql("PRAGMA foreign_key_check").all()
            problems += [f"foreign key: {row}" for row in bad[:10]]
        found = inspect(c)
        for table in Base.metadata.sorted_tables:
            have = {i["name"] for i in found.get_indexes(table.name)}
            missing = [i.name for i in table.indexes if i.name not in have]
            problems += [f"index {name} of {table.name} missing" for name in missing]
    return problems


if __name__ == "__main__":
    sys.exit(main())
