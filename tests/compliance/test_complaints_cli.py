"""``daihou complaint ...`` on a Typer app of our own."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import typer
from sqlalchemy import Engine
from typer.testing import CliRunner

from daihou.auth.models import User, UserRole
from daihou.cli import complaints
from daihou.compliance.complaints import service  # noqa: F401  (tables it writes: holds, audit)
from daihou.compliance.privacy.crypto import Keyring, use_keyring
from daihou.db.engine import transaction
from daihou.loans.models import Customer

runner = CliRunner()


@pytest.fixture
def cli(engine: Engine, db_url: str) -> Iterator[tuple[typer.Typer, str]]:
    with use_keyring(Keyring.generate()):
        with transaction(engine) as session:
            session.add(
                User(
                    username="cora",
                    password_hash="x",
                    role_rows=[UserRole(role="compliance-officer")],
                )
            )
            session.add(
                User(
                    username="li", password_hash="x", role_rows=[UserRole(role="collector-junior")]
                )
            )
            session.add(Customer(id="C1", name="张三", id_number="x", phone="x"))
        app = typer.Typer()
        complaints.register(app)

        @app.callback()
        def _root() -> None:
            pass

        yield app, db_url


def invoke(cli: tuple[typer.Typer, str], *args: str, code: int = 0) -> str:
    app, url = cli
    result = runner.invoke(app, [*args, "--db", url])
    assert result.exit_code == code, result.output
    return result.output


def test_complaint_commands(cli: tuple[typer.Typer, str]) -> None:
    out = invoke(
        cli,
        "complaint",
        "add",
        "--channel",
        "regulator-referral",
        "--category",
        "harassment",
        "--description",
        "夜间催收电话",
        "--customer",
        "C1",
        "--collector",
        "li",
        "--regulator-ref",
        "银保监转-2025-001",
        "--received-at",
        "2025-09-30T15:00",
        "--format",
        "json",
    )
    made = json.loads(out)
    cid = str(made["id"])
    assert made["priority"] == "urgent" and made["hold_id"] is not None
    assert made["investigation_due_at"] == "2025-10-12T00:00+08:00"

    out = invoke(
        cli, "complaint", "list", "--overdue", "--now", "2025-10-12T08:00", "--format", "json"
    )
    assert [(r["id"], r["timer"]) for r in json.loads(out)] == [
        (made["id"], "response"),
        (made["id"], "investigation"),
    ]
    out = invoke(cli, "complaint", "respond", cid, "--note", "已回电", code=1)
    assert "refused" in out and "--as" in out  # system does not handle complaints
    invoke(cli, "complaint", "respond", cid, "--note", "已回电", "--as", "li", code=1)

    invoke(
        cli,
        "complaint",
        "respond",
        cid,
        "--note",
        "已回电",
        "--as",
        "cora",
        "--at",
        "2025-09-30T16:00",
    )
    invoke(
        cli,
        "complaint",
        "investigate",
        cid,
        "--findings",
        "属实",
        "--as",
        "cora",
        "--at",
        "2025-10-09T10:00",
    )
    out = invoke(
        cli,
        "complaint",
        "extend",
        cid,
        "--reason",
        "需调取录音",
        "--as",
        "cora",
        "--at",
        "2025-10-10T10:00",
    )
    assert "result by 2025-10-31T00:00+08:00" in out
    invoke(
        cli,
        "complaint",
        "resolve",
        cid,
        "--result",
        "已整改",
        "--upheld",
        "--fed-back-at",
        "2025-10-20T10:00",
        "--as",
        "cora",
    )
    out = invoke(cli, "complaint", "close", cid, "--as", "cora", "--at", "2025-10-21T10:00")
    assert "closed" in out and "hold" not in out
    assert "cannot close" in invoke(cli, "complaint", "close", cid, "--as", "cora", code=1)

    shown = json.loads(invoke(cli, "complaint", "show", cid, "--format", "json"))
    assert [t["state"] for t in shown["timers"]] == ["met", "met", "met"]
    assert [h["action"] for h in shown["history"]] == [
        "create",
        "respond",
        "investigate",
        "extend",
        "resolve",
        "close",
    ]
    assert "closed" in invoke(cli, "complaint", "list")

    report = json.loads(
        invoke(cli, "complaint", "report", "--month", "2025-09", "--format", "json")
    )
    assert report["total"] == 1 and report["by_collector"] == {"li": 1}
    assert report["sla_rate"] == 1.0 and report["upheld"] == 1
    assert "SLA" in invoke(cli, "complaint", "report", "--month", "2025-09")


def test_complaint_input_errors(cli: tuple[typer.Typer, str]) -> None:
    out = invoke(
        cli,
        "complaint",
        "add",
        "--channel",
        "fax",
        "--category",
        "other",
        "--description",
        "x",
        code=1,
    )
    assert "channel 'fax'" in out
    out = invoke(
        cli,
        "complaint",
        "add",
        "--channel",
        "app",
        "--category",
        "other",
        "--description",
        "x",
        "--received-at",
        "yesterday",
        code=2,
    )
    assert "not a time" in out
    assert "no complaint 99" in invoke(
        cli, "complaint", "respond", "99", "--note", "n", "--as", "cora", code=1
    )
