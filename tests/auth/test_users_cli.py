"""``daihou user add/passwd/role/list/unlock/deactivate`` on a Typer app of our own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import typer
from argon2 import PasswordHasher
from sqlalchemy import Engine
from typer.testing import CliRunner

from daihou.auth import passwords
from daihou.auth.service import AuthenticationFailed, login
from daihou.cli import users

runner = CliRunner()


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    fast = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(passwords, "hasher", lambda: fast)
    passwords.dummy_hash.cache_clear()
    yield
    passwords.dummy_hash.cache_clear()


@pytest.fixture
def cli(engine: Engine, db_url: str) -> Iterator[tuple[typer.Typer, str]]:
    app = typer.Typer()
    users.register(app)

    @app.callback()
    def _root() -> None:  # keeps "user" a sub-command even if it were the only one
        pass

    yield app, db_url


def run(cli: tuple[typer.Typer, str], *args: str, input: str | None = None) -> str:
    app, url = cli
    result = runner.invoke(app, [*args, "--db", url], input=input)
    assert result.exit_code == 0, result.output
    return result.output


def fails(cli: tuple[typer.Typer, str], *args: str, input: str | None = None) -> str:
    app, url = cli
    result = runner.invoke(app, [*args, "--db", url], input=input)
    assert result.exit_code == 1, result.output
    return result.output


NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_user_commands(cli: tuple[typer.Typer, str], engine: Engine) -> None:
    out = run(
        cli,
        "user",
        "add",
        "zhao",
        "--role",
        "supervisor",
        "--team",
        "team-a",
        "--name",
        "赵主管",
        "--password-stdin",
        input="supervisor pw 1\n",
    )
    assert "zhao" in out and "supervisor" in out
    run(
        cli,
        "user",
        "add",
        "li",
        "--role",
        "collector-junior",
        "--team",
        "team-a",
        input="collector pw 1\ncollector pw 1\n",
    )  # interactive prompt, asked twice
    run(
        cli,
        "user",
        "add",
        "agent",
        "--role",
        "agency-user",
        "--agency",
        "agency-x",
        "--password-stdin",
        input="agency pw 12\n",
    )
    assert login(engine, "li", "collector pw 1", now=NOW).team == "team-a"

    out = run(
        cli, "user", "role", "li", "--add", "collector-senior", "--remove", "collector-junior"
    )
    assert "collector-senior" in out
    assert login(engine, "li", "collector pw 1", now=NOW).roles == {"collector-senior"}

    run(cli, "user", "passwd", "li", "--password-stdin", input="another pw 2\n")
    with pytest.raises(AuthenticationFailed):
        login(engine, "li", "collector pw 1", now=NOW)
    for _ in range(5):
        with pytest.raises(AuthenticationFailed):
            login(engine, "agent", "bad password", now=NOW)
    listed = {u["username"]: u for u in json.loads(run(cli, "user", "list", "--format", "json"))}
    assert listed["agent"]["locked_until"] is not None
    assert listed["zhao"]["roles"] == ["supervisor"] and listed["zhao"]["name"] == "赵主管"
    assert "agent" in run(cli, "user", "list")

    run(cli, "user", "unlock", "agent")
    assert login(engine, "agent", "agency pw 12", now=NOW).agency_id == "agency-x"
    run(cli, "user", "deactivate", "agent")
    with pytest.raises(AuthenticationFailed):
        login(engine, "agent", "agency pw 12", now=NOW)


def test_user_command_errors(cli: tuple[typer.Typer, str]) -> None:
    out = fails(
        cli, "user", "add", "li", "--role", "wizard", "--password-stdin", input="long enough pw\n"
    )
    assert "unknown roles ['wizard']" in out
    out = fails(
        cli, "user", "add", "li", "--role", "operations", "--password-stdin", input="short\n"
    )
    assert "at least 10" in out
    run(
        cli,
        "user",
        "add",
        "li",
        "--role",
        "operations",
        "--password-stdin",
        input="long enough pw\n",
    )
    assert "does not have roles ['admin']" in fails(cli, "user", "role", "li", "--remove", "admin")
    assert "no user 'ghost'" in fails(cli, "user", "unlock", "ghost")
