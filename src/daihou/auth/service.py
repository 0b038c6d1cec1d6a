"""Users: create, passwords, roles, deactivate, unlock, and sign in with lockout.

Every function that changes a user asks ``authorize(actor, "user.manage")`` first (a
user may change their own password with the current one). ``authenticate`` is
timing-safe: an unknown username costs one argon2 verification like a known one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from daihou.auth.actor import ROLES, Actor
from daihou.auth.models import User, UserRole
from daihou.auth.passwords import (
    DEFAULT_SETTINGS,
    AuthSettings,
    check_password_policy,
    dummy_hash,
    hash_password,
    is_password_hash,
    needs_rehash,
    verify_password,
)
from daihou.auth.permissions import AuthorizationBasis, PermissionDenied, authorize
from daihou.compliance.audit.service import record as audit_record
from daihou.db.engine import transaction

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")
RESERVED_USERNAMES = frozenset({"system"})
# Roles that stand alone: an agency's staff, the independent auditor and the user
# administrator must not also hold business roles (segregation of duties).
EXCLUSIVE_ROLES = frozenset({"agency-user", "auditor", "admin"})
ASSIGNABLE_ROLES = tuple(r for r in ROLES if r != "system")


class UserError(ValueError):
    """Bad user data; the message lists every problem."""


class UnknownUser(LookupError):
    """No user by that name."""


class AuthenticationFailed(PermissionError):
    """Wrong username or password, or an inactive account (deliberately not told apart)."""


class AccountLocked(AuthenticationFailed):
    def __init__(self, message: str, *, until: datetime) -> None:
        super().__init__(message)
        self.until = until


def _aware(now: datetime, name: str = "now") -> datetime:
    if now.tzinfo is None:
        raise ValueError(f"{name} must be a time-zone-aware datetime")
    return now


def role_problems(roles: Iterable[str], *, team: str | None, agency_id: str | None) -> list[str]:
    wanted = set(roles)
    problems = []
    if not wanted:
        problems.append("a user needs at least one role")
    unknown = sorted(wanted - set(ROLES))
    if unknown:
        problems.append(f"unknown roles {unknown}; known: {list(ASSIGNABLE_ROLES)}")
    if "system" in wanted:
        problems.append("role 'system' is reserved for batch jobs and cannot be assigned")
    exclusive = sorted(wanted & EXCLUSIVE_ROLES)
    if exclusive and len(wanted) > 1:
        problems.append(f"role {exclusive[0]} cannot be combined with other roles")
    if "agency-user" in wanted and not agency_id:
        problems.append("an agency user needs --agency (the agency they work for)")
    if agency_id and "agency-user" not in wanted:
        problems.append("only agency users belong to an agency")
    if "supervisor" in wanted and not team:
        problems.append("a supervisor needs a team")
    return problems


def get_user(session: Session, username: str) -> User:
    user = session.get(User, username)
    if user is None:
        raise UnknownUser(f"no user {username!r}")
    return user


class UserFields(Protocol):
    """What an ``Actor`` is made of: a ``User`` or a row of its columns."""

    @property
    def username(self) -> str: ...
    @property
    def team(self) -> str | None: ...
    @property
    def agency_id(self) -> str | None: ...
    @property
    def display_name(self) -> str: ...
    @property
    def territory(self) -> str | None: ...


def actor_with_roles(user: UserFields, roles: frozenset[str]) -> Actor:
    """The actor of ``user`` holding ``roles`` (for a row read without its roles)."""
    return Actor(
        user_id=user.username,
        roles=roles,
        team=user.team,
        agency_id=user.agency_id,
        display=user.display_name or user.username,
        territory=user.territory,
    )


def actor_of(user: User) -> Actor:
    return actor_with_roles(user, user.roles)


def actor_for(session: Session, username: str) -> Actor:
    """The actor of an active user (CLI ``--as``, restoring a web session)."""
    user = get_user(session, username)
    if not user.active:
        raise PermissionDenied(
            f"user {username!r} is deactivated", action="login", roles=user.roles
        )
    return actor_of(user)


def create_user(
    session: Session,
    *,
    actor: Actor,
    username: str,
    password: str,
    roles: Iterable[str],
    now: datetime,
    display_name: str = "",
    team: str | None = None,
    territory: str | None = None,
    agency_id: str | None = None,
    settings: AuthSettings = DEFAULT_SETTINGS,
    password_hash: str | None = None,
) -> User:
    """A new active user. ``password_hash``, when given, is ``hash_password(password)``
    made beforehand — one hash for many users created with the same password (the
    demo's staff); it is stored as given (not checked against ``password``, which must
    still meet the policy) and verified at sign-in like any other."""
    basis = authorize(actor, "user.manage")
    _aware(now)
    wanted = sorted(set(roles))
    problems = []
    if not USERNAME.match(username):
        problems.append(
            f"username {username!r} must be 2–64 letters, digits or . _ @ - "
            "and start with a letter or digit"
        )
    if username.casefold() in RESERVED_USERNAMES:
        problems.append(f"username {username!r} is reserved")
    problems += role_problems(wanted, team=team, agency_id=agency_id)
    if password_hash is not None and not is_password_hash(password_hash):
        problems.append("password_hash is not an argon2 hash")
    if problems:
        raise UserError(f"cannot create user {username!r}: " + "; ".join(problems))
    if session.get(User, username) is not None:
        raise UserError(f"user {username!r} already exists")
    check_password_policy(username, password, settings)
    user = User(
        username=username,
        display_name=display_name,
        password_hash=hash_password(password) if password_hash is None else password_hash,
        team=team,
        territory=territory,
        agency_id=agency_id,
        active=True,
        failed_attempts=0,
        password_changed_at=now,
        created_at=now,
        updated_at=now,
        role_rows=[UserRole(role=r) for r in wanted],
    )
    session.add(user)
    session.flush()
    _audit(session, actor=actor, action="user.create", user=user, before=None, basis=basis)
    return user


def set_password(
    session: Session,
    *,
    actor: Actor,
    username: str,
    password: str,
    now: datetime,
    current_password: str | None = None,
    settings: AuthSettings = DEFAULT_SETTINGS,
) -> AuthorizationBasis | None:
    """Set a password. A user changing their own needs ``current_password``; anyone
    else needs ``user.manage`` (the basis is returned). Clears a lockout."""
    _aware(now)
    user = get_user(session, username)
    basis = None
    if actor.user_id == username and current_password is not None:
        if not verify_password(user.password_hash, current_password):
            raise AuthenticationFailed("the current password is wrong")
    else:
        basis = authorize(actor, "user.manage")
    check_password_policy(username, password, settings)
    before = _snapshot(user)
    user.password_hash = hash_password(password)
    user.password_changed_at = now
    user.failed_attempts = 0
    user.locked_until = None
    user.updated_at = now
    session.flush()
    _audit(session, actor=actor, action="user.password", user=user, before=before, basis=basis)
    return basis


def set_roles(session: Session, *, actor: Actor, username: str, roles: Iterable[str]) -> User:
    """Replace a user's roles. Nobody changes their own roles."""
    basis = authorize(actor, "user.manage")
    if actor.user_id == username:
        raise PermissionDenied(
            f"{username} may not change their own roles", action="user.manage", roles=actor.roles
        )
    user = get_user(session, username)
    wanted = sorted(set(roles))
    problems = role_problems(wanted, team=user.team, agency_id=user.agency_id)
    if problems:
        raise UserError(f"cannot give {username!r} roles {wanted}: " + "; ".join(problems))
    before = _snapshot(user)
    keep = [row for row in user.role_rows if row.role in wanted]
    have = {row.role for row in keep}
    user.role_rows = keep + [UserRole(role=r) for r in wanted if r not in have]
    session.flush()
    _audit(session, actor=actor, action="user.roles", user=user, before=before, basis=basis)
    return user


