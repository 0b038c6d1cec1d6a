"""Password hashing (argon2id via argon2-cffi), the password policy and login settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from argon2 import PasswordHasher, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


@dataclass(frozen=True, slots=True)
class AuthSettings:
    """Login and password rules. Defaults follow common bank practice; a deployment
    passes its own (or a policy pack supplies them)."""

    max_failed_attempts: int = 5
    lockout_minutes: int = 15
    min_password_length: int = 10

    def __post_init__(self) -> None:
        if self.max_failed_attempts < 1:
            raise ValueError("max_failed_attempts must be at least 1")
        if self.lockout_minutes < 1:
            raise ValueError("lockout_minutes must be at least 1")
        if self.min_password_length < 8:
            raise ValueError("min_password_length must be at least 8")

    @property
    def lockout(self) -> timedelta:
        return timedelta(minutes=self.lockout_minutes)


DEFAULT_SETTINGS = AuthSettings()


class PasswordPolicyError(ValueError):
    """The new password breaks the policy; the message lists every problem."""


@lru_cache(maxsize=1)
def hasher() -> PasswordHasher:
    return PasswordHasher()  # argon2id with the library's RFC 9106 low-memory profile


def password_problems(
    username: str, password: str, settings: AuthSettings = DEFAULT_SETTINGS
) -> list[str]:
    problems = []
    if len(password) < settings.min_password_length:
        problems.append(
            f"it has {len(password)} characters; at least {settings.min_password_length} "
            "are required"
        )
    if password.strip().casefold() == username.strip().casefold():
        problems.append("it must not be the same as the username")
    return problems


def check_password_policy(
    username: str, password: str, settings: AuthSettings = DEFAULT_SETTINGS
) -> None:
    problems = password_problems(username, password, settings)
    if problems:
        raise PasswordPolicyError(f"password for {username!r} refused: " + "; ".join(problems))


def hash_password(password: str) -> str:
    return hasher().hash(password)


def is_password_hash(value: str) -> bool:
    """True when ``value`` reads as an argon2 hash (what ``hash_password`` returns)."""
    try:
        extract_parameters(value)
    except InvalidHashError:
        return False
    return True


def verify_password(stored_hash: str, password: str) -> bool:
    """True when ``password`` matches; a malformed stored hash never matches."""
    try:
        return hasher().verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    try:
        return hasher().check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


@lru_cache(maxsize=1)
def dummy_hash() -> str:
    """A hash verified for unknown users, so a login takes as long whether or not the
    username exists."""
    return hash_password("daihou-dummy-password-for-timing")
