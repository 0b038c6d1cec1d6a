"""The CLI contract other tools rely on: command names, options and JSON shapes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from daihou.cli import app
from tests.factories import loan_row, write_csv

runner = CliRunner()


def run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def fails(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code != 0
    return result.output


def test_schedule_json_has_the_published_figures() -> None:
    out = run(
        "schedule",
        "--principal",
        "1000000",
        "--annual-rate",
        "4.9%",
        "--months",
        "360",
        "--method",
        "equal-installment",
        "--start",
        "2024-01-15",
        "--format",
        "json",
    )
    data = json.loads(out)
    first = data["installments"][0]
    assert set(first) == {
        "period",
        "due_date",
        "principal",
        "interest",
        "payment",
        "remaining_principal",
    }
    assert (first["payment"], first["interest"], first["principal"]) == (
        "5307.27",
        "4083.33",
        "1223.94",
    )
    assert first["due_date"] == "2024-02-15" and len(data["installments"]) == 360
    assert data["installments"][-1]["remaining_principal"] == "0.00"
    total_payment = sum(float(i["payment"]) for i in data["installments"])
    assert abs(total_payment - float(data["total_payment"])) < 0.005


def test_schedule_monthly_rate_csv_and_equal_principal() -> None:
    out = run(
        "schedule",
        "--principal",
        "12000",
        "--monthly-rate",
        "2%",
        "--months",
        "4",
        "--start",
        "2024-01-15",
        "--format",
        "csv",
    )
    lines = out.strip().splitlines()
    assert lines[0] == "period,due_date,principal,interest,payment,remaining_principal"
    assert [ln.split(",")[3] for ln in lines[1:]] == ["240.00", "181.77", "122.38", "61.79"]
    assert lines[1].split(",")[4] == "3151.49"
    out = run(
        "schedule",
        "--principal",
        "1000000",
        "--annual-rate",
        "0.049",
        "--months",
        "360",
        "--method",
        "equal-principal",
        "--start",
        "2024-01-15",
        "--format",
        "json",
    )
    rows = json.loads(out)["installments"]
    assert rows[0]["payment"] == "6861.11" and rows[1]["payment"] == "6849.77"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--annual-rate", "4.9"], "ambiguous"),
        (["--annual-rate", "abc"], "--annual-rate"),
        (["--annual-rate", "4.9%", "--monthly-rate", "0.4%"], "exactly one"),
        ([], "exactly one"),
    ],
)
def test_schedule_rejects_unclear_rates(args: list[str], message: str) -> None:
    out = fails("schedule", "--principal", "1000", "--months", "12", "--start", "2024-01-15", *args)
    assert message in out


def test_book_commands_end_to_end(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/cli.db"
    run("init", "--db", db, "--business-date", "2024-06-30")
    book = write_csv(
        tmp_path / "book.csv",
        [
            loan_row("CLI1"),
            loan_row(
                "CLI2",
                product="mortgage",
                principal="500000",
                annual_rate="4.2%",
                term_months="240",
            ),
        ],
    )
    assert "2 created" in run("import", "loans", str(book), "--db", db)
    assert "already exists" in fails("import", "loans", str(book), "--db", db)
    posted = json.loads(
        run(
            "pay",
            "CLI1",
            "1134.72",
            "--on",
            "2024-02-15",
            "--channel",
            "bank-debit",
            "--reference",
            "B-1",
            "--format",
            "json",
            "--db",
            db,
        )
    )
    assert posted["created"] is True
    assert posted["allocation"] == [
        {"period": 1, "component": "interest", "amount": "240.00"},
        {"period": 1, "component": "principal", "amount": "894.72"},
    ]
    again = json.loads(
        run(
            "pay",
            "CLI1",
            "1134.72",
            "--on",
            "2024-02-15",
            "--channel",
            "bank-debit",
            "--reference",
            "B-1",
            "--format",
            "json",
            "--db",
            db,
        )
    )
    assert again["created"] is False and again["transaction_id"] == posted["transaction_id"]
    assert "after the business date" in fails(
        "pay",
        "CLI1",
        "1",
        "--on",
        "2024-07-01",
        "--channel",
        "online",
        "--reference",
        "X",
        "--db",
        db,
    )
    loan = json.loads(run("loan", "show", "CLI1", "--format", "json", "--db", db))
    assert loan["status"] == "active" and loan["outstanding_principal"] == "11105.28"
    assert loan["installments"][0]["status"] == "paid"
    assert loan["installments"][1]["status"] == "due"  # 15 Mar passed unpaid
    assert loan["overdue"]["principal"] != "0.00"
    run("reverse", str(posted["transaction_id"]), "--reason", "debit returned", "--db", db)
    loan = json.loads(run("loan", "show", "CLI1", "--format", "json", "--db", db))
    assert loan["outstanding_principal"] == "12000.00"
    assert [t["status"] for t in loan["transactions"]] == ["posted", "reversed", "posted"]
    quote = run("prepay", "CLI2", "--on", "2024-06-30", "--quote", "--db", db)
    assert "违约金" in quote
    tb = json.loads(run("ledger", "trial-balance", "--format", "json", "--db", db))
    assert tb["balanced"] is True and tb["total_debit"] == tb["total_credit"]
    assert "loan_principal" in {a["account"] for a in tb["accounts"]}
    assert run("business-date", "--db", db).strip() == "2024-06-30"
    assert "5y" in run("lpr", "list", "--db", db)


def test_every_command_has_help() -> None:
    for args in (
        ["--help"],
        ["schedule", "--help"],
        ["pay", "--help"],
        ["import", "loans", "--help"],
        ["loan", "show", "--help"],
        ["ledger", "trial-balance", "--help"],
        ["demo", "--help"],
        ["simulate", "--help"],
        ["prepay", "--help"],
        ["reverse", "--help"],
        ["refund", "--help"],
        ["fee", "--help"],
        ["init", "--help"],
        ["lpr", "add", "--help"],
    ):
        assert "Usage" in run(*args)


def test_demo_runs_and_is_deterministic(tmp_path: Path) -> None:
    args = ("--loans", "25", "--days", "35", "--no-serve")
    first = run("demo", *args, "--db", str(tmp_path / "a.db"))
    second = run("demo", *args, "--db", str(tmp_path / "b.db"))

    # progress bars show elapsed time and the database paths differ; the rest must match
    def body(out: str) -> str:
        return out[out.index("daihou demo") :].split("database:")[0]

    assert body(first) == body(second)
    assert "balanced" in body(first) and "NOT BALANCED" not in body(first)
    assert "2026-05-01 .. 2026-06-04" in body(first)
