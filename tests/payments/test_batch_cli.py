"""``daihou payment batch FILE.csv``: counts, the error report, re-runs, ``--by``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from daihou.auth import passwords
from daihou.auth.actor import SYSTEM
from daihou.auth.service import create_user
from daihou.cli import app
from daihou.compliance.audit.models import AuditRecord
from daihou.db.engine import transaction
from daihou.payments.models import Transaction
from tests.factories import add_loans, init_book, loan_row

runner = CliRunner()
HEADER = "loan_id,amount,value_date,channel,reference\n"


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    fast = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(passwords, "hasher", lambda: fast)
    passwords.dummy_hash.cache_clear()
    yield
    passwords.dummy_hash.cache_clear()


@pytest.fixture
def book(engine: Engine, tmp_path: Path) -> Engine:
    init_book(engine, date(2024, 2, 20))
    add_loans(engine, tmp_path, [loan_row("L1"), loan_row("L2")])
    with transaction(engine) as s:
        for name, role in (("wang", "operations"), ("li", "collector-junior")):
            create_user(
                s,
                actor=SYSTEM,
                username=name,
                password="a long enough password 1",
                roles=[role],
                now=datetime(2024, 2, 20, tzinfo=UTC),
            )
    return engine


def repayments(engine: Engine) -> int:
    with transaction(engine) as s:
        count = s.scalar(
            select(func.count()).select_from(Transaction).where(Transaction.kind == "repayment")
        )
    return int(count or 0)


def test_a_file_posts_reports_bad_rows_and_can_be_run_again(
    book: Engine, db_url: str, tmp_path: Path
) -> None:
    good = "L1,1134.72,2024-02-20,bank-debit,DD-1\nL2,500.00,2024-02-19,bank-debit,DD-2\n"
    bad = "L9,10.00,2024-02-20,bank-debit,DD-3\nL1,12.345,2024-02-20,bank-debit,DD-4\n"
    path = tmp_path / "daikou-0220.csv"
    path.write_text(HEADER + good + bad, encoding="utf-8")
    result = runner.invoke(app, ["payment", "batch", str(path), "--by", "wang", "--db", db_url])
    assert result.exit_code == 4, result.output
    assert "4 rows — 2 posted, 0 already posted (same reference), 2 rejected" in result.output
    report = path.with_name("daikou-0220.csv.errors.csv").read_text(encoding="utf-8")
    assert report.splitlines()[1:] == [
        "4,L9,DD-3,loan_id,loan_id: loan 'L9' not found",
        "5,L1,DD-4,amount,amount: '12.345' has more than two decimals",
    ]
    assert repayments(book) == 2
    with transaction(book) as s:
        actors = s.scalars(
            select(AuditRecord.actor_id).where(AuditRecord.action == "payment.post")
        ).all()
    assert actors == ["wang", "wang"]

    path.write_text(HEADER + good, encoding="utf-8")  # the bad rows taken out, run again
    result = runner.invoke(app, ["payment", "batch", str(path), "--db", db_url, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert '"posted": 0' in result.output and '"duplicates": 2' in result.output
    assert not path.with_name("daikou-0220.csv.errors.csv").exists()
    assert repayments(book) == 2


def test_a_user_without_the_right_or_a_bad_header_posts_nothing(
    book: Engine, db_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "file.csv"
    path.write_text(HEADER + "L1,100.00,2024-02-20,counter,C-1\n", encoding="utf-8")
    result = runner.invoke(app, ["payment", "batch", str(path), "--by", "li", "--db", db_url])
    assert result.exit_code == 1 and "payment.post" in result.output
    path.write_text("loan,amount\nL1,100.00\n", encoding="utf-8")
    result = runner.invoke(app, ["payment", "batch", str(path), "--db", db_url])
    assert result.exit_code == 1
    said = " ".join(result.output.split())
    assert "file.csv: missing column(s) loan_id, value_date, channel, reference" in said
    assert repayments(book) == 0
