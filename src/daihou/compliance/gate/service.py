"""The contact gate against the database: build the history, decide, record.

Every SMS, e-mail, letter, call, visit and agency action calls ``check_contact`` before
it happens and ``record_attempt`` after it happened, **in one transaction**::

    with transaction(engine) as session:
        decision = check_contact(session, request)
        if decision.allowed:
            outcome = dial(...)                # or send, or visit
            record_attempt(session, request=request, outcome=outcome)

``check_contact`` first takes a lock per debtor (and per number): on PostgreSQL a
transaction-scoped advisory lock, on SQLite the database write lock that every unit of
work takes up front (``BEGIN IMMEDIATE``, ``daihou.db.engine``). Checks for the same
debtor therefore run one after the other, and a check sees every attempt recorded
before it, so caps hold under concurrency. PostgreSQL must run at READ COMMITTED (the
default) for this. A denied request is recorded in the same transaction.

Promises to pay and lost contact (失联) belong to the collections case; the gate asks
for them through ``Providers`` (register once at start-up, or pass per call), so the
collections code plugs in without changing the gate.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

from sqlalchemy import and_, bindparam, func, or_, select, text
from sqlalchemy.orm import Session

from daihou.compliance.gate.decide import decide
from daihou.compliance.gate.models import ContactAttempt, ContactDenial, Hold, OptOut
from daihou.compliance.gate.packs import EffectiveRules, load_rules
from daihou.compliance.gate.schema import (
    NOT_CONNECTED,
    OUTCOMES,
    ActiveHold,
    ContactHistory,
    ContactRequest,
    Decision,
    Direction,
    Outcome,
    PastAttempt,
    address_key,
)


class CaseDateProvider(Protocol):
    """Answers a date about the debtor's collection case, or None."""

    def __call__(
        self, session: Session, *, customer_id: str, loan_id: str | None, on: date
    ) -> date | None: ...


CaseDates = tuple[date | None, date | None]  # (open promise until, lost contact since)


class CaseDatesProvider(Protocol):
    """Both case dates for many (debtor, loan) subjects at once: one query for a batch.
    A subject left out of the answer has neither date."""

    def __call__(
        self, session: Session, *, subjects: Sequence[tuple[str, str | None]], on: date
    ) -> dict[tuple[str, str | None], CaseDates]: ...


def _plain_key(address: str) -> str:
    return address_key(address)


@dataclass(frozen=True)
class Providers:
    """What the gate asks outside itself.

    ``open_promise_until``: the date of the debtor's open promise to pay (承诺还款) for
    the loan (or any loan when ``loan_id`` is None), else None.
    ``lost_contact_since``: the date the case was marked lost contact (失联), else None.
    ``case_dates``: both of those dates for many subjects in one call; when set, the
    gate asks it instead of the two above (a batch asks it once, not per subject).
    ``address_key``: how a number or address is stored and compared — the normalised
    address by default; the personal-data module may register a keyed hash (HMAC) so no
    number is stored in clear. Changing it splits the history of every number.
    """

    open_promise_until: CaseDateProvider | None = None
    lost_contact_since: CaseDateProvider | None = None
    case_dates: CaseDatesProvider | None = None
    address_key: Callable[[str], str] = field(default=_plain_key)

    def key(self, address: str | None) -> str | None:
        return self.address_key(address) if address else None


_registered = Providers()


def register_providers(providers: Providers) -> Providers:
    """Use ``providers`` from now on; returns the previous ones (to restore in tests)."""
    global _registered
    previous, _registered = _registered, providers
    return previous


def current_providers() -> Providers:
    return _registered


# --- locking -------------------------------------------------------------------------