def deactivate(session: Session, *, actor: Actor, username: str, now: datetime) -> User:
    """A leaver (离职) can no longer sign in; their history stays attributed to them."""
    basis = authorize(actor, "user.manage")
    _aware(now)
    if actor.user_id == username:
        raise PermissionDenied(
            f"{username} may not deactivate themselves", action="user.manage", roles=actor.roles
        )
    user = get_user(session, username)
    before = _snapshot(user)
    user.active = False
    user.updated_at = now
    session.flush()
    _audit(session, actor=actor, action="user.deactivate", user=user, before=before, basis=basis)
    return user


def unlock(session: Session, *, actor: Actor, username: str) -> User:
    basis = authorize(actor, "user.manage")
    user = get_user(session, username)
    before = _snapshot(user)
    user.failed_attempts = 0
    user.locked_until = None
    session.flush()
    _audit(session, actor=actor, action="user.unlock", user=user, before=before, basis=basis)
    return user


def list_users(session: Session, *, actor: Actor) -> list[User]:
    authorize(actor, "user.manage")
    return list(session.scalars(select(User).order_by(User.username)))


def authenticate(
    session: Session,
    username: str,
    password: str,
    *,
    now: datetime,
    settings: AuthSettings = DEFAULT_SETTINGS,
) -> Actor:
    """Check a password and return the user's ``Actor``.

    After ``settings.max_failed_attempts`` failures in a row the account is locked for
    ``settings.lockout_minutes``; attempts while locked fail without counting. The
    failure counter is changed in ``session`` *before* the exception is raised, so the
    caller must commit even on failure; ``login`` does that.
    """
    _aware(now)
    user = session.get(User, username)
    if user is None:
        verify_password(dummy_hash(), password)
        on_login(session, username=username, success=False, reason="unknown user", at=now)
        raise AuthenticationFailed("wrong username or password")
    ok = verify_password(user.password_hash, password)
    if user.locked_until is not None:
        if now < user.locked_until:
            on_login(session, username=username, success=False, reason="locked", at=now)
            raise AccountLocked(
                f"account {username!r} is locked after repeated failures until "
                f"{user.locked_until.isoformat(timespec='minutes')}; try again later "
                "or ask an administrator to unlock it",
                until=user.locked_until,
            )
        user.locked_until = None
        user.failed_attempts = 0
    if not ok or not user.active:
        reason = "inactive" if ok and not user.active else "wrong password"
        if not ok:
            user.failed_attempts += 1
            if user.failed_attempts >= settings.max_failed_attempts:
                user.locked_until = now + settings.lockout
                reason = "wrong password; locked"
        session.flush()
        on_login(session, username=username, success=False, reason=reason, at=now)
        raise AuthenticationFailed("wrong username or password")
    user.failed_attempts = 0
    user.last_login_at = now
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    session.flush()
    actor = actor_of(user)
    on_login(session, username=username, success=True, reason=None, at=now, actor=actor)
    return actor


