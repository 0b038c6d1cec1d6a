"""Append to and verify the hash-chained audit log.

Each record stores SHA-256 digests of the object before and after the action (not the
data itself), the authorisation basis, an optional document hash, and ``hash`` =
SHA-256 of the canonical JSON of all its other fields including ``prev_hash``, the
previous record's ``hash`` (``GENESIS`` for the first). Changing, deleting or inserting
a row breaks the chain where it happened, which ``verify`` reports.

Deleting the newest rows leaves a shorter chain that is still valid; only an anchor
kept outside the database catches that: ``head`` gives the count and last hash
(``daihou audit head``), to be stored elsewhere (a daily report, a ticket, WORM
storage) and handed back to ``verify(expected=...)``.

Appends are serialised so the chain never forks: on PostgreSQL by a transaction-level
advisory lock taken before reading the last record, held until commit; on SQLite every
transaction already holds the database write lock (``BEGIN IMMEDIATE``). Call
``record`` late in a unit of work: other appenders wait for its commit.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Set
from datetime import UTC, date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any, cast
from uuid import UUID

from sqlalchemy import Table, insert, inspect, select, text
from sqlalchemy.orm import Session

from daihou.auth.actor import Actor
from daihou.compliance.audit.models import AuditRecord
from daihou.eod.models import SystemState

GENESIS = hashlib.sha256(b"daihou audit log genesis v1").hexdigest()
"""``prev_hash`` of the first record."""
APPEND_LOCK = 0x6461_6968_6F75_A0D1
"""PostgreSQL advisory lock key of audit appends ("daihou" + a tag)."""
ACTION = re.compile(r"[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+")


# --------------------------------------------------------------------------- digests


_SCALARS = frozenset({type(None), bool, int, float, str})


def _jsonable(value: Any) -> Any:
    # The common exact types first, each converted as the general chain below converts
    # it (a batch of postings digests hundreds of thousands of values); subclasses and
    # everything else take the chain.
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is Decimal:
        return str(value)
    if kind is dict:
        return {str(k): _jsonable(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [_jsonable(v) for v in value]
    if kind is date:
        return value.isoformat()
    return _jsonable_any(value)


def _jsonable_any(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Enum):
        return _jsonable(value.value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Set):
        return sorted((_jsonable(v) for v in value), key=canonical_json)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if hasattr(value, "model_dump"):  # Pydantic models
        return _jsonable(value.model_dump(mode="python"))
    state = inspect(value, raiseerr=False)
    if state is not None and getattr(state, "mapper", None) is not None:  # ORM instance
        return {a.key: _jsonable(getattr(value, a.key)) for a in state.mapper.column_attrs}
    raise TypeError(f"cannot put a {type(value).__name__} into an audit digest")


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 text, ``Decimal`` as its string, dates in ISO 8601."""
    return json.dumps(
        _jsonable(value),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def digest(value: Any) -> str | None:
    """SHA-256 of the canonical JSON of ``value``; None stays None (nothing before a
    creation, nothing after a deletion)."""
    return None if value is None else sha256_hex(canonical_json(value).encode())


def utc_now() -> datetime:
    return datetime.now(UTC)


def _utc_naive(moment: datetime) -> datetime:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def chain_hash(row: Any) -> str:
    """The hash of a record (ORM object or row) from its fields and ``prev_hash``."""
    payload = {
        "v": 1,
        "id": int(row.id),
        "at": _timestamp(row.at),
        "business_date": row.business_date.isoformat() if row.business_date else None,
        "actor_id": row.actor_id,
        "roles": row.roles,
        "action": row.action,
        "object_type": row.object_type,
        "object_id": row.object_id,
        "before_digest": row.before_digest,
        "after_digest": row.after_digest,
        "basis": row.basis,
        "document_hash": row.document_hash,
        "prev_hash": row.prev_hash,
    }
    return sha256_hex(canonical_json(payload).encode())


# --------------------------------------------------------------------------- append


def hold_append_lock(session: Session) -> None:
    """Take the audit append lock now. Code that also takes other advisory locks (the
    contact gate's per-debtor lock) takes this one first, so locks are always acquired
    in the same order and two transactions cannot deadlock on them."""
    _append_lock(session)


# Built once: every audited action runs them (building and keying a statement per call
# cost more than running it).
_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
_LAST = select(AuditRecord.id, AuditRecord.hash).order_by(AuditRecord.id.desc()).limit(1)
_BUSINESS_DATE = select(SystemState.business_date).where(SystemState.id == 1)
# the chain's tail and the business date in one statement: an append reads both
_TAIL_AND_DATE = select(
    _LAST.with_only_columns(AuditRecord.id).scalar_subquery(),
    _LAST.with_only_columns(AuditRecord.hash).scalar_subquery(),
    _BUSINESS_DATE.scalar_subquery(),
)


def _append_lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_LOCK, {"key": APPEND_LOCK})


