"""Batch posting gives exactly what posting the same rows one by one gives."""

from __future__ import annotations

import random
import threading
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from daihou.auth.actor import Actor
from daihou.auth.permissions import PermissionDenied
from daihou.compliance.audit.models import AuditRecord
from daihou.compliance.audit.service import verify
from daihou.db.engine import transaction
from daihou.eod.models import Accrual, ClassChange, LoanEvent, LoanSnapshot
from daihou.eod.runner import run_eod
from daihou.ledger.models import JournalEntry, JournalLine
from daihou.loans.models import Installment, Loan
from daihou.payments.batch import BatchResult, PaymentRequest, _parse_date, post_payments
from daihou.payments.errors import ServicingError
from daihou.payments.models import Transaction
from daihou.payments.recompute import recompute_loan
from daihou.payments.service import Posting, charge_fee, post_payment, prepay
from tests.factories import add_loans, init_book, loan_row
from tests.services.snapshots import loan_state

START = date(2024, 2, 10)
TODAY = date(2024, 2, 20)
LOANS = ("L1", "L2", "L3", "L4", "L5")


def build(engine: Engine, tmp_path: Path) -> Decimal:
    """Five 12-month loans, ten closed days (the first installment fell due on 15 Feb
    and is unpaid), and one payment posted before the batch. Returns installment 1."""
    init_book(engine, START)
    add_loans(engine, tmp_path, [loan_row(k) for k in LOANS])
    run_eod(engine, through=date(2024, 2, 19))
    with transaction(engine) as s:
        first = s.scalars(
            select(Installment).where(Installment.loan_id == "L1", Installment.period == 1)
        ).one()
        due = first.principal_due + first.interest_due
        post_payment(
            session=s,
            loan_id="L5",
            amount="200.00",
            value_date=date(2024, 2, 18),
            channel="counter",
            reference="PRE-1",
        )
    return due


def rows(due: Decimal) -> list[PaymentRequest]:
    d = str(due)
    spec: list[tuple[str, str, str, str, str]] = [
        ("L1", d, "2024-02-20", "bank-debit", "B-1"),  # late: pays 罚息 first
        ("L1", "100.00", "2024-02-20", "bank-debit", "B-2"),  # second row, rest to credit
        ("L2", d, "2024-02-16", "counter", "B-3"),  # backdated: replays closed days
        ("L2", "50.00", "2024-02-15", "counter", "B-4"),  # earlier still: reallocates B-3
        ("L1", d, "2024-02-20", "bank-debit", "B-1"),  # same reference, same request
        ("L1", "1.00", "2024-02-20", "bank-debit", "B-1"),  # same reference, other amount
        ("NOPE", "10.00", "2024-02-20", "counter", "B-7"),  # no such loan
        ("L3", "-5", "2024-02-20", "counter", "B-8"),
        ("L3", "abc", "2024-02-20", "counter", "B-9"),
        ("L3", "10.00", "2024-02-20", "cash", "B-10"),
        ("L3", "10.00", "2024-02-21", "counter", "B-11"),  # after the business date
        ("L3", "10.00", "2024-02-30", "counter", "B-12"),  # not a date
        ("L3", "20000.00", "2024-02-20", "transfer", "B-13"),  # overpaid: credit
        ("L5", "200.00", "2024-02-18", "counter", "PRE-1"),  # posted before the batch
        ("L4", d, "2024-02-20", "online", "B-15"),
        ("L4", "300.00", "2024-02-12", "online", "B-16"),  # before the due date
        ("L3", "10.00", "2024-01-01", "counter", "B-17"),  # before disbursement
        ("L2", d, "2024-02-16", "counter", "B-3"),  # duplicate after its reallocation
        ("L5", "", "2024-02-20", "counter", "B-19"),
        ("L1", "5.00", "2024-02-20", "counter", ""),
    ]
    return [PaymentRequest(*r, row=n + 2) for n, r in enumerate(spec)]  # row 1: CSV header


