"""Idempotency and serialisation under concurrent requests (threads, real connections)."""

from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from daihou.db.engine import transaction
from daihou.ledger.service import trial_balance
from daihou.payments.models import Transaction
from daihou.payments.service import Posting, post_payment
from tests.factories import add_loans, init_book, loan_row
from tests.services.snapshots import loan_state

THREADS = 8


def _race(engine: Engine, jobs: list[dict[str, object]]) -> list[Posting | BaseException]:
    barrier = threading.Barrier(len(jobs))
    results: list[Posting | BaseException] = [RuntimeError("not run")] * len(jobs)

    def run(i: int) -> None:
        barrier.wait()
        try:
            with transaction(engine) as s:
                results[i] = post_payment(session=s, **jobs[i])  # type: ignore[arg-type]
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


@pytest.mark.parametrize("same_loan", [True, False], ids=["same-loan", "two-loans"])
def test_threads_posting_one_reference_post_it_once(
    engine: Engine, tmp_path: Path, backend: str, same_loan: bool
) -> None:
    init_book(engine, date(2024, 6, 30))
    add_loans(engine, tmp_path, [loan_row("L1"), loan_row("L2")])
    jobs = [
        {
            "loan_id": "L1" if same_loan or i % 2 == 0 else "L2",
            "amount": "1134.71",
            "value_date": date(2024, 2, 15),
            "channel": "bank-debit",
            "reference": "DEBIT-20240215-0001",
        }
        for i in range(THREADS)
    ]
    results = _race(engine, jobs)
    postings = [r for r in results if isinstance(r, Posting)]
    with transaction(engine) as s:
        rows = s.scalars(
            select(Transaction).where(Transaction.reference == "DEBIT-20240215-0001")
        ).all()
        assert len(rows) == 1
        assert trial_balance(s).balanced
    winner = rows[0]
    assert sum(p.created for p in postings) == 1
    for r in results:
        if isinstance(r, Posting):
            assert r.transaction_id == winner.id
        else:  # only a request for the other loan may be refused, as a conflict
            assert not same_loan and "already used" in str(r), r
    if same_loan:
        assert len(postings) == THREADS


def test_threads_posting_different_references_serialise(engine: Engine, tmp_path: Path) -> None:
    init_book(engine, date(2024, 6, 30))
    add_loans(engine, tmp_path, [loan_row("L1"), loan_row("S1")])
    amounts = [Decimal("300.00") + i for i in range(THREADS)]
    jobs = [
        {
            "loan_id": "L1",
            "amount": str(amounts[i]),
            "value_date": date(2024, 2, 1 + i),
            "channel": "online",
            "reference": f"ONLINE-{i}",
        }
        for i in range(THREADS)
    ]
    results = _race(engine, jobs)
    assert all(isinstance(r, Posting) and r.created for r in results), results
    for i in range(THREADS):  # the same payments one by one on an identical loan
        with transaction(engine) as s:
            post_payment(session=s, **{**jobs[i], "loan_id": "S1", "channel": "counter"})  # type: ignore[arg-type]
    with transaction(engine) as s:
        raced, serial = loan_state(s, "L1"), loan_state(s, "S1")
    serial["balances"] = {k.replace("counter", "online"): v for k, v in serial["balances"].items()}
    assert raced == serial
    with transaction(engine) as s:
        n = s.scalar(
            select(func.count()).select_from(Transaction).where(Transaction.kind == "repayment")
        )
        assert n == 2 * THREADS