def _tail(session: Session, business_date: date | None) -> tuple[int, str, date | None]:
    """The last record's id and hash (0 and ``GENESIS`` for an empty log), and the
    business date (``business_date`` when given, else the system state's)."""
    if business_date is not None:
        last = session.execute(_LAST).first()
        last_id, last_hash = (last.id, last.hash) if last is not None else (None, None)
        when: date | None = business_date
    else:
        last_id, last_hash, when = session.execute(_TAIL_AND_DATE).one()
    if last_id is None:
        return 0, GENESIS, when
    return int(last_id), str(last_hash), when


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str,
    before: Any = None,
    after: Any = None,
    basis: Mapping[str, Any] | str | None = None,
    document: bytes | None = None,
    clock: Callable[[], datetime] = utc_now,
    business_date: date | None = None,
) -> AuditRecord:
    """Append one record inside the caller's transaction (it commits or rolls back
    with the action it records).

    ``action`` is dotted lower case (``payment.post``, ``privacy.reveal``); ``before``
    and ``after`` are the object's state as anything JSON-like, dataclasses, Pydantic
    or ORM objects; ``basis`` the authorisation (role, rule, approver); ``document``
    the bytes of a document or photo, whose SHA-256 goes into the chain. ``clock``
    gives the wall-clock time (naive values are taken as UTC); the business date is
    read from the system state unless given.
    """
    if not ACTION.fullmatch(action):
        raise ValueError(f"audit action {action!r} must be dotted lower case, e.g. payment.post")
    _append_lock(session)
    session.flush()
    prev_id, prev_hash, when = _tail(session, business_date)
    entry = AuditRecord(
        id=prev_id + 1,
        at=_utc_naive(clock()),
        business_date=when,
        actor_id=actor.user_id,
        roles=",".join(sorted(actor.roles)),
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        before_digest=digest(before),
        after_digest=digest(after),
        basis=basis if isinstance(basis, str) or basis is None else canonical_json(basis),
        document_hash=sha256_hex(document) if document is not None else None,
        prev_hash=prev_hash,
    )
    entry.hash = chain_hash(entry)
    session.add(entry)
    session.flush()
    return entry


@dataclasses.dataclass(frozen=True, slots=True)
class Entry:
    """One record for ``record_many`` (the arguments of ``record``)."""

    action: str
    object_type: str
    object_id: str
    before: Any = None
    after: Any = None


def record_many(
    session: Session,
    entries: list[Entry],
    *,
    actor: Actor,
    basis: Mapping[str, Any] | str | None = None,
    clock: Callable[[], datetime] = utc_now,
    business_date: date | None = None,
) -> int:
    """Append many records of one actor and basis in one multi-row insert (batch
    postings): the same records, chained the same way, as calling ``record`` for each
    in order, under one take of the append lock. Returns how many were written."""
    for e in entries:
        if not ACTION.fullmatch(e.action):
            raise ValueError(f"audit action {e.action!r} must be dotted lower case")
    if not entries:
        return 0
    _append_lock(session)
    session.flush()
    prev_id, prev_hash, when = _tail(session, business_date)
    roles = ",".join(sorted(actor.roles))
    basis_text = basis if isinstance(basis, str) or basis is None else canonical_json(basis)
    rows: list[dict[str, Any]] = []
    for e in entries:
        row = {
            "id": prev_id + 1,
            "at": _utc_naive(clock()),
            "business_date": when,
            "actor_id": actor.user_id,
            "roles": roles,
            "action": e.action,
            "object_type": e.object_type,
            "object_id": str(e.object_id),
            "before_digest": digest(e.before),
            "after_digest": digest(e.after),
            "basis": basis_text,
            "document_hash": None,
            "prev_hash": prev_hash,
        }
        prev_id, prev_hash = prev_id + 1, chain_hash(_Row(row))
        row["hash"] = prev_hash
        rows.append(row)
    session.execute(insert(cast(Table, AuditRecord.__table__)), rows)
    return len(rows)


