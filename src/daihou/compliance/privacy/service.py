"""Personal data use cases: masked views, logged reveals, search by keyed hash,
retention (销毁), and re-encryption under a new key.

Who may see a field in full is data (``REVEAL_RIGHTS``), to move into the permission
matrix of ``daihou.auth`` when it exists. Everything else sees masks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    String,
    Table,
    and_,
    bindparam,
    exists,
    func,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.orm import Session

from daihou.auth.actor import Actor
from daihou.compliance.audit import service as audit
from daihou.compliance.privacy.crypto import (
    PREFIX,
    TOMBSTONE,
    EncryptedString,
    Keyring,
    current_keyring,
)
from daihou.compliance.privacy.masking import MASKS
from daihou.compliance.privacy.models import BLIND_INDEXES, PrivacyReveal
from daihou.db.base import Base
from daihou.db.engine import transaction
from daihou.loans.models import Customer, Loan

PERSONAL_FIELDS = ("name", "id_number", "phone", "address", "employer")
_ALL = frozenset(PERSONAL_FIELDS)
REVEAL_RIGHTS: dict[str, frozenset[str]] = {
    "supervisor": _ALL,
    "compliance-officer": _ALL,
    "operations": _ALL,
    "admin": _ALL,
    # to call the borrower; scope (own cases only) is for daihou.auth to add
    "collector-junior": frozenset({"phone"}),
    "collector-senior": frozenset({"phone"}),
}
"""Role → personal fields it may see in full. Roles not listed see masks only."""


@dataclass(frozen=True, slots=True)
class CustomerProfile:
    customer_id: str
    name: str | None
    id_number: str | None
    phone: str | None
    address: str | None
    employer: str | None
    masked: bool = True


def _raw(column: Any) -> Any:
    """The stored text of an encrypted column, bypassing decryption and its guard."""
    return type_coerce(column, String)


def may_reveal(actor: Actor, field: str) -> bool:
    return any(field in REVEAL_RIGHTS.get(role, frozenset()) for role in actor.roles)


def _masked(customer: Customer) -> CustomerProfile:
    return CustomerProfile(
        customer_id=customer.id,
        name=MASKS["name"](customer.name),
        id_number=MASKS["id_number"](customer.id_number),
        phone=MASKS["phone"](customer.phone),
        address=MASKS["address"](customer.address),
        employer=MASKS["employer"](customer.employer),
    )


def _customer(session: Session, customer_id: str) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise LookupError(f"no customer {customer_id!r}")
    return customer


def customer_profile(session: Session, customer_id: str, *, actor: Actor) -> CustomerProfile:
    """The customer's personal data, masked (the default view for every role)."""
    return _masked(_customer(session, customer_id))


def agency_view(
    session: Session, *, customer_ids: Sequence[str], actor: Actor
) -> list[CustomerProfile]:
    """What is handed to a collection agency (委外): always masked, whatever the role."""
    found = session.execute(select(Customer).where(Customer.id.in_(customer_ids))).scalars()
    by_id = {c.id: c for c in found}
    missing = [c for c in customer_ids if c not in by_id]
    if missing:
        raise LookupError(f"no customer {', '.join(map(repr, missing))}")
    return [_masked(by_id[c]) for c in customer_ids]


