"""The collections commands end to end, the gate providers, and pack validation."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy import Engine, update
from typer.testing import CliRunner

from daihou.cli import app
from daihou.collection.gate_providers import case_providers as gate_providers
from daihou.collection.models import CollectionCase
from daihou.collection.run import run_collections
from daihou.compliance.gate.schema import ContactRequest
from daihou.compliance.gate.service import check_contact
from daihou.db.engine import make_engine, transaction
from daihou.eod.runner import run_eod
from daihou.policy.loader import PolicyError, load_pack
from tests.collection.conftest import FIRST_DUE
from tests.collection.helpers import add_collector
from tests.factories import loan_row, write_csv

runner = CliRunner()


def cli(*args: str, ok: bool = True) -> str:
    result = runner.invoke(app, list(args))
    assert (result.exit_code == 0) == ok, result.output
    return result.output


def test_commands_end_to_end(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/c.db"
    cli("init", "--db", db, "--business-date", "2026-01-15")
    rows = [loan_row(f"K{i}", disbursed_on="2026-01-15") for i in range(3)]
    cli("import", "loans", str(write_csv(tmp_path / "b.csv", rows)), "--db", db)
    assert "has not closed" in cli("collections", "run", "--db", db, ok=False)
    cli("eod", "--through", "2026-02-17", "--db", db)
    out = cli("collections", "run", "--db", db)
    assert "collections 2026-02-17" in out and "'opened': 3" in out
    assert "already run" in cli("collections", "run", "--date", "2026-02-17", "--db", db)
    tasks = json.loads(
        cli("collections", "tasks", "--date", "2026-02-18", "--format", "json", "--db", db)
    )
    assert {(t["kind"], t["slots"], t["dpd"]) for t in tasks} == {("call", 2, 2)}
    view = json.loads(cli("collections", "case", "show", "1", "--format", "json", "--db", db))
    assert view["case"]["stage"] == "early" and view["loan"]["dpd"] == 2
    assert [h["field"] for h in view["history"]] == ["status", "stage"]
    missing = json.loads(
        cli("collections", "no-feedback", "--date", "2026-02-18", "--format", "json", "--db", db)
    )
    assert len(missing) == 3
    arms = json.loads(cli("collections", "arms", "--since", "2026-02-01", "--db", db))
    assert {a["arm"]: a["cases"] for a in arms} == {"champion": 3, "challenger": 0}


def test_tasks_deferred_lists_the_work_beyond_capacity(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/c.db"
    cli("init", "--db", db, "--business-date", "2026-01-15")
    rows = [loan_row(f"K{i}", disbursed_on="2026-01-15", principal=f"{3000 * (i + 1)}.00")
            for i in range(3)]  # fmt: skip
    cli("import", "loans", str(write_csv(tmp_path / "b.csv", rows)), "--db", db)
    engine = make_engine(db)
    add_collector(engine, "desk-a", "desk", capacity=1)
    engine.dispose()
    cli("eod", "--through", "2026-02-17", "--db", db)
    cli("collections", "run", "--db", db)
    args = ("collections", "tasks", "--date", "2026-02-18", "--format", "json", "--db", db)
    listed = [
        (t["collector"], t["rank"], t["status"], t["id"] is None, t["kind"], t["slots"])
        for t in json.loads(cli(*args))
    ]
    assert listed == [("desk-a", 1, "queued", False, "call", 2)]
    both = json.loads(cli(*args, "--deferred"))
    assert [
        (t["collector"], t["rank"], t["status"], t["id"] is None, t["kind"], t["slots"])
        for t in both
    ] == [
        ("desk-a", 1, "queued", False, "call", 2),
        ("desk-a", 2, "deferred", True, "call", 2),  # no task row: nothing to feed back
        ("desk-a", 3, "deferred", True, "call", 2),
    ]
    assert [t["loan"] for t in both] == ["K2", "K1", "K0"]  # priority: the larger overdue
    prios = [t["priority"] for t in both]
    assert prios == sorted(prios, reverse=True) and prios[-1] > 0


def test_gate_providers_read_the_case(book: Engine) -> None:
    add_collector(book, "desk-a", "desk")
    run_eod(book, through=FIRST_DUE + timedelta(days=1))
    run_collections(book)
    with transaction(book) as s:
        s.execute(
            update(CollectionCase)
            .where(CollectionCase.loan_id == "L2")
            .values(promise_until=date(2026, 2, 20))
        )
    at = datetime(2026, 2, 18, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    with transaction(book) as s:
        providers = gate_providers()
        ask = ContactRequest(customer_id="C-L2", channel="call", party="borrower", at=at)
        denied = check_contact(s, ask, providers=providers, record_denial=False)
        assert not denied.allowed and denied.rule and "promise" in denied.rule
        after = ContactRequest(
            customer_id="C-L2", channel="call", party="borrower", at=at + timedelta(days=3)
        )
        assert check_contact(s, after, providers=providers, record_denial=False).allowed
        other = ContactRequest(customer_id="C-L3", channel="call", party="borrower", at=at)
        assert check_contact(s, other, providers=providers, record_denial=False).allowed


def test_bad_strategy_rules_are_named(tmp_path: Path) -> None:
    raw = load_pack().model_dump(mode="json")
    raw["collections"]["champion"]["rules"][0]["times"] = ["25:00"]
    raw["collections"]["challenger_percent"] = 10
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(PolicyError) as err:
        load_pack(str(path))
    text = str(err.value)
    assert "collections.champion.rules.0.times" in text
    raw["collections"]["champion"]["rules"][0]["times"] = ["09:00"]
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(PolicyError, match="challenger"):
        load_pack(str(path))
    raw["collections"]["challenger_percent"] = 0
    raw["collections"]["champion"]["rules"][1]["min_dpd"] = 3  # both timings given
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(PolicyError, match="either days_before_due or min_dpd"):
        load_pack(str(path))


def test_default_pack_numbers_follow_the_policy() -> None:
    c = load_pack().collections
    rules = {r.id: r for r in c.champion.rules}
    assert c.lost_contact_after_days == 5 and c.feedback_deadline == "17:00"
    assert [s.min_dpd for s in c.stages] == [1, 30, 60]
    assert rules["first-due-15"].days_before_due == 15 and rules["first-due-7"].first_due_only
    assert len(rules["m1-calls-early"].times) == 2
    assert rules["agency-placement"].min_dpd == 31 and rules["legal-file"].min_dpd == 60
    assert rules["legal-referral"].when.overdue_above == 50000
