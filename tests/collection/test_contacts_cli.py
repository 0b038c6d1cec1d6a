"""``daihou contact|promise|visit …`` against a real database, acting with --by."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from daihou.auth.models import User, UserRole
from daihou.cli import contacts
from daihou.compliance.gate.models import ContactDenial
from daihou.compliance.gate.service import current_providers, register_providers
from daihou.db.engine import transaction
from tests.collection.contact_helpers import make_book

runner = CliRunner()
Cli = tuple[typer.Typer, str]
USERS = (
    ("li", "collector-junior", "A"),
    ("wang", "collector-junior", "B"),
    ("sv", "supervisor", "A"),
)


@pytest.fixture
def cli(engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Cli]:
    make_book(engine, tmp_path)
    with transaction(engine) as s:
        for name, role, team in USERS:
            s.add(
                User(username=name, password_hash="x", team=team, role_rows=[UserRole(role=role)])
            )
    previous = current_providers()
    app = typer.Typer()
    contacts.register(app)

    @app.callback()
    def _root() -> None:
        pass

    yield app, db_url
    register_providers(previous)


def invoke(cli: Cli, command: str, code: int = 0) -> str:
    app, url = cli
    result = runner.invoke(app, [*shlex.split(command), "--db", url])
    assert result.exit_code == code, result.output
    return " ".join(result.output.split())  # Rich wraps long lines


def test_contact_commands(cli: Cli, engine: Engine) -> None:
    call = "contact log 1 --channel call --outcome rpc --by"
    out = invoke(
        cli, f"{call} li --at 2026-03-02T10:00 --note 客户称下周还款 --attitude cooperative"
    )
    assert "contact 1 logged" in out
    out = invoke(cli, f"{call} li --at 2026-03-02T23:00", code=3)
    assert "quiet-hours" in out and "next allowed: 2026-03-03T08:00:00+08:00" in out
    with transaction(engine) as s:
        assert s.scalar(select(func.count()).select_from(ContactDenial)) == 1
    assert "outside their scope" in invoke(cli, f"{call} wang --at 2026-03-02T11:00", code=1)
    (row,) = json.loads(invoke(cli, "contact history 1 --by li --format json"))
    assert row["number"] == "138****8000" and row["outcome"] == "rpc" and row["collector"] == "li"
    out = invoke(
        cli, "contact repair 1 --kind phone --value 13912345678 --source carrier --verified --by li"
    )
    assert "repair 1 recorded" in out
    assert "0 case(s) lost contact" in invoke(cli, "contact evaluate --date 2026-03-02")


def test_promise_commands(cli: Cli) -> None:
    add = "promise add 1 --amount 100.00 --date 2026-03-05"
    assert "promise 1 recorded; contact pauses through 2026-03-07" in invoke(cli, f"{add} --by li")
    assert "may not promise.record" in invoke(cli, add, code=1)  # system takes no promises
    (p,) = json.loads(invoke(cli, "promise list --by li --format json"))
    assert (p["status"], p["amount"]) == ("open", "100.00")
    assert json.loads(invoke(cli, "promise list --by wang --format json")) == []
    assert "0 kept, 1 broken" in invoke(cli, "promise evaluate --date 2026-03-08")
    rates = "promise rates --since 2026-03-01 --until 2026-03-31 --format json --by"
    assert "may not kpi.view" in invoke(cli, f"{rates} li", code=1)
    (rate,) = json.loads(invoke(cli, f"{rates} sv"))
    assert (rate["collector"], rate["broken"], rate["rate"]) == ("li", 1, "0.00")


def test_visit_commands(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAIHOU_VISIT_PHOTO_DIR", str(tmp_path / "photos"))
    photo = tmp_path / "door.jpg"
    photo.write_bytes(b"jpeg bytes of the door")
    plan = "visit plan 1 --kind home --place 上海市某路1号 --on 2026-03-02"
    assert "visit 1 planned" in invoke(cli, f"{plan} --visitor li --visitor zhao --by li")
    record = f"visit record 1 --photo {photo} --by li"
    out = invoke(cli, f"{record} --visit 1 --result not-at-home --at 2026-03-02T15:00")
    assert "photo sha256" in out
    assert "not eligible" in invoke(cli, "visit eligible 1")
    out = invoke(
        cli, f"{record} --kind workplace --place 某公司 --result moved --at 2026-03-03T15:00"
    )
    assert "case 1: eligible" in invoke(cli, "visit eligible 1")
    copy = tmp_path / "copy.jpg"
    assert "verified" in invoke(cli, f"visit photo 1 --out {copy}")
    assert copy.read_bytes() == photo.read_bytes()
    assert json.loads(invoke(cli, "visit missing --format json")) == []
    out = invoke(cli, "visit record 1 --result met-borrower --visit 1 --by li", code=1)
    assert "already done" in out


def _task(engine: Engine, case_id: int | None, kind: str) -> int:
    from datetime import date

    from daihou.collection.tables import CollectionTask

    with transaction(engine) as s:
        task = CollectionTask(
            business_date=date(2026, 3, 1),
            work_date=date(2026, 3, 2),
            case_id=case_id,
            loan_id="L1",
            customer_id="C-L1",
            kind=kind,
            assignee_role="collector",
            collector_user_id="li",
            team="A",
            slots=1,
            dpd=30,
            priority=1,
            rank=1,
            status="queued",
        )
        s.add(task)
        s.flush()
        return int(task.id)


def test_contact_with_a_task_checks_it_and_marks_it_done(cli: Cli, engine: Engine) -> None:
    from daihou.collection.contact_models import ContactLog
    from daihou.collection.tables import CollectionTask

    other, own = _task(engine, None, "reminder-call"), _task(engine, 1, "call")
    call = "contact log 1 --channel call --outcome rpc --by li --at 2026-03-02T10:00 --task"
    out = invoke(cli, f"{call} {other}", code=1)
    assert f"task {other} is not a task of case 1" in out
    with transaction(engine) as s:
        assert s.scalar(select(func.count()).select_from(ContactLog)) == 0
    assert "contact 1 logged" in invoke(cli, f"{call} {own}")
    with transaction(engine) as s:
        done = s.get(CollectionTask, own)
        assert done is not None and done.status == "done" and done.feedback_at is not None
        assert s.scalars(select(ContactLog.task_id)).one() == own
        assert s.get(CollectionTask, other).status == "queued"  # type: ignore[union-attr]