def reveal(
    session: Session,
    *,
    actor: Actor,
    customer_id: str,
    field: str,
    reason: str,
    clock: Callable[[], datetime] = audit.utc_now,
) -> str:
    """The full value of one field, if a role of ``actor`` has the right; logged in
    ``privacy_reveals`` and the audit chain (who, which field, when, why)."""
    if field not in PERSONAL_FIELDS:
        raise ValueError(f"unknown personal field {field!r}; one of {', '.join(PERSONAL_FIELDS)}")
    if not reason or not reason.strip():
        raise ValueError("a reason is required to reveal personal data")
    if not may_reveal(actor, field):
        raise PermissionError(
            f"{actor.user_id} ({', '.join(sorted(actor.roles))}) may not see {field} in full"
        )
    value = session.execute(
        select(getattr(Customer, field)).where(Customer.id == customer_id)
    ).one_or_none()
    if value is None:
        raise LookupError(f"no customer {customer_id!r}")
    roles = sorted(r for r in actor.roles if field in REVEAL_RIGHTS.get(r, frozenset()))
    entry = audit.record(
        session,
        actor=actor,
        action="privacy.reveal",
        object_type="customer",
        object_id=customer_id,
        basis={"rule": "privacy.reveal_rights", "roles": roles, "field": field, "reason": reason},
        clock=clock,
    )
    session.add(
        PrivacyReveal(
            at=entry.at,
            actor_id=actor.user_id,
            roles=entry.roles,
            customer_id=customer_id,
            field=field,
            reason=reason.strip(),
            audit_id=entry.id,
        )
    )
    session.flush()
    return str(value[0]) if value[0] is not None else ""


def find_customers(
    session: Session, *, id_number: str | None = None, phone: str | None = None
) -> list[str]:
    """Ids of customers with this ID number and/or phone, found by keyed hash (every key
    of the keyring, so rows not yet re-encrypted after a rotation are found too)."""
    if id_number is None and phone is None:
        raise ValueError("give an ID number or a phone")
    keyring = current_keyring()
    query = select(Customer.id).order_by(Customer.id)
    if id_number is not None:
        query = query.where(
            Customer.id_number_hash.in_(keyring.blind_indexes(id_number, "id_number"))
        )
    if phone is not None:
        query = query.where(Customer.phone_hash.in_(keyring.blind_indexes(phone, "phone")))
    return list(session.execute(query).scalars())


# --------------------------------------------------------------------------- retention


def expired_customers(session: Session, *, before: date) -> list[str]:
    """Customers not yet destroyed all of whose loans (at least one) closed before
    ``before``."""
    open_or_recent = exists().where(
        Loan.customer_id == Customer.id,
        or_(Loan.status != "closed", Loan.closed_on.is_(None), Loan.closed_on >= before),
    )
    query = (
        select(Customer.id)
        .where(exists().where(Loan.customer_id == Customer.id))
        .where(~open_or_recent)
        .where(_raw(Customer.name) != TOMBSTONE)
        .order_by(Customer.id)
    )
    return list(session.execute(query).scalars())


def destroy_expired(
    session: Session,
    *,
    before: date,
    actor: Actor,
    clock: Callable[[], datetime] = audit.utc_now,
) -> int:
    """Irreversibly overwrite the personal data of ``expired_customers`` with
    ``TOMBSTONE`` and clear their hashes; one audit record per customer.

    The audit record keeps no digest of the destroyed data (a hash of an ID number is
    itself personal data): only which fields went and under which rule.
    """
    ids = expired_customers(session, before=before)
    fields = {f: TOMBSTONE for f in PERSONAL_FIELDS}
    hashes = {column: None for (table, _), column in BLIND_INDEXES.items() if table == "customers"}
    for i in range(0, len(ids), 500):
        batch = ids[i : i + 500]
        session.execute(
            update(Customer).where(Customer.id.in_(batch)).values(**fields, **hashes),
            execution_options={"synchronize_session": False},
        )
        loans = session.execute(
            select(Loan.customer_id, Loan.id, Loan.closed_on)
            .where(Loan.customer_id.in_(batch))
            .order_by(Loan.customer_id, Loan.id)
        ).all()
        closed: dict[str, list[list[str]]] = {}
        for row in loans:
            closed.setdefault(row.customer_id, []).append([row.id, row.closed_on.isoformat()])
        for customer_id in batch:
            audit.record(
                session,
                actor=actor,
                action="privacy.destroy",
                object_type="customer",
                object_id=customer_id,
                after={"destroyed": list(PERSONAL_FIELDS)},
                basis={
                    "rule": "retention",
                    "closed_before": before.isoformat(),
                    "loans": closed.get(customer_id, []),
                },
                clock=clock,
            )
    session.expire_all()
    return len(ids)


# --------------------------------------------------------------------------- keys


