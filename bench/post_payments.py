#!/usr/bin/env python3
"""Benchmark repayment posting: the batch path against ``post_payment`` one by one.

    python bench/post_payments.py --loans 10000 [--db postgresql://postgres@127.0.0.1:5432/test]
    python bench/post_payments.py --ci          # 400 + 100 loans, proves it works

A book of consumer loans (12/24/36 months, 等额本息 and 等额本金) is imported with
their first installment due and unpaid. ``--loans`` of them get that installment paid
through ``daihou.payments.batch.post_payments`` (one file, chunks of ``--chunk`` rows);
``--single`` others (default: a fifth as many, at most 2,000) through
``post_payment``, one unit of work each, as the ``daihou pay`` command does. Prints
payments per second for both and the ratio, and the load average (other processes
share the machine). Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import tempfile
import time
import uuid
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, func, select, text

from daihou.compliance.privacy.crypto import (
    KeyNotConfigured,
    Keyring,
    current_keyring,
    install_keyring,
)
from daihou.db.engine import database_url, make_engine, transaction
from daihou.db.models import Base, Installment, Transaction
from daihou.eod.calendar import initialise_business_date
from daihou.ledger.service import trial_balance
from daihou.loans.book import import_loans
from daihou.loans.import_file import COLUMNS
from daihou.payments.batch import PaymentRequest, post_payments
from daihou.payments.service import post_payment

TODAY = date(2026, 3, 31)
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(serial: int) -> str:
    """A valid resident id (GB 11643 check digit) that belongs to no one."""
    body = f"110101199001{serial % 100000:05d}"
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True)) % 11]


def write_book(path: Path, loans: int, seed: int) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.DictWriter(f, fieldnames=COLUMNS)
        out.writeheader()
        for i in range(loans):
            disbursed = TODAY - timedelta(days=rng.randrange(31, 58))
            out.writerow(
                {
                    "loan_id": f"P{i:07d}",
                    "customer_id": f"C{i:07d}",
                    "customer_name": "测试客户",
                    "id_number": id_number(i),
                    "phone": f"138{i:08d}",
                    "product": "consumer",
                    "principal": f"{rng.randrange(5_000, 200_000)}.00",
                    "annual_rate": f"{rng.randrange(345, 1800) / 100}%",
                    "term_months": str(rng.choice((12, 24, 36))),
                    "method": rng.choice(("equal-installment",) * 3 + ("equal-principal",)),
                    "disbursed_on": disbursed.isoformat(),
                    "first_due_on": "",
                    "repayment_day": "",
                    "address": "",
                    "employer": "",
                    "lpr_spread_bps": "",
                }
            )


def first_dues(engine: Engine) -> list[tuple[str, Decimal]]:
    with transaction(engine) as s:
        rows = s.execute(
            select(Installment.loan_id, Installment.principal_due, Installment.interest_due)
            .where(Installment.period == 1)
            .order_by(Installment.loan_id)
        ).all()
    return [(loan_id, p + i) for loan_id, p, i in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loans", type=int, default=10_000, help="payments posted by batch")
    parser.add_argument("--single", type=int, help="payments posted one by one")
    parser.add_argument("--chunk", type=int, default=500)
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--seed", type=int, default=20260331)
    parser.add_argument("--ci", action="store_true", help="400 + 100 loans: proves it works")
    args = parser.parse_args(argv)
    if args.ci:
        args.loans, args.single = 400, 100
    single = args.single if args.single is not None else min(2_000, max(1, args.loans // 5))
    try:
        current_keyring()
    except KeyNotConfigured:  # a throwaway database: a throwaway data key
        install_keyring(Keyring.generate())

    with tempfile.TemporaryDirectory(prefix="daihou-bench-") as tmp:
        folder = Path(tmp)
        url = args.db or f"sqlite:///{folder}/bench.db"
        schema = admin = None
        if database_url(url).startswith("postgresql"):
            schema = f"bench_{uuid.uuid4().hex[:10]}"
            admin = make_engine(url)
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            base = database_url(url)
            url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
        engine = make_engine(url)
        try:
            Base.metadata.create_all(engine)
            with transaction(engine) as s:
                initialise_business_date(s, TODAY)
            started = time.perf_counter()
            write_book(folder / "book.csv", args.loans + single, args.seed)
            import_loans(engine=engine, path=folder / "book.csv")
            print(
                f"book: {args.loans + single:,} loans imported in "
                f"{time.perf_counter() - started:.1f} s ({engine.dialect.name})"
            )
            dues = first_dues(engine)
            batch, one = dues[: args.loans], dues[args.loans :]
            requests = [
                PaymentRequest(loan_id, amount, TODAY, "bank-debit", f"DD-{loan_id}")
                for loan_id, amount in batch
            ]
            load = os.getloadavg()[0]
            started, cpu = time.perf_counter(), time.process_time()
            result = post_payments(engine, requests, chunk=args.chunk)
            batch_s, batch_cpu = time.perf_counter() - started, time.process_time() - cpu
            assert result.posted == len(batch), result.errors[:3]
            started, cpu = time.perf_counter(), time.process_time()
            for loan_id, amount in one:
                with transaction(engine) as s:
                    post_payment(
                        session=s,
                        loan_id=loan_id,
                        amount=amount,
                        value_date=TODAY,
                        channel="bank-debit",
                        reference=f"DD-{loan_id}",
                    )
            single_s, single_cpu = time.perf_counter() - started, time.process_time() - cpu
            again = time.perf_counter()
            repeat = post_payments(engine, requests, chunk=args.chunk)
            repeat_s = time.perf_counter() - again
            with transaction(engine) as s:
                posted = s.scalar(
                    select(func.count())
                    .select_from(Transaction)
                    .where(Transaction.kind == "repayment")
                )
                balanced = trial_balance(s).balanced
        finally:
            engine.dispose()
            if admin is not None:
                with admin.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()

    batch_rate = len(batch) / batch_s
    single_rate = len(one) / single_s if one else float("nan")
    print(f"load average:     {load:.2f} before, {os.getloadavg()[0]:.2f} after (2 cores)")
    print(
        f"batch:            {len(batch):,} payments in {batch_s:.2f} s = {batch_rate:,.0f}/s "
        f"({batch_cpu / len(batch) * 1000:.2f} ms CPU of this process each)"
    )
    print(
        f"one by one:       {len(one):,} payments in {single_s:.2f} s = {single_rate:,.0f}/s "
        f"({single_cpu / max(1, len(one)) * 1000:.2f} ms CPU of this process each)"
    )
    print(f"speed-up:         {batch_rate / single_rate:.1f}x")
    print(
        f"same file again:  {repeat.duplicates:,} duplicates in {repeat_s:.2f} s "
        f"= {len(batch) / repeat_s:,.0f}/s"
    )
    print(f"repayments:       {posted:,} in the database; trial balance balanced: {balanced}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
