"""``daihou template|messages|worker|document|letters`` end to end on a real database."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from daihou.auth.models import User, UserRole
from daihou.cli import app
from daihou.db.engine import transaction
from daihou.eod.runner import run_eod
from tests.factories import add_loans, init_book, loan_row
from tests.notify.conftest import SMS_ZH

runner = CliRunner()


@pytest.fixture
def db(engine: Engine, db_url: str, tmp_path: Path) -> str:
    with transaction(engine) as session:
        for name, role in (("cora", "compliance-officer"), ("sam", "supervisor")):
            session.add(User(username=name, password_hash="x", role_rows=[UserRole(role=role)]))
    init_book(engine, date(2024, 1, 15))
    add_loans(engine, tmp_path, [loan_row("L-1", customer_name="李四")])
    run_eod(engine, through=date(2024, 3, 1))
    return db_url


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_template_life_cycle_and_messages(db: str) -> None:
    added = invoke(
        "template",
        "add",
        "--channel",
        "sms",
        "--language",
        "zh-CN",
        "--name",
        "overdue",
        "--body",
        SMS_ZH,
        "--as",
        "sam",
        "--db",
        db,
    )
    assert "v1" in added and "draft" in added
    refused = runner.invoke(app, ["template", "activate", "1", "--as", "cora", "--db", db])
    assert refused.exit_code == 1 and "not been previewed" in refused.output
    preview = invoke("template", "preview", "1", "--var", "dpd=12", "--as", "sam", "--db", db)
    assert "已逾期12天" in preview and "language check: passed" in preview
    assert "is active" in invoke("template", "activate", "1", "--as", "cora", "--db", db)
    listed = json.loads(invoke("template", "list", "--format", "json", "--db", db))
    assert [(t["name"], t["status"], t["previewed"]) for t in listed] == [
        ("overdue", "active", True)
    ]
    bad = invoke(
        "template",
        "add",
        "--channel",
        "sms",
        "--language",
        "zh-CN",
        "--name",
        "overdue",
        "--body",
        "{{ name }}，不还钱就让你好看",
        "--as",
        "sam",
        "--db",
        db,
    )
    assert "v2" in bad
    failed = runner.invoke(app, ["template", "preview", "2", "--as", "sam", "--db", db])
    assert failed.exit_code == 1 and "FAILED" in failed.output
    assert (
        runner.invoke(app, ["template", "activate", "2", "--as", "cora", "--db", db]).exit_code == 1
    )
    assert json.loads(invoke("messages", "list", "--format", "json", "--db", db)) == []


def test_document_render_and_verify(db: str, tmp_path: Path) -> None:
    out = tmp_path / "notice.pdf"
    data = json.loads(
        invoke(
            "document", "render", "overdue-notice", "--loan", "L-1", "--out", str(out), "--db", db
        )
    )
    assert out.read_bytes()[:5] == b"%PDF-"
    assert data["size"] == out.stat().st_size
    assert "identical" in invoke("document", "verify", str(data["document_id"]), "--db", db)
    missing = runner.invoke(
        app, ["document", "render", "nonsense", "--loan", "L-1", "--out", str(out), "--db", db]
    )
    assert missing.exit_code == 1 and "unknown document kind" in missing.output