def _lock_id(key: str) -> int:
    digest = hashlib.blake2b(f"daihou-gate:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


_LOCK = text("SELECT pg_advisory_xact_lock(:id)")


def lock_contacts(session: Session, *, customer_id: str, address_key: str | None = None) -> None:
    """Serialise gate checks and records for a debtor (and a number) until commit.

    PostgreSQL: ``pg_advisory_xact_lock`` on a stable 64-bit hash of each key, taken in
    sorted order. SQLite: the unit of work already holds the write lock.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    keys = {f"debtor:{customer_id}"}
    if address_key:
        keys.add(f"address:{address_key}")
    for key in sorted(keys):
        session.execute(_LOCK, {"id": _lock_id(key)})


# --- the use cases -------------------------------------------------------------------


def check_contact(
    session: Session,
    request: ContactRequest,
    *,
    rules: EffectiveRules | None = None,
    record_denial: bool = True,
    providers: Providers | None = None,
) -> Decision:
    """Ask the gate about a contact; a denial is recorded with its rule.

    ``rules`` defaults to the configured packs (``DAIHOU_COMPLIANCE_PACKS``) in force
    on the borrower's local date. Record the attempt in the same transaction.
    """
    providers = providers or _registered
    key = providers.key(request.address)
    lock_contacts(session, customer_id=request.customer_id, address_key=key)
    if rules is None:
        rules = load_rules(on=request.local_date)
    history = load_history(session, request, rules=rules, providers=providers)
    decision = decide(request, history, rules)
    if not decision.allowed and record_denial:
        assert decision.rule is not None
        session.add(
            ContactDenial(
                customer_id=request.customer_id,
                loan_id=request.loan_id,
                case_id=request.case_id,
                channel=request.channel,
                party=request.party,
                organisation=request.organisation,
                address_key=key,
                purpose=request.purpose,
                at_utc=_naive_utc(request.at),
                tz=_tz_name(request),
                rule=decision.rule,
                message_zh=decision.message_zh[:512],
                message_en=decision.message_en[:512],
                next_allowed_utc=(
                    _naive_utc(decision.next_allowed_at) if decision.next_allowed_at else None
                ),
                packs=",".join(decision.packs)[:256],
            )
        )
        session.flush()
    return decision


def record_attempt(
    session: Session,
    *,
    request: ContactRequest,
    outcome: Outcome,
    at: datetime | None = None,
    direction: Direction = "outbound",
    providers: Providers | None = None,
) -> ContactAttempt:
    """Record a contact that happened (``at`` defaults to the request's time).

    ``outcome``: connected, unanswered, busy, invalid-number (calls, visits), sent,
    delivered, failed (messages). An ``inbound`` call from the borrower counts as a
    conversation, never against attempt caps.
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}; known: {list(OUTCOMES)}")
    if direction not in ("outbound", "inbound"):
        raise ValueError(f"direction must be outbound or inbound, not {direction!r}")
    moment = request.at if at is None else at
    if moment.tzinfo is None:
        raise ValueError("the time of an attempt must be timezone-aware")
    key = (providers or _registered).key(request.address)
    lock_contacts(session, customer_id=request.customer_id, address_key=key)
    row = ContactAttempt(
        customer_id=request.customer_id,
        loan_id=request.loan_id,
        case_id=request.case_id,
        channel=request.channel,
        medium=request.medium,
        party=request.party,
        organisation=request.organisation,
        address_key=key,
        direction=direction,
        outcome=outcome,
        purpose=request.purpose,
        at_utc=_naive_utc(moment),
        tz=_tz_name(request),
    )
    session.add(row)
    session.flush()
    return row


# The history's statements, built once (a statement built per call costs more to build
# and to key for the compiled cache than to run).
_a = ContactAttempt
_ATTEMPT_COLUMNS = (
    _a.at_utc,
    _a.channel,
    _a.party,
    _a.outcome,
    _a.customer_id,
    _a.loan_id,
    _a.organisation,
    _a.address_key,
    _a.direction,
)
_BY_DEBTOR = and_(_a.customer_id == bindparam("customer_id"), _a.at_utc >= bindparam("since"))
_ATTEMPTS = select(*_ATTEMPT_COLUMNS).where(_BY_DEBTOR)
_ATTEMPTS_OR_NUMBER = select(*_ATTEMPT_COLUMNS).where(
    or_(_BY_DEBTOR, and_(_a.address_key == bindparam("key"), _a.at_utc >= bindparam("since")))
)
_HOLDS = select(Hold.id, Hold.kind, Hold.loan_id).where(
    Hold.customer_id == bindparam("customer_id"), Hold.released_at.is_(None)
)
_OPT_OUTS = select(OptOut.medium).where(
    OptOut.customer_id == bindparam("customer_id"), OptOut.opted_in_at.is_(None)
)


def past_attempt(row: Any) -> PastAttempt:
    """A row of ``contact_attempts`` (the columns of ``_ATTEMPT_COLUMNS``) as the rules
    read it."""
    return PastAttempt(
        at=row.at_utc.replace(tzinfo=UTC),
        channel=row.channel,
        party=row.party,
        outcome=row.outcome,
        customer_id=row.customer_id,
        loan_id=row.loan_id,
        organisation=row.organisation,
        address_key=row.address_key,
        direction=row.direction,
    )


def load_history(
    session: Session,
    request: ContactRequest,
    *,
    rules: EffectiveRules,
    providers: Providers | None = None,
) -> ContactHistory:
    """The debtor's history as the rules need it, in a few indexed, set-based queries."""
    providers = providers or _registered
    customer_id, key = request.customer_id, providers.key(request.address)
    first_day = request.local_date - timedelta(days=rules.lookback_days - 1)
    since = _naive_utc(datetime.combine(first_day, time(0), tzinfo=request.zone))
    params = {"customer_id": customer_id, "since": since, "key": key}
    rows = session.execute(_ATTEMPTS if key is None else _ATTEMPTS_OR_NUMBER, params).all()
    attempts = tuple(past_attempt(r) for r in rows)
    holds = tuple(
        ActiveHold(kind=r.kind, loan_id=r.loan_id, hold_id=r.id)
        for r in session.execute(_HOLDS, params)
    )
    opt_outs = frozenset(session.scalars(_OPT_OUTS, params))
    unreachable_since: datetime | None = None
    number_invalid = False
    third = rules.third_party.get(request.party)
    if third is not None and third.lost_contact_rule is not None:
        unreachable_since, number_invalid = _reachability(session, customer_id)
    on = request.local_date
    promise = lost = None
    if providers.case_dates is not None:
        subject = (customer_id, request.loan_id)
        found = providers.case_dates(session, subjects=[subject], on=on)
        promise, lost = found.get(subject, (None, None))
    elif providers.open_promise_until is not None:
        promise = providers.open_promise_until(
            session, customer_id=customer_id, loan_id=request.loan_id, on=on
        )
    if providers.case_dates is None and providers.lost_contact_since is not None:
        lost = providers.lost_contact_since(
            session, customer_id=customer_id, loan_id=request.loan_id, on=on
        )
    return ContactHistory(
        attempts=attempts,
        address_key=key,
        holds=holds,
        opt_outs=opt_outs,
        open_promise_until=promise,
        lost_contact_since=lost,
        unreachable_since=unreachable_since,
        borrower_number_invalid=number_invalid,
    )


_BORROWER = and_(_a.customer_id == bindparam("customer_id"), _a.party == "borrower")
_REACHED = select(func.max(_a.at_utc)).where(_BORROWER, _a.outcome == "connected")
_FAILED = select(func.min(_a.at_utc)).where(
    _BORROWER, _a.direction == "outbound", _a.outcome.in_(sorted(NOT_CONNECTED))
)
_FAILED_SINCE = _FAILED.where(_a.at_utc > bindparam("reached"))
_LATEST_CALL = (
    select(_a.outcome)
    .where(_BORROWER, _a.medium == "call", _a.direction == "outbound")
    .order_by(_a.at_utc.desc(), _a.id.desc())
    .limit(1)
)


def _reachability(session: Session, customer_id: str) -> tuple[datetime | None, bool]:
    """(first failed attempt to reach the borrower since last reached, latest call to
    the borrower found the number invalid)."""
    params = {"customer_id": customer_id}
    reached = session.scalar(_REACHED, params)
    if reached is None:
        since = session.scalar(_FAILED, params)
    else:
        since = session.scalar(_FAILED_SINCE, {**params, "reached": reached})
    latest_call = session.scalar(_LATEST_CALL, params)
    return (since.replace(tzinfo=UTC) if since else None), latest_call == "invalid-number"


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _tz_name(request: ContactRequest) -> str:
    return request.tz or request.at.tzname() or "UTC"
