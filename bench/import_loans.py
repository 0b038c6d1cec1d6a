#!/usr/bin/env python3
"""Benchmark the loan-book import: a synthetic book of N consumer loans, imported once.

    python bench/import_loans.py --loans 100000
    python bench/import_loans.py --loans 100000 --db postgresql://postgres@127.0.0.1:5432/test

The book is deterministic for a seed: 12/24/36-month consumer loans, some customers
with two loans, valid resident ID numbers (GB 11643 check digit), mobiles written in
several styles. SQLite runs on a temporary file; PostgreSQL in a temporary schema that
is dropped afterwards. Prints figures only — nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import os
import random
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select, text

from daihou.compliance.privacy.crypto import (
    KeyNotConfigured,
    Keyring,
    current_keyring,
    install_keyring,
)
from daihou.db.engine import database_url, make_engine, transaction
from daihou.db.models import Base, Installment
from daihou.eod.calendar import initialise_business_date
from daihou.loans.book import import_loans
from daihou.loans.import_file import COLUMNS

BUSINESS_DATE = date(2026, 3, 31)
REGIONS = ("110101", "310104", "440305", "510107", "330106", "420102", "320102", "610113")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"
EMPLOYERS = ("", "", "深圳市某科技有限公司", "上海某贸易有限公司", "成都某餐饮管理有限公司")
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(rng: random.Random) -> str:
    born = date(1960, 1, 1) + timedelta(days=rng.randrange(40 * 365))
    body = f"{rng.choice(REGIONS)}{born:%Y%m%d}{rng.randrange(1000):03d}"
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True)) % 11]


def phone(rng: random.Random) -> str:
    digits = f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"
    style = rng.randrange(4)
    if style == 1:
        return f"+86 {digits}"
    if style == 2:
        return f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"
    return digits


def book(loans: int, seed: int) -> Iterator[list[str]]:
    rng = random.Random(seed)
    customer: list[str] = []
    for i in range(loans):
        if not customer or rng.random() > 0.1:  # one customer in ten has a second loan
            name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2))))
            customer = [f"C{i:09d}", name, id_number(rng), phone(rng)]
        term = rng.choice((12, 24, 36))
        disbursed = BUSINESS_DATE - timedelta(days=rng.randrange(3 * 365))
        principal = f"{rng.randrange(500_000, 20_000_000) / 100:,.2f}"
        rate = f"{rng.randrange(345, 1800) / 100}%"
        method = rng.choice(
            ("equal-installment",) * 6 + ("等额本息", "equal-principal", "等额本金")
        )
        repayment_day = str(rng.randrange(1, 29)) if rng.random() < 0.3 else ""
        yield [
            f"L{i:09d}",
            *customer,
            "consumer",
            principal,
            rate,
            str(term),
            method,
            disbursed.isoformat(),
            "",
            repayment_day,
            "",
            rng.choice(EMPLOYERS),
        ]


def write_csv(path: Path, loans: int, seed: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(COLUMNS)
        out.writerows(book(loans, seed))


def write_xlsx(path: Path, loans: int, seed: int) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(list(COLUMNS))
    for row in book(loans, seed):
        sheet.append(row)
    workbook.save(path)


def create_schema(engine: Engine) -> None:
    """``daihou init`` without the CLI: the Alembic migrations when present."""
    try:
        schema = importlib.import_module("daihou.db.schema")
    except ImportError:
        schema = None
    if schema is not None and hasattr(schema, "upgrade"):
        schema.upgrade(engine)
    else:
        Base.metadata.create_all(engine)
    with transaction(engine) as session:
        initialise_business_date(session, BUSINESS_DATE)


def _cpu(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # kB on Linux


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loans", type=int, default=100_000)
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--seed", type=int, default=20260331)
    parser.add_argument("--xlsx", action="store_true", help="write and import an XLSX file")
    parser.add_argument("--ci", action="store_true", help="2,000 loans: proves it works")
    args = parser.parse_args(argv)
    if args.ci:
        args.loans = 2_000
    try:
        current_keyring()
    except KeyNotConfigured:  # a throwaway database: a throwaway data key
        install_keyring(Keyring.generate())

    with tempfile.TemporaryDirectory(prefix="daihou-bench-") as tmp:
        folder = Path(tmp)
        source = folder / ("book.xlsx" if args.xlsx else "book.csv")
        started = time.perf_counter()
        (write_xlsx if args.xlsx else write_csv)(source, args.loans, args.seed)
        print(f"generated {args.loans:,} loans in {time.perf_counter() - started:.1f} s: {source}")

        url = args.db or f"sqlite:///{folder}/bench.db"
        schema_name = None
        admin = None
        if database_url(url).startswith("postgresql"):
            schema_name = f"bench_{uuid.uuid4().hex[:10]}"
            admin = make_engine(url)
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema_name}"'))
            base = database_url(url)
            url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema_name}"
        engine = make_engine(url)
        try:
            create_schema(engine)
            marks: dict[str, float] = {}

            def progress(done: int, total: int) -> None:
                if done >= total // 2 and "checked" not in marks:
                    marks["checked"] = time.perf_counter()

            load_before = os.getloadavg()[0]
            cpu_before = resource.getrusage(resource.RUSAGE_SELF)
            started = time.perf_counter()
            result = import_loans(engine=engine, path=source, progress=progress)
            seconds = time.perf_counter() - started
            cpu_self = _cpu(resource.getrusage(resource.RUSAGE_SELF)) - _cpu(cpu_before)
            cpu_workers = _cpu(resource.getrusage(resource.RUSAGE_CHILDREN))
            load_after = os.getloadavg()[0]
            with engine.connect() as conn:
                stored = conn.execute(select(func.count()).select_from(Installment)).scalar_one()
        finally:
            engine.dispose()
            if admin is not None:
                with admin.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema_name}" CASCADE'))
                admin.dispose()

    checked = marks.get("checked", started) - started
    print(f"database:        {engine.dialect.name}")
    print(f"rows:            {result.rows:,} ({result.created:,} created)")
    print(
        f"total seconds:   {seconds:.2f} (checks + schedules {checked:.2f}, writes "
        f"{seconds - checked:.2f})"
    )
    print(f"rows/s:          {result.rows / seconds:,.0f}")
    print(f"cpu seconds:     {cpu_self:.2f} (this process) + {cpu_workers:.2f} (schedule workers)")
    print(f"load average:    {load_before:.2f} before, {load_after:.2f} after (other work skews)")
    print(f"installments:    {result.installments:,} written, {stored:,} in the table")
    print(
        f"peak RSS:        {peak_rss_mb(resource.RUSAGE_SELF):,.0f} MB (this process), "
        f"{peak_rss_mb(resource.RUSAGE_CHILDREN):,.0f} MB (largest worker)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