def login(
    engine: Engine,
    username: str,
    password: str,
    *,
    now: datetime,
    settings: AuthSettings = DEFAULT_SETTINGS,
) -> Actor:
    """``authenticate`` in its own transaction that is committed on failure too, so
    failed attempts count and the lockout holds."""
    failure: AuthenticationFailed | None = None
    with transaction(engine) as session:
        try:
            return authenticate(session, username, password, now=now, settings=settings)
        except AuthenticationFailed as exc:
            failure = exc
    raise failure


def on_login(
    session: Session,
    *,
    username: str,
    success: bool,
    reason: str | None,
    at: datetime,
    actor: Actor | None = None,
) -> None:
    """Every sign-in attempt is an audit record ``auth.login`` (object: the username)."""
    who = actor or Actor(user_id=username[:64], roles=frozenset())
    audit_record(
        session,
        actor=who,
        action="auth.login",
        object_type="user",
        object_id=username[:64],
        after={"success": success, "reason": reason},
        clock=lambda: at,
    )


def _snapshot(user: User) -> dict[str, object]:
    """What the audit digest covers (never the password hash itself)."""
    return {
        "username": user.username,
        "display_name": user.display_name,
        "roles": sorted(user.roles),
        "team": user.team,
        "territory": user.territory,
        "agency_id": user.agency_id,
        "active": user.active,
        "locked_until": user.locked_until,
        "password_changed_at": user.password_changed_at,
    }


def _audit(
    session: Session,
    *,
    actor: Actor,
    action: str,
    user: User,
    before: dict[str, object] | None,
    basis: AuthorizationBasis | None,
) -> None:
    audit_record(
        session,
        actor=actor,
        action=action,
        object_type="user",
        object_id=user.username,
        before=before,
        after=_snapshot(user),
        basis=basis.as_dict() if basis is not None else "self-service",
    )