def one_by_one(engine: Engine, requests: list[PaymentRequest]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for r in requests:
        try:
            when = _parse_date(r.value_date)
            with transaction(engine) as s:
                p = post_payment(
                    session=s,
                    loan_id=r.loan_id,
                    amount=r.amount,
                    value_date=when,
                    channel=r.channel,
                    reference=r.reference,
                )
            out.append((r.row, "posted" if p.created else "duplicate", p, None, None))
        except ServicingError as exc:
            field = "value_date" if exc.field == "on" else exc.field
            out.append((r.row, "error", None, field, str(exc)))
        except ValueError as exc:
            out.append((r.row, "error", None, "amount", str(exc)))
    return out


def picture(engine: Engine) -> dict[str, Any]:
    """Everything posting writes, ids included where the order of writes fixes them."""
    with transaction(engine) as s:
        loans = s.scalars(select(Loan.id).order_by(Loan.id)).all()
        lines: dict[int, list[tuple[Any, ...]]] = {}
        for line in s.scalars(select(JournalLine).order_by(JournalLine.id)):
            lines.setdefault(line.entry_id, []).append((line.account, line.debit, line.credit))
        return {
            "loans": {k: loan_state(s, k) for k in loans},
            "rows": [
                (lo.id, lo.dpd, lo.bucket, lo.risk_class, lo.version, lo.status)
                for lo in s.scalars(select(Loan).order_by(Loan.id))
            ],
            "installments": [
                (i.loan_id, i.period, i.penalty_due, i.compound_due, i.penalty_base, i.status)
                for i in s.scalars(select(Installment).order_by(Installment.loan_id, "period"))
            ],
            "transactions": [
                (t.id, t.loan_id, t.kind, t.value_date, t.booked_on, t.amount, t.reference)
                for t in s.scalars(select(Transaction).order_by(Transaction.id))
            ],
            "journal": [
                (
                    e.id,
                    e.kind,
                    e.entry_date,
                    e.booked_on,
                    e.loan_id,
                    e.transaction_id,
                    e.memo,
                    sorted(lines.get(e.id, [])),
                )
                for e in s.scalars(select(JournalEntry).order_by(JournalEntry.id))
            ],
            "accruals": [
                (a.loan_id, a.business_date, a.penalty, a.compound, a.source, a.journal_entry_id)
                for a in s.scalars(select(Accrual).order_by(Accrual.id))
            ],
            "snapshots": sorted(
                (
                    x.business_date,
                    x.loan_id,
                    x.status,
                    x.dpd,
                    x.bucket,
                    x.risk_class,
                    x.outstanding_principal,
                    x.overdue_principal,
                    x.penalty_outstanding,
                )
                for x in s.scalars(select(LoanSnapshot))
            ),
            "events": sorted(
                (e.business_date, e.loan_id, e.kind, e.from_value, e.to_value)
                for e in s.scalars(select(LoanEvent).where(LoanEvent.superseded.is_(False)))
            ),
            "class_changes": sorted(
                (c.business_date, c.loan_id, c.old_class, c.new_class, c.source)
                for c in s.scalars(select(ClassChange).where(ClassChange.superseded.is_(False)))
            ),
            "audit": [
                (
                    a.id,
                    a.action,
                    a.object_type,
                    a.after_digest,
                    a.basis,
                    a.business_date,
                    a.actor_id,
                    a.object_id if a.object_type == "transaction" else "",
                )
                for a in s.scalars(select(AuditRecord).order_by(AuditRecord.id))
                if a.action != "loan.import"  # names the (temporary) file
            ],
            "audit_ok": verify(s).ok,
        }


@pytest.mark.parametrize("chunk", [4, 500])
def test_batch_equals_posting_one_by_one(
    engine: Engine, other_engine: Engine, tmp_path: Path, chunk: int
) -> None:
    due = build(engine, tmp_path)
    build(other_engine, tmp_path)
    requests = rows(due)
    expected = one_by_one(engine, requests)
    result = post_payments(other_engine, requests, chunk=chunk)

    got = [(r.row, r.status, r.posting, r.field, r.error) for r in result.rows]
    assert got == expected
    assert (result.posted, result.duplicates, len(result.errors)) == (7, 3, 10)
    assert {r.row: r.field for r in result.errors} == {
        7: "reference", 8: "loan_id", 9: "amount", 10: "amount", 11: "channel",
        12: "value_date", 13: "value_date", 18: "value_date", 20: "amount", 21: "reference",
    }  # fmt: skip
    a, b = picture(engine), picture(other_engine)
    for key in a:
        assert b[key] == a[key], key
    # the scenario exercised what it says it does
    kinds = [e[1] for e in b["journal"]]
    assert "reallocation" in kinds and "accrual-adjustment" in kinds
    assert b["loans"]["L3"]["loan"][3] > 18000  # what is not due yet is kept as credit
    assert b["audit_ok"]


def test_an_actor_without_the_right_posts_nothing(engine: Engine, tmp_path: Path) -> None:
    due = build(engine, tmp_path)
    with transaction(engine) as s:
        before = s.scalars(select(Transaction.id)).all()
    clerk = Actor(user_id="c1", roles=frozenset({"collector-junior"}))
    with pytest.raises(PermissionDenied):
        post_payments(engine, rows(due), actor=clerk)
    with transaction(engine) as s:
        assert s.scalars(select(Transaction.id)).all() == before


def random_book(engine: Engine, tmp_path: Path, seed: int) -> list[str]:
    """Consumer, mortgage and interest-only loans of random sizes, one floating-rate
    mortgage repriced on 1 January, and three weeks of end of day."""
    rng = random.Random(seed)
    start = date(2025, 1, 5)
    init_book(engine, start)
    rows = [
        loan_row(
            f"R{k}",
            principal=f"{rng.randrange(30, 300) * 100}.00",
            annual_rate=rng.choice(["12%", "18%", "24%"]),
            term_months=rng.choice([6, 12, 24]),
            disbursed_on=(start - timedelta(days=rng.randrange(10, 70))).isoformat(),
            product=rng.choice(["consumer", "consumer", "mortgage", "business"]),
        )
        for k in range(7)
    ]
    rows.append(
        loan_row(
            "F1",
            product="mortgage",
            principal="300000",
            annual_rate="4%",
            term_months=120,
            disbursed_on="2023-06-10",
            lpr_spread_bps="-20",
        )
    )
    add_loans(engine, tmp_path, rows)
    run_eod(engine, through=start + timedelta(days=20))
    return [r["loan_id"] for r in rows]


def random_rows(seed: int, loans: list[str], today: date) -> list[PaymentRequest]:
    rng = random.Random(seed + 1)
    out: list[PaymentRequest] = []
    for n in range(40):
        if out and rng.random() < 0.15:  # a reference again: the same request or another
            prev = rng.choice(out)
            same = rng.random() < 0.5
            out.append(
                PaymentRequest(
                    prev.loan_id,
                    prev.amount if same else "7.00",
                    prev.value_date,
                    prev.channel,
                    prev.reference,
                    row=len(out) + 1,
                )
            )
            continue
        loan = rng.choice([*loans, "GHOST"] if rng.random() < 0.05 else loans)
        amount = (
            rng.choice(["0", "-1", "1.001"])
            if rng.random() < 0.05
            else (f"{rng.randrange(1, 3000)}.{rng.randrange(100):02d}")
        )
        when = today - timedelta(days=rng.choice([0, 0, 0, 1, 3, 8, 15, 30]))
        channel = "cash" if rng.random() < 0.04 else rng.choice(["bank-debit", "online"])
        out.append(PaymentRequest(loan, amount, when, channel, f"X-{n}", row=len(out) + 1))
    return out


@pytest.mark.parametrize(("seed", "chunk"), [(11, 3), (12, 7), (13, 500)])
def test_random_files_equal_posting_one_by_one(
    engine: Engine, other_engine: Engine, tmp_path: Path, seed: int, chunk: int
) -> None:
    loans = random_book(engine, tmp_path, seed)
    random_book(other_engine, tmp_path, seed)
    requests = random_rows(seed, loans, date(2025, 1, 26))
    expected = one_by_one(engine, requests)
    result = post_payments(other_engine, requests, chunk=chunk)
    assert [(r.row, r.status, r.posting, r.field, r.error) for r in result.rows] == expected
    assert result.posted > 20
    a, b = picture(engine), picture(other_engine)
    for key in a:
        assert b[key] == a[key], key


def test_concurrent_files_over_the_same_loans_post_each_reference_once(
    engine: Engine, tmp_path: Path
) -> None:
    """Two files over the same loans in opposite orders, and single postings, at once:
    no deadlock (loans are locked in id order), each reference posted once, and every
    cache equals a fresh recompute."""
    init_book(engine, TODAY)
    ids = [f"C{k}" for k in range(6)]
    add_loans(engine, tmp_path, [loan_row(k) for k in [*ids, "Z1"]])
    rows_ = [PaymentRequest(k, "300.00", TODAY, "bank-debit", f"F-{k}") for k in ids]
    files = [rows_, list(reversed(rows_))]
    outcome: list[Any] = [None, None, None]
    barrier = threading.Barrier(3)

    def run_file(i: int) -> None:
        barrier.wait()
        try:
            outcome[i] = post_payments(engine, files[i], chunk=2)
        except BaseException as exc:  # reported below
            outcome[i] = exc

    def run_single() -> None:
        barrier.wait()
        try:
            with transaction(engine) as s:  # F-C0 on another loan: one of them is refused
                outcome[2] = post_payment(
                    session=s,
                    loan_id="Z1",
                    amount="300.00",
                    value_date=TODAY,
                    channel="bank-debit",
                    reference="F-C0",
                )
        except ServicingError as exc:
            outcome[2] = exc

    threads = [threading.Thread(target=run_file, args=(i,)) for i in (0, 1)]
    threads.append(threading.Thread(target=run_single))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    a, b, single = outcome
    assert isinstance(a, BatchResult) and isinstance(b, BatchResult), (a, b)
    with transaction(engine) as s:
        refs = s.scalars(select(Transaction.reference).where(Transaction.kind == "repayment"))
        assert sorted(refs) == sorted(f"F-{k}" for k in ids)
        before = {k: loan_state(s, k) for k in [*ids, "Z1"]}
    posted = a.posted + b.posted + (1 if isinstance(single, Posting) else 0)
    assert posted == len(ids)
    assert sum(r.posted + r.duplicates + len(r.errors) for r in (a, b)) == 12
    for k in [*ids, "Z1"]:
        with transaction(engine) as s:
            assert recompute_loan(s, k).entries_written == 0
            assert loan_state(s, k) == before[k]


def test_a_reference_committed_meanwhile_makes_the_chunk_run_again(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lookup of references misses one that another poster commits just after it
    (here: the first lookup is made blind to it); the unique constraint stops the
    insert, and the chunk, run again, reports the row instead of failing the file."""
    from daihou.payments import batch_io

    init_book(engine, TODAY)
    add_loans(engine, tmp_path, [loan_row("A1"), loan_row("Z1")])
    with transaction(engine) as s:
        post_payment(
            session=s,
            loan_id="Z1",
            amount="50.00",
            value_date=TODAY,
            channel="online",
            reference="RACE-1",
        )
    real = batch_io.existing_references
    calls: list[int] = []

    def late(session: Any, keys: Any) -> Any:
        calls.append(1)
        return ({}, {}) if len(calls) == 1 else real(session, keys)

    monkeypatch.setattr(batch_io, "existing_references", late)
    result = post_payments(
        engine,
        [
            PaymentRequest("A1", "50.00", TODAY, "online", "RACE-1"),
            PaymentRequest("A1", "60.00", TODAY, "online", "RACE-2"),
        ],
    )
    assert len(calls) == 2
    assert [(r.status, r.field) for r in result.rows] == [("error", "reference"), ("posted", None)]
    with transaction(engine) as s:
        refs = s.scalars(
            select(Transaction.reference).where(
                Transaction.loan_id == "A1", Transaction.kind == "repayment"
            )
        ).all()
    assert refs == ["RACE-2"]


def repricing_book(engine: Engine, tmp_path: Path) -> None:
    """A floating-rate mortgage imported in December and a fixed-rate loan; end of day
    runs past 1 January, when the mortgage reprices (LPR 4.20% → 3.60%), so its stored
    schedule still has the old rate for the periods after."""
    init_book(engine, date(2024, 12, 20))
    rows = [
        loan_row(
            "F1",
            product="mortgage",
            principal="300000",
            annual_rate="4%",
            term_months=120,
            disbursed_on="2023-06-10",
            lpr_spread_bps="-20",
        ),
        loan_row("X1", disbursed_on="2024-11-15"),
    ]
    add_loans(engine, tmp_path, rows)
    run_eod(engine, through=date(2025, 1, 11))


def test_batch_writes_a_repricing_not_stored_yet_as_posting_one_by_one(
    engine: Engine, other_engine: Engine, tmp_path: Path
) -> None:
    """The batch reads only the installments due by today unless the loan's stored
    LPR repricings differ from the replay's: then the repriced later periods are
    written, as one by one."""
    repricing_book(engine, tmp_path)
    repricing_book(other_engine, tmp_path)
    with transaction(other_engine) as s:
        stored = {
            i.due_date: i.annual_rate
            for i in s.scalars(select(Installment).where(Installment.loan_id == "F1"))
        }
    assert stored[date(2025, 2, 10)] == Decimal("0.04")  # the repricing is not stored yet
    when = date(2025, 1, 12)
    requests = [
        PaymentRequest("F1", "3000.00", when, "bank-debit", "R-1", row=2),
        PaymentRequest("X1", "900.00", when, "bank-debit", "R-2", row=3),
        PaymentRequest("X1", "50.00", date(2025, 1, 2), "bank-debit", "R-3", row=4),
    ]
    expected = one_by_one(engine, requests)
    result = post_payments(other_engine, requests)
    assert [(r.row, r.status, r.posting, r.field, r.error) for r in result.rows] == expected
    assert result.posted == 3
    a, b = picture(engine), picture(other_engine)
    for key in a:
        assert b[key] == a[key], key
    with transaction(other_engine) as s:
        rates = {
            i.due_date: i.annual_rate
            for i in s.scalars(select(Installment).where(Installment.loan_id == "F1"))
        }
    assert rates[date(2025, 2, 10)] == Decimal("0.034")


def later_events_book(engine: Engine, tmp_path: Path) -> Decimal:
    """The five loans of ``build``, then a prepayment on L3 and a fee on L4, both dated
    after the backdated repayments the batch below posts before them."""
    due = build(engine, tmp_path)
    with transaction(engine) as s:
        prepay(
            session=s,
            loan_id="L3",
            amount="5000.00",
            value_date=date(2024, 2, 18),
            reference="PP-1",
        )
        charge_fee(
            session=s,
            loan_id="L4",
            amount="30.00",
            value_date=date(2024, 2, 19),
            reason="test",
            reference="FEE-1",
        )
    return due


def test_a_backdated_repayment_before_a_prepayment_or_fee_rewrites_later_periods(
    engine: Engine, other_engine: Engine, tmp_path: Path
) -> None:
    """Paid earlier, the arrears leave more of the prepayment to re-amortise the rest of
    the schedule, and the fee falls on the next installment: the batch writes those
    later installments as one by one does."""
    due = later_events_book(engine, tmp_path)
    later_events_book(other_engine, tmp_path)
    requests = [
        PaymentRequest("L3", str(due), date(2024, 2, 16), "counter", "E-1", row=2),
        PaymentRequest("L4", str(due), date(2024, 2, 17), "counter", "E-2", row=3),
    ]
    expected = one_by_one(engine, requests)
    result = post_payments(other_engine, requests)
    assert [(r.row, r.status, r.posting, r.field, r.error) for r in result.rows] == expected
    assert result.posted == 2
    a, b = picture(engine), picture(other_engine)
    for key in a:
        assert b[key] == a[key], key