def encrypted_columns() -> list[tuple[Table, Column[Any], list[Column[Any]]]]:
    """(table, primary key, encrypted columns) of every table with encrypted columns."""
    found = []
    for table in Base.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, EncryptedString)]
        if columns:
            (pk,) = table.primary_key.columns
            found.append((table, pk, columns))
    return found


def key_usage(session: Session, *, keyring: Keyring | None = None) -> dict[str, int]:
    """How many stored values each key encrypts, plus ``plaintext`` (values written
    before encryption) and ``unknown`` (keys missing from the keyring)."""
    keyring = keyring or current_keyring()
    usage = dict.fromkeys(keyring.keys, 0) | {"plaintext": 0, "unknown": 0}
    for table, _, columns in encrypted_columns():
        for column in columns:
            raw = _raw(column)
            counts = [
                func.count().filter(func.substr(raw, 1, len(prefix)) == prefix)
                for prefix in [PREFIX, *(f"{PREFIX}{k}:" for k in keyring.keys)]
            ]
            live = and_(raw.is_not(None), raw != TOMBSTONE)
            row = session.execute(select(func.count(), *counts).select_from(table).where(live))
            total, encrypted, *per_key = row.one()
            usage["plaintext"] += total - encrypted
            usage["unknown"] += encrypted - sum(per_key)
            for key_id, n in zip(keyring.keys, per_key, strict=True):
                usage[key_id] += n
    return usage


def reencrypt(
    engine: Engine,
    *,
    keyring: Keyring | None = None,
    batch_size: int = 1_000,
    progress: Callable[[str, int], None] | None = None,
) -> int:
    """Re-encrypt every stored value not under the active key (including plaintext
    written before encryption) and recompute its keyed hashes.

    One transaction per batch of rows (locked ``FOR UPDATE`` on PostgreSQL); rows done
    no longer match, so running it again after a crash resumes where it stopped.
    Returns the number of rows rewritten.
    """
    keyring = keyring or current_keyring()
    prefix = keyring.active_prefix
    done = 0
    for table, pk, columns in encrypted_columns():
        hashed = {
            c.name: BLIND_INDEXES[(table.name, c.name)]
            for c in columns
            if (table.name, c.name) in BLIND_INDEXES
        }
        stale = or_(
            *(
                and_(
                    _raw(c).is_not(None),
                    _raw(c) != TOMBSTONE,
                    func.substr(_raw(c), 1, len(prefix)) != prefix,
                )
                for c in columns
            )
        )
        statement = (
            update(table)
            .where(pk == bindparam("b_pk"))
            .values(
                {c.name: type_coerce(bindparam(f"b_{c.name}"), String) for c in columns}
                | {h: bindparam(f"b_{h}") for h in hashed.values()}
            )
        )
        last: Any = None
        while True:
            with transaction(engine) as session:
                query = select(pk, *(_raw(c) for c in columns)).where(stale)
                if last is not None:
                    query = query.where(pk > last)
                query = query.order_by(pk).limit(batch_size)
                if engine.dialect.name == "postgresql":
                    query = query.with_for_update()
                rows = session.execute(query).all()
                if not rows:
                    break
                params = [_rewrite(keyring, table.name, columns, hashed, row) for row in rows]
                session.execute(statement, params)
                last = rows[-1][0]
            done += len(rows)
            if progress is not None:
                progress(table.name, done)
    return done


def _rewrite(
    keyring: Keyring,
    table: str,
    columns: Sequence[Column[Any]],
    hashed: dict[str, str],
    row: Any,
) -> dict[str, Any]:
    params: dict[str, Any] = {"b_pk": row[0]}
    for column, stored in zip(columns, row[1:], strict=True):
        context = f"{table}.{column.name}"
        if stored is None or stored == TOMBSTONE:
            plain, token = None, stored
        else:
            plain = keyring.decrypt(stored, context) if stored.startswith(PREFIX) else stored
            token = keyring.encrypt(plain, context)
        params[f"b_{column.name}"] = token
        if column.name in hashed:
            params[f"b_{hashed[column.name]}"] = keyring.blind_index(plain, column.name)
    return params
