"""``daihou plan|waiver|writeoff|approvals`` end to end on a real database."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, update
from typer.testing import CliRunner

from daihou.auth.models import User, UserRole
from daihou.cli import app
from daihou.db.engine import transaction
from daihou.loans.models import Loan
from tests.collection.plans_helpers import open_case
from tests.eod.helpers import eod, loan_row
from tests.factories import add_loans, init_book
from tests.factories import loan_row as csv_row

runner = CliRunner()


@pytest.fixture
def db(engine: Engine, db_url: str, tmp_path: Path) -> str:
    init_book(engine, date(2024, 1, 15))
    add_loans(engine, tmp_path, [csv_row("P1"), csv_row("W1"), csv_row("X1")])
    eod(engine, date(2024, 3, 10))
    with transaction(engine) as s:
        for name, role in (
            ("wang", "collector-senior"),
            ("zhao", "supervisor"),
            ("qian", "manager"),
        ):
            s.add(
                User(
                    username=name, password_hash="x", team="team-a", role_rows=[UserRole(role=role)]
                )
            )
        s.execute(update(Loan).where(Loan.id == "X1").values(risk_class="loss"))
    open_case(engine, "P1", owner="wang")
    open_case(engine, "W1", owner="wang", rpc=date(2024, 3, 9))
    open_case(engine, "X1", owner="zhao")
    return db_url


def run(db: str, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, [*args, "--db", db])
    assert result.exit_code == code, result.output
    return result.output


def test_plan_waiver_writeoff_commands(db: str, engine: Engine) -> None:
    out = run(
        db,
        "plan",
        "request",
        "P1",
        "--installments",
        "3",
        "--income",
        "3000",
        "--first-due",
        "2024-04-10",
        "--by",
        "wang",
        "--format",
        "json",
    )
    plan = json.loads(out)
    assert plan["status"] == "requested" and len(plan["schedule"]) == 3
    pid = str(plan["id"])
    bad = run(
        db,
        "plan",
        "request",
        "W1",
        "--installments",
        "9",
        "--income",
        "3000",
        "--first-due",
        "2024-04-10",
        "--by",
        "wang",
        code=1,
    )
    assert "installments: must be between 3 and 6" in bad
    assert "refused" in run(db, "plan", "approve", pid, "--reason", "ok", "--by", "wang", code=1)
    inbox = json.loads(run(db, "approvals", "inbox", "--by", "zhao", "--format", "json"))
    assert [r["kind"] for r in inbox] == ["plan"]
    assert run(db, "approvals", "inbox", "--by", "wang", "--format", "json").strip() == "[]"
    run(db, "plan", "approve", pid, "--reason", "affordable", "--by", "zhao")
    shown = json.loads(run(db, "plan", "sign", pid, "--by", "wang", "--format", "json"))
    assert shown["status"] == "active" and [i["period"] for i in shown["installments"]] == [
        1001,
        1002,
        1003,
    ]
    assert [h["to"] for h in shown["history"]] == ["requested", "approved", "active"]
    assert loan_row(engine, "P1").restructured_until == date(2024, 9, 11)
    assert "active" in run(db, "plan", "show", pid, "--by", "zhao")

    req = json.loads(
        run(db, "waiver", "request", "W1", "--amount", "1.00", "--by", "wang", "--format", "json")
    )
    assert req["status"] == "pending"
    done = json.loads(
        run(
            db,
            "waiver",
            "approve",
            str(req["id"]),
            "--reason",
            "first overdue",
            "--by",
            "zhao",
            "--format",
            "json",
        )
    )
    assert done["status"] == "approved" and done["transaction_id"]

    prop = json.loads(
        run(db, "writeoff", "propose", "X1", "--reason", "loss", "--by", "zhao", "--format", "json")
    )
    assert "may not writeoff.approve" in run(
        db, "writeoff", "approve", str(prop["id"]), "--reason", "x", "--by", "zhao", code=1
    )
    run(db, "writeoff", "approve", str(prop["id"]), "--reason", "approved", "--by", "qian")
    assert loan_row(engine, "X1").status == "written-off"
    run(
        db, "pay", "X1", "100.00", "--on", "2024-03-11", "--channel", "counter", "--reference", "r1"
    )
    rec = json.loads(run(db, "writeoff", "recoveries", "--format", "json"))
    assert rec == [
        {
            "loan_id": "X1",
            "written_off_on": "2024-03-11",
            "written_off": rec[0]["written_off"],
            "recovered": "100.00",
            "recovered_total": "100.00",
            "payments": 1,
        }
    ]
    assert "X1,2024-03-11" in run(db, "writeoff", "recoveries", "--format", "csv")
    assert "plans completed: 0, broken: 0, lapsed unsigned: 0" in run(db, "plan", "review")
