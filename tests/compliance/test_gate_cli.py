"""``gate check``, ``hold place/release/list`` and ``optout add/remove/list`` commands."""

from __future__ import annotations

import json
from typing import Any

import pytest
import typer
from sqlalchemy import Engine, select
from typer.testing import CliRunner

import daihou.compliance.gate.models  # noqa: F401  (registers the gate's tables)
from daihou.cli.gate import DENIED_EXIT, register
from daihou.compliance.gate.models import ContactDenial
from daihou.db.engine import transaction

runner = CliRunner()


@pytest.fixture
def cli(engine: Engine, db_url: str) -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def invoke(app: typer.Typer, db_url: str, *args: str, code: int = 0) -> str:
    """Standard output and error together."""
    result = runner.invoke(app, [*args, "--db", db_url])
    assert result.exit_code == code, result.output
    return result.output


def invoke_json(app: typer.Typer, db_url: str, *args: str, code: int = 0) -> Any:
    result = runner.invoke(app, [*args, "--db", db_url, "--format", "json"])
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def test_gate_check_prints_allow_or_deny_with_rule_and_next_time(
    cli: typer.Typer, db_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DAIHOU_COMPLIANCE_PACKS", raising=False)
    base = [
        "gate",
        "check",
        "--customer",
        "C1",
        "--channel",
        "call",
        "--party",
        "borrower",
        "--tz",
        "Asia/Shanghai",
        "--number",
        "13800138000",
    ]
    out = invoke(cli, db_url, *base, "--at", "2026-03-02T21:59:59")
    assert "ALLOW" in out
    out = invoke(cli, db_url, *base, "--at", "2026-03-02T22:00:00", code=DENIED_EXIT)
    assert "DENY" in out and "cn-2026/quiet-hours" in out
    assert "2026-03-03T08:00:00+08:00" in out
    data = invoke_json(
        cli,
        db_url,
        *base,
        "--at",
        "2026-03-02T21:30:00",
        "--packs",
        "cn-2026,us-reg-f",
        code=DENIED_EXIT,
    )
    assert data["rule"] == "us-reg-f/inconvenient-time"
    assert data["next_allowed_at"] == "2026-03-03T08:00:00+08:00"
    assert data["packs"] == ["cn-2026@2026.1", "us-reg-f@2021-11-30"]
    invoke(cli, db_url, *base, "--at", "2026-03-02T23:00:00", "--no-record", code=DENIED_EXIT)
    with transaction(engine) as s:
        assert list(s.scalars(select(ContactDenial.rule))) == [
            "cn-2026/quiet-hours",
            "us-reg-f/inconvenient-time",
        ]
    tp = ["--party", "third-party", "--purpose", "collection", "--at", "2026-03-02T10:00:00"]
    out = invoke(cli, db_url, *base[:6], "--tz", "Asia/Urumqi", *tp, code=DENIED_EXIT)
    assert "cn-2026/third-party" in out and "only after a release" in out


def test_gate_check_reports_bad_input_as_an_error(cli: typer.Typer, db_url: str) -> None:
    base = ["gate", "check", "--customer", "C1", "--channel", "call"]
    out = invoke(cli, db_url, *base, "--at", "soon", "--tz", "Asia/Shanghai", code=1)
    assert "not an ISO 8601 time" in out
    out = invoke(cli, db_url, *base, "--at", "2026-03-02T10:00", "--tz", "Mars/Olympus", code=1)
    assert "error" in out
    out = invoke(
        cli,
        db_url,
        "gate",
        "check",
        "--customer",
        "C1",
        "--channel",
        "pigeon",
        "--at",
        "2026-03-02T10:00",
        "--tz",
        "Asia/Shanghai",
        code=1,
    )
    assert "unknown channel" in out


def test_hold_place_list_release_and_the_gate_follows(cli: typer.Typer, db_url: str) -> None:
    placed = invoke_json(
        cli,
        db_url,
        "hold",
        "place",
        "--customer",
        "C1",
        "--kind",
        "dispute",
        "--reason",
        "客户对罚息有异议",
        "--by",
        "zhang.wei",
    )
    assert (placed["kind"], placed["placed_by"], placed["released_at"]) == (
        "dispute",
        "zhang.wei",
        None,
    )
    check = [
        "gate",
        "check",
        "--customer",
        "C1",
        "--channel",
        "sms",
        "--at",
        "2026-03-02T10:00:00",
        "--tz",
        "Asia/Shanghai",
    ]
    assert "cn-2026/holds" in invoke(cli, db_url, *check, code=DENIED_EXIT)
    listed = invoke_json(cli, db_url, "hold", "list", "--customer", "C1")
    assert [h["id"] for h in listed] == [placed["id"]]
    out = invoke(
        cli, db_url, "hold", "release", str(placed["id"]), "--reason", "已核实", "--by", "li.na"
    )
    assert "released by li.na" in out
    invoke(cli, db_url, *check)
    assert invoke_json(cli, db_url, "hold", "list", "--customer", "C1") == []
    history = invoke_json(cli, db_url, "hold", "list", "--customer", "C1", "--all")
    assert history[0]["release_reason"] == "已核实"
    out = invoke(cli, db_url, "hold", "release", str(placed["id"]), "--reason", "again", code=1)
    assert "already released" in out
    out = invoke(
        cli,
        db_url,
        "hold",
        "place",
        "--customer",
        "C1",
        "--kind",
        "holiday",
        "--reason",
        "x",
        code=1,
    )
    assert "unknown hold kind" in out
    table = invoke(cli, db_url, "hold", "list", "--customer", "C1", "--all")
    assert "dispute" in table


def test_optout_add_remove_list(cli: typer.Typer, db_url: str) -> None:
    out = invoke(
        cli,
        db_url,
        "optout",
        "add",
        "--customer",
        "C1",
        "--channel",
        "sms",
        "--reason",
        "客户要求退订",
    )
    assert "opted out of sms" in out
    assert "no customer 'C1' in the loan book" in out  # a typo would show here
    sms = [
        "gate",
        "check",
        "--customer",
        "C1",
        "--channel",
        "sms",
        "--at",
        "2026-03-02T10:00:00",
        "--tz",
        "Asia/Shanghai",
    ]
    assert "cn-2026/opt-out" in invoke(cli, db_url, *sms, code=DENIED_EXIT)
    call = [*sms[:5], "call", *sms[6:]]
    invoke(cli, db_url, *call)
    listed = invoke_json(cli, db_url, "optout", "list", "--customer", "C1")
    assert [o["medium"] for o in listed] == ["sms"]
    invoke(
        cli,
        db_url,
        "optout",
        "remove",
        "--customer",
        "C1",
        "--channel",
        "sms",
        "--reason",
        "重新订阅",
    )
    invoke(cli, db_url, *sms)
    assert "no open opt-out" in invoke(cli, db_url, "optout", "list", "--customer", "C1")
    out = invoke(
        cli,
        db_url,
        "optout",
        "remove",
        "--customer",
        "C1",
        "--channel",
        "sms",
        "--reason",
        "x",
        code=1,
    )
    assert "no open opt-out" in out
