"""Users: creation rules, password policy, roles, lockout, timing safety, audit."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, select

import daihou.auth.service as auth_service
from daihou.auth import passwords
from daihou.auth.actor import SYSTEM, Actor
from daihou.auth.models import User
from daihou.auth.passwords import AuthSettings, PasswordPolicyError, verify_password
from daihou.auth.permissions import PermissionDenied
from daihou.auth.service import (
    AccountLocked,
    AuthenticationFailed,
    UserError,
    actor_for,
    authenticate,
    create_user,
    deactivate,
    get_user,
    login,
    set_password,
    set_roles,
    unlock,
)
from daihou.compliance.audit.models import AuditRecord
from daihou.db.engine import transaction

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse 1"
ADMIN = Actor("root", frozenset({"admin"}))
PRODUCTION_HASHER = passwords.hasher


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """argon2 at production cost takes ~0.5 s per hash here; tests use a cheap one."""
    fast = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(passwords, "hasher", lambda: fast)
    passwords.dummy_hash.cache_clear()
    yield
    passwords.dummy_hash.cache_clear()


def test_production_hashing_is_argon2id_at_full_cost() -> None:
    real = PRODUCTION_HASHER()
    assert (real.type.name, real.memory_cost, real.time_cost) == ("ID", 65536, 3)


def add(engine: Engine, username: str, *roles: str, **kwargs: object) -> None:
    with transaction(engine) as session:
        create_user(
            session,
            actor=SYSTEM,
            username=username,
            password=PASSWORD,
            roles=roles,
            now=T0,
            **kwargs,  # type: ignore[arg-type]
        )


def test_create_and_sign_in(engine: Engine) -> None:
    add(engine, "li", "collector-junior", team="team-a", territory="north", display_name="李")
    actor = login(engine, "li", PASSWORD, now=T0 + timedelta(hours=1))
    assert actor == Actor("li", frozenset({"collector-junior"}), team="team-a", territory="north")
    with transaction(engine) as session:
        user = get_user(session, "li")
        assert user.password_hash.startswith("$argon2id$")
        assert user.password_hash != PASSWORD and verify_password(user.password_hash, PASSWORD)
        assert user.last_login_at == T0 + timedelta(hours=1)
        assert user.password_changed_at == T0
        actions = list(session.scalars(select(AuditRecord.action).order_by(AuditRecord.id)))
    assert actions == ["user.create", "auth.login"]


def test_bad_user_data_lists_every_problem(engine: Engine) -> None:
    with transaction(engine) as session, pytest.raises(UserError) as caught:
        create_user(
            session,
            actor=SYSTEM,
            username="x",
            password=PASSWORD,
            roles=["agency-user", "supervisor", "wizard"],
            now=T0,
        )
    message = str(caught.value)
    for part in (
        "username 'x'",
        "unknown roles ['wizard']",
        "cannot be combined",
        "--agency",
        "supervisor needs a team",
    ):
        assert part in message, part


def test_users_created_with_one_precomputed_hash_sign_in_with_its_password(
    engine: Engine,
) -> None:
    shared = passwords.hash_password(PASSWORD)
    for name in ("wang", "zhao"):
        add(engine, name, "operations", password_hash=shared)
    with transaction(engine) as session:
        assert get_user(session, "wang").password_hash == shared
        assert get_user(session, "zhao").password_hash == shared
    assert login(engine, "zhao", PASSWORD, now=T0).user_id == "zhao"
    with pytest.raises(AuthenticationFailed):
        login(engine, "wang", "not the password", now=T0)


def test_a_precomputed_hash_must_be_an_argon2_hash(engine: Engine) -> None:
    with pytest.raises(UserError, match="password_hash is not an argon2 hash"):
        add(engine, "wang", "operations", password_hash=PASSWORD)
    # the password itself is still checked
    with pytest.raises(PasswordPolicyError), transaction(engine) as session:
        create_user(
            session,
            actor=SYSTEM,
            username="wang",
            password="short",
            roles=["operations"],
            now=T0,
            password_hash=passwords.hash_password("short"),
        )
    with transaction(engine) as session:
        assert session.get(User, "wang") is None


@pytest.mark.parametrize(
    ("password", "problem"),
    [("short1", "at least 10"), ("Zhang.San1", "same as the username")],
)
def test_password_policy(engine: Engine, password: str, problem: str) -> None:
    with transaction(engine) as session, pytest.raises(PasswordPolicyError, match=problem):
        create_user(
            session,
            actor=SYSTEM,
            username="zhang.san1",
            password=password,
            roles=["operations"],
            now=T0,
        )


def test_duplicate_and_reserved_usernames(engine: Engine) -> None:
    add(engine, "li", "collector-junior")
    with pytest.raises(UserError, match="already exists"):
        add(engine, "li", "collector-senior")
    with pytest.raises(UserError, match="reserved"):
        add(engine, "system", "operations")
    with pytest.raises(UserError, match="reserved for batch"):
        add(engine, "batch", "system")


def test_only_user_managers_manage_users(engine: Engine) -> None:
    add(engine, "root", "admin")
    add(engine, "li", "collector-junior", team="team-a")
    collector = Actor("li", frozenset({"collector-junior"}), team="team-a")
    with transaction(engine) as session:
        with pytest.raises(PermissionDenied, match=r"user\.manage"):
            set_roles(session, actor=collector, username="root", roles=["operations"])
        with pytest.raises(PermissionDenied, match="own roles"):
            set_roles(session, actor=ADMIN, username="root", roles=["operations"])
        user = set_roles(session, actor=ADMIN, username="li", roles=["collector-senior"])
        assert user.roles == {"collector-senior"}
        with pytest.raises(UserError, match="cannot be combined"):
            set_roles(session, actor=ADMIN, username="li", roles=["auditor", "collector-senior"])


def test_own_password_change_needs_the_current_one(engine: Engine) -> None:
    add(engine, "li", "collector-junior")
    me = Actor("li", frozenset({"collector-junior"}))
    with transaction(engine) as session:
        with pytest.raises(AuthenticationFailed):
            set_password(
                session,
                actor=me,
                username="li",
                password="new password 2",
                current_password="wrong",
                now=T0,
            )
        with pytest.raises(PermissionDenied):  # without the current one it is an admin job
            set_password(session, actor=me, username="li", password="new password 2", now=T0)
        set_password(
            session,
            actor=me,
            username="li",
            password="new password 2",
            current_password=PASSWORD,
            now=T0,
        )
    assert login(engine, "li", "new password 2", now=T0).user_id == "li"


def test_lockout_after_five_failures_for_fifteen_minutes(engine: Engine) -> None:
    add(engine, "li", "collector-junior")
    for i in range(5):
        with pytest.raises(AuthenticationFailed) as caught:
            login(engine, "li", "wrong password", now=T0 + timedelta(seconds=i))
        assert not isinstance(caught.value, AccountLocked)
    locked_at = T0 + timedelta(seconds=4)
    # the right password does not help while locked, and attempts do not extend the lock
    with pytest.raises(AccountLocked, match="locked") as caught:
        login(engine, "li", PASSWORD, now=T0 + timedelta(minutes=10))
    assert caught.value.until == locked_at + timedelta(minutes=15)
    with pytest.raises(AccountLocked):
        login(engine, "li", PASSWORD, now=locked_at + timedelta(minutes=15, seconds=-1))
    assert login(engine, "li", PASSWORD, now=locked_at + timedelta(minutes=15))
    with transaction(engine) as session:
        assert get_user(session, "li").failed_attempts == 0
        logins = list(
            session.scalars(select(AuditRecord.actor_id).where(AuditRecord.action == "auth.login"))
        )
    assert len(logins) == 8


def test_lockout_numbers_are_settings(engine: Engine) -> None:
    add(engine, "li", "collector-junior")
    settings = AuthSettings(max_failed_attempts=2, lockout_minutes=1)
    for _ in range(2):
        with pytest.raises(AuthenticationFailed):
            login(engine, "li", "nope nope nope", now=T0, settings=settings)
    with pytest.raises(AccountLocked):
        login(engine, "li", PASSWORD, now=T0 + timedelta(seconds=59), settings=settings)
    assert login(engine, "li", PASSWORD, now=T0 + timedelta(minutes=2), settings=settings)


def test_admin_unlock_and_success_resets_the_count(engine: Engine) -> None:
    add(engine, "li", "collector-junior")
    for _ in range(5):
        with pytest.raises(AuthenticationFailed):
            login(engine, "li", "wrong password", now=T0)
    with transaction(engine) as session:
        unlock(session, actor=ADMIN, username="li")
    assert login(engine, "li", PASSWORD, now=T0).user_id == "li"
    for _ in range(4):
        with pytest.raises(AuthenticationFailed):
            login(engine, "li", "wrong password", now=T0)
    login(engine, "li", PASSWORD, now=T0)
    with pytest.raises(AuthenticationFailed) as caught:
        login(engine, "li", "wrong password", now=T0)
    assert not isinstance(caught.value, AccountLocked)


def test_unknown_user_costs_a_hash_verification(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = auth_service.verify_password

    def counting(stored: str, password: str) -> bool:
        calls.append(stored)
        return real(stored, password)

    monkeypatch.setattr(auth_service, "verify_password", counting)
    with pytest.raises(AuthenticationFailed, match="wrong username or password") as unknown:
        login(engine, "nobody", PASSWORD, now=T0)
    add(engine, "li", "collector-junior")
    with pytest.raises(AuthenticationFailed) as wrong:
        login(engine, "li", "wrong password", now=T0)
    assert len(calls) == 2 and all(c.startswith("$argon2id$") for c in calls)
    assert str(unknown.value) == str(wrong.value)


def test_deactivated_user_cannot_sign_in(engine: Engine) -> None:
    add(engine, "li", "collector-junior")
    with transaction(engine) as session:
        with pytest.raises(PermissionDenied, match="themselves"):
            deactivate(session, actor=Actor("li", frozenset({"admin"})), username="li", now=T0)
        deactivate(session, actor=ADMIN, username="li", now=T0)
    with pytest.raises(AuthenticationFailed, match="wrong username or password"):
        login(engine, "li", PASSWORD, now=T0)
    with transaction(engine) as session:
        with pytest.raises(PermissionDenied, match="deactivated"):
            actor_for(session, "li")
        assert get_user(session, "li").failed_attempts == 0  # right password: not counted


def test_authenticate_leaves_the_commit_to_the_caller(engine: Engine) -> None:
    add(engine, "li", "collector-junior")
    with transaction(engine) as session:
        with pytest.raises(AuthenticationFailed):
            authenticate(session, "li", "wrong password", now=T0)
        assert session.get(User, "li").failed_attempts == 1  # type: ignore[union-attr]


def test_sign_in_upgrades_a_hash_made_with_older_parameters(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    add(engine, "li", "collector-junior")
    stronger = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    monkeypatch.setattr(passwords, "hasher", lambda: stronger)
    login(engine, "li", PASSWORD, now=T0)
    with transaction(engine) as session:
        assert "m=2048,t=2,p=1" in get_user(session, "li").password_hash
    assert login(engine, "li", PASSWORD, now=T0).user_id == "li"