class _Row:
    """Attribute access to a record's fields, for ``chain_hash``."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.__dict__.update(values)


# --------------------------------------------------------------------------- verify


@dataclasses.dataclass(frozen=True, slots=True)
class Head:
    """An anchor: how many records there were and the hash of the last one."""

    count: int
    hash: str

    def __str__(self) -> str:
        return f"{self.count}:{self.hash}"

    @classmethod
    def parse(cls, value: str) -> Head:
        count, sep, digest_ = value.strip().partition(":")
        if not sep or not count.isdigit() or not re.fullmatch(r"[0-9a-f]{64}", digest_):
            raise ValueError(f"{value!r} is not an audit head (COUNT:SHA256HEX)")
        return cls(int(count), digest_)


@dataclasses.dataclass(frozen=True, slots=True)
class Break:
    """The first problem found. ``kind``: ``content-changed`` (fields differ from what
    was hashed), ``link-broken`` (``prev_hash`` is not the previous record's hash),
    ``missing-record`` (an id was deleted), ``truncated`` / ``head-mismatch`` (against
    an expected head)."""

    record_id: int
    kind: str
    detail: str


@dataclasses.dataclass(frozen=True, slots=True)
class VerifyResult:
    count: int  # records checked and found sound
    head: Head  # of the sound part
    broken: Break | None = None

    @property
    def ok(self) -> bool:
        return self.broken is None


def head(session: Session) -> Head:
    last = session.execute(_LAST).first()
    return Head(0, GENESIS) if last is None else Head(int(last.id), str(last.hash))


def verify(
    session: Session, *, expected: Head | None = None, batch_size: int = 1_000
) -> VerifyResult:
    """Walk the whole chain in id order (streamed, constant memory); stop at the first
    broken link. With ``expected`` (an earlier ``head``), also require that record
    ``expected.count`` exists and has ``expected.hash`` — this catches a cut tail."""
    table = AuditRecord.__table__
    rows = session.execute(
        select(table).order_by(table.c.id).execution_options(yield_per=batch_size)
    )
    count, prev_hash = 0, GENESIS

    def broken(record_id: int, kind: str, detail: str) -> VerifyResult:
        rows.close()
        return VerifyResult(count, Head(count, prev_hash), Break(record_id, kind, detail))

    for row in rows:
        expected_id = count + 1
        if row.id != expected_id:
            return broken(
                expected_id,
                "missing-record",
                f"record {expected_id} is missing: the next record is {row.id}",
            )
        if chain_hash(row) != row.hash:
            return broken(
                row.id, "content-changed", f"record {row.id} differs from what was hashed"
            )
        if row.prev_hash != prev_hash:
            where = f"record {row.id - 1}'s hash" if row.id > 1 else "the genesis value"
            return broken(
                row.id,
                "link-broken",
                f"record {row.id}'s prev_hash is not {where}: "
                f"record {row.id} was inserted or record {row.id - 1} replaced",
            )
        if expected is not None and row.id == expected.count and row.hash != expected.hash:
            return broken(
                row.id,
                "head-mismatch",
                f"record {row.id} does not have the anchored hash {expected.hash}",
            )
        count, prev_hash = row.id, row.hash
    if expected is not None and count < expected.count:
        return VerifyResult(
            count,
            Head(count, prev_hash),
            Break(
                count + 1,
                "truncated",
                f"the anchor has {expected.count} records, the log only {count}: "
                f"records {count + 1}…{expected.count} were removed",
            ),
        )
    return VerifyResult(count, Head(count, prev_hash))


def history(session: Session, *, object_type: str, object_id: str) -> list[AuditRecord]:
    """Every record about one object, oldest first."""
    query = (
        select(AuditRecord)
        .where(AuditRecord.object_type == object_type, AuditRecord.object_id == object_id)
        .order_by(AuditRecord.id)
    )
    return list(session.execute(query).scalars())
