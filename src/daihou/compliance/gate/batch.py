"""The contact gate for a batch of contacts, in a few set-based queries: the one
batched entry point (the outbox worker's sends, the call desk's list of calls).

``check_contact`` costs several queries per contact; a batch asks about hundreds at
once. ``check_batch`` builds the same ``ContactHistory`` that
``daihou.compliance.gate.service.load_history`` builds — the same look-back window,
attempts by debtor or by number, open holds, opt-outs, reachability and the
registered providers — for every request with one query per table (the case dates
through the providers' batched ``case_dates`` when registered, else per subject),
then calls the gate's own pure ``decide`` per request, in order. An allowed request's
attempt joins the in-memory history at once, so a later request in the batch for the
same debtor or number sees it (caps hold within a batch as across batches); before a
request whose rules read reachability from the table (third parties), the batch's
attempts so far are written. Denials and attempts are inserted in bulk, exactly as
``check_contact`` / ``record_attempt`` write them. ``tests/collection/test_gate_batch_cases.py`` and
``tests/notify/test_gate_batch.py`` compare the decisions with ``check_contact``.

Locks: the per-debtor and per-number advisory locks of the gate are taken for the
whole batch in the gate's order (sorted key text), before reading.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    Table,
    and_,
    any_,
    bindparam,
    func,
    insert,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from daihou.compliance.gate.decide import decide
from daihou.compliance.gate.models import ContactAttempt, ContactDenial, Hold, OptOut
from daihou.compliance.gate.packs import EffectiveRules
from daihou.compliance.gate.schema import (
    OUTCOMES,
    ActiveHold,
    ContactHistory,
    ContactRequest,
    Decision,
    Outcome,
    PastAttempt,
)
from daihou.compliance.gate.service import (
    _ATTEMPT_COLUMNS,
    CaseDates,
    Providers,
    _lock_id,
    _reachability,
    current_providers,
    past_attempt,
)
from daihou.db.inserts import insert_ids


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _lock_all(session: Session, requests: Sequence[ContactRequest], providers: Providers) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite: the unit of work holds the write lock
    keys: set[str] = set()
    for r in requests:
        keys.add(f"debtor:{r.customer_id}")
        key = providers.key(r.address)
        if key:
            keys.add(f"address:{key}")
    ids = [_lock_id(k) for k in sorted(keys)]
    for start in range(0, len(ids), 1000):
        session.execute(
            text("SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(:ids AS bigint[])) k"),
            {"ids": ids[start : start + 1000]},
        )


@dataclass(slots=True)
class BatchHistory:
    """The history of a batch's debtors and numbers, read once: attempts since the
    earliest request's look-back window (by id, by debtor and by number), active holds
    and opt-outs. ``attempts`` cuts each request's own window out of it."""

    by_customer: dict[str, list[tuple[int, PastAttempt]]] = field(default_factory=dict)
    by_address: dict[str, list[tuple[int, PastAttempt]]] = field(default_factory=dict)
    holds: dict[str, list[ActiveHold]] = field(default_factory=dict)
    opt_outs: dict[str, set[str]] = field(default_factory=dict)

    def add(self, attempt_id: int, past: PastAttempt) -> None:
        self.by_customer.setdefault(past.customer_id, []).append((attempt_id, past))
        if past.address_key:
            self.by_address.setdefault(past.address_key, []).append((attempt_id, past))

    def attempts(
        self, request: ContactRequest, key: str | None, rules: EffectiveRules
    ) -> tuple[PastAttempt, ...]:
        """The debtor's attempts, and the number's, in the request's look-back window,
        in the order they were recorded — what ``load_history`` reads."""
        since = window_start(request.local_date, request.zone, rules)
        seen: dict[int, PastAttempt] = dict(self.by_customer.get(request.customer_id, []))
        if key:
            seen.update(self.by_address.get(key, []))
        return tuple(p for _, p in sorted(seen.items()) if _naive(p.at) >= since)

    def holds_of(self, customer_id: str) -> tuple[ActiveHold, ...]:
        return tuple(self.holds.get(customer_id, []))

    def opt_outs_of(self, customer_id: str) -> frozenset[str]:
        return frozenset(self.opt_outs.get(customer_id, set()))

    def quiet(self, customer_id: str) -> bool:
        """No attempt, hold or opt-out of the debtor at all."""
        return (
            customer_id not in self.by_customer
            and customer_id not in self.holds
            and customer_id not in self.opt_outs
        )


def window_start(local_day: date, zone: Any, rules: EffectiveRules) -> datetime:
    """Naive UTC start of the look-back window of a request on ``local_day`` in ``zone``."""
    return _window_start(local_day, zone, rules.lookback_days)


@lru_cache(maxsize=4096)
def _window_start(local_day: date, zone: Any, lookback_days: int) -> datetime:
    # asked for every request of every batch, of a handful of distinct days and zones
    first_day = local_day - timedelta(days=lookback_days - 1)
    return _naive(datetime.combine(first_day, time(0), tzinfo=zone))


def _member(dialect: str, name: str) -> Callable[[Any], ColumnElement[bool]]:
    """``column IN <list bound as ONE parameter called name>`` (encoded once for the
    batch's queries): a batch may name the whole book (the daily run's 100k debtors),
    past the bound-parameter limits, and 100k parameters cost more to bind than the
    query costs to run. PostgreSQL: ``= ANY(array)``; SQLite: ``IN (SELECT value FROM
    json_each(list))``, the list given as JSON text. Both use the column's index."""
    if dialect == "postgresql":
        return lambda column: column == any_(bindparam(name, type_=ARRAY(String)))

    def member(column: Any) -> ColumnElement[bool]:
        listed = func.json_each(bindparam(name, type_=String)).table_valued("value")
        return column.in_(select(listed.c.value))  # type: ignore[no-any-return]

    return member


_HISTORY: dict[tuple[str, bool], tuple[Any, Any, Any]] = {}


def _history_statements(dialect: str, by_address: bool) -> tuple[Any, Any, Any]:
    """The three reads of ``load_batch_history`` (attempts, holds, opt-outs), built once
    per dialect and scope: building them and their cache keys per batch cost more than
    running them (a demo day asks the gate some hundreds of times)."""
    found = _HISTORY.get((dialect, by_address))
    if found is None:
        a = ContactAttempt
        of_customers = _member(dialect, "customers")
        scope = of_customers(a.customer_id)
        if by_address:
            scope = or_(scope, _member(dialect, "addresses")(a.address_key))
        found = (
            select(a.id, *_ATTEMPT_COLUMNS).where(and_(a.at_utc >= bindparam("since"), scope)),
            select(Hold.id, Hold.kind, Hold.loan_id, Hold.customer_id).where(
                of_customers(Hold.customer_id), Hold.released_at.is_(None)
            ),
            select(OptOut.customer_id, OptOut.medium).where(
                of_customers(OptOut.customer_id), OptOut.opted_in_at.is_(None)
            ),
        )
        _HISTORY[(dialect, by_address)] = found
    return found


def load_batch_history(
    session: Session, *, customers: Sequence[str], addresses: Sequence[str], since: datetime
) -> BatchHistory:
    """One query per table, scoped in SQL to the batch's debtors and numbers: attempts
    since ``since`` (naive UTC, the earliest request's look-back window: see
    ``window_start``), active holds, open opt-outs. The one way a batch's history is
    loaded."""
    out = BatchHistory()
    customers, addresses = list(dict.fromkeys(customers)), list(dict.fromkeys(addresses))
    if not customers and not addresses:
        return out
    dialect = session.get_bind().dialect.name
    attempts, holds, opt_outs = _history_statements(dialect, bool(addresses))
    lists: dict[str, Any] = {"customers": customers, "addresses": addresses}
    if dialect != "postgresql":
        lists = {name: json.dumps(values) for name, values in lists.items()}
    for row in session.execute(attempts, {**lists, "since": since}):
        out.add(row.id, past_attempt(row))
    for h in session.execute(holds, {"customers": lists["customers"]}):
        out.holds.setdefault(h.customer_id, []).append(ActiveHold(h.kind, h.loan_id, h.id))
    for o in session.execute(opt_outs, {"customers": lists["customers"]}):
        out.opt_outs.setdefault(o.customer_id, set()).add(o.medium)
    return out


def check_batch(
    session: Session,
    requests: Sequence[ContactRequest],
    *,
    rules: EffectiveRules,
    providers: Providers | None = None,
    outcomes: Sequence[Outcome] | None = None,
) -> list[Decision]:
    """Decide each request in order; record denials, and an attempt for each allowed
    one — outcome ``outcomes[i]`` (what the contact came to: a call ``connected`` or
    ``unanswered``), ``sent`` by default. All requests share ``rules``."""
    return check_batch_ids(
        session, requests, rules=rules, providers=providers, outcomes=outcomes, ids=False
    )[0]


def check_batch_ids(
    session: Session,
    requests: Sequence[ContactRequest],
    *,
    rules: EffectiveRules,
    providers: Providers | None = None,
    outcomes: Sequence[Outcome] | None = None,
    ids: bool = True,
) -> tuple[list[Decision], list[int | None]]:
    """``check_batch``, also returning the id of each allowed request's recorded
    attempt (``None`` for a denied one) when ``ids``: what a contact log links to."""
    if not requests:
        return [], []
    if outcomes is not None and len(outcomes) != len(requests):
        raise ValueError(f"outcomes: {len(outcomes)} given for {len(requests)} requests")
    for outcome in outcomes or ():
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; known: {list(OUTCOMES)}")
    providers = providers or current_providers()
    _lock_all(session, requests, providers)
    keys = [providers.key(r.address) for r in requests]
    loaded = load_batch_history(
        session,
        customers=[r.customer_id for r in requests],
        addresses=[k for k in keys if k],
        since=min(window_start(r.local_date, r.zone, rules) for r in requests),
    )
    dates = _case_dates(session, requests, providers)
    decisions: list[Decision] = []
    attempts: list[dict[str, Any]] = []
    denials: list[dict[str, Any]] = []
    attempt_ids: list[int | None] = []
    owners: list[int] = []  # the request index of each attempt in ``attempts``
    fresh = -1  # in-memory ids of attempts recorded by this batch

    def write_attempts() -> None:
        if ids:
            written = insert_ids(session, _table(ContactAttempt), attempts)
            for n, attempt_id in zip(owners, written, strict=True):
                attempt_ids[n] = attempt_id
        else:
            session.execute(insert(_table(ContactAttempt)), attempts)
        attempts.clear()
        owners.clear()

    for n, (request, key) in enumerate(zip(requests, keys, strict=True)):
        attempt_ids.append(None)
        if attempts and _needs_reachability(request, rules):
            # reachability is read from the table: write the batch's attempts so far
            write_attempts()
        history = ContactHistory(
            attempts=loaded.attempts(request, key, rules),
            address_key=key,
            holds=loaded.holds_of(request.customer_id),
            opt_outs=loaded.opt_outs_of(request.customer_id),
            **_extras(session, request, rules, providers, dates),
        )
        decision = decide(request, history, rules)
        decisions.append(decision)
        at_utc = _naive(request.at)
        tz = request.tz or request.at.tzname() or "UTC"
        common = {
            "customer_id": request.customer_id,
            "loan_id": request.loan_id,
            "case_id": request.case_id,
            "channel": request.channel,
            "party": request.party,
            "organisation": request.organisation,
            "address_key": key,
            "purpose": request.purpose,
            "at_utc": at_utc,
            "tz": tz,
        }
        if not decision.allowed:
            denials.append(
                {
                    **common,
                    "rule": decision.rule,
                    "message_zh": decision.message_zh[:512],
                    "message_en": decision.message_en[:512],
                    "next_allowed_utc": (
                        _naive(decision.next_allowed_at) if decision.next_allowed_at else None
                    ),
                    "packs": ",".join(decision.packs)[:256],
                }
            )
            continue
        outcome = outcomes[n] if outcomes is not None else "sent"
        attempts.append(
            {**common, "medium": request.medium, "direction": "outbound", "outcome": outcome}
        )
        owners.append(n)
        past = PastAttempt(
            at=at_utc.replace(tzinfo=UTC),
            channel=request.channel,
            party=request.party,
            outcome=outcome,
            customer_id=request.customer_id,
            loan_id=request.loan_id,
            organisation=request.organisation,
            address_key=key,
        )
        loaded.add(fresh, past)
        fresh -= 1
    if attempts:
        write_attempts()
    if denials:
        session.execute(insert(_table(ContactDenial)), denials)
    return decisions, attempt_ids


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


def _needs_reachability(request: ContactRequest, rules: EffectiveRules) -> bool:
    return needs_reachability(request.party, rules)


def needs_reachability(party: str, rules: EffectiveRules) -> bool:
    """The rules read the borrower's reachability from the table for this party."""
    third = rules.third_party.get(party)  # type: ignore[call-overload]
    return third is not None and third.lost_contact_rule is not None


def _case_dates(
    session: Session, requests: Sequence[ContactRequest], providers: Providers
) -> dict[tuple[str, str | None, date], CaseDates]:
    """The case dates of every (debtor, loan, local date) of the batch, one provider
    call per local date; empty when no batched provider is registered."""
    if providers.case_dates is None:
        return {}
    by_day: dict[date, set[tuple[str, str | None]]] = {}
    for r in requests:
        by_day.setdefault(r.local_date, set()).add((r.customer_id, r.loan_id))
    out: dict[tuple[str, str | None, date], CaseDates] = {}
    for on, subjects in by_day.items():
        found = providers.case_dates(session, subjects=sorted(subjects, key=str), on=on)
        for (customer_id, loan_id), pair in found.items():
            out[(customer_id, loan_id, on)] = pair
    return out


def _extras(
    session: Session,
    request: ContactRequest,
    rules: EffectiveRules,
    providers: Providers,
    dates: dict[tuple[str, str | None, date], CaseDates],
) -> dict[str, Any]:
    """Reachability and the collections providers, as ``load_history`` asks them."""
    extras: dict[str, Any] = {}
    if _needs_reachability(request, rules):
        since, invalid = _reachability(session, request.customer_id)
        extras["unreachable_since"], extras["borrower_number_invalid"] = since, invalid
    on = request.local_date
    if providers.case_dates is not None:
        promise, lost = dates.get((request.customer_id, request.loan_id, on), (None, None))
        extras["open_promise_until"], extras["lost_contact_since"] = promise, lost
        return extras
    if providers.open_promise_until is not None:
        extras["open_promise_until"] = providers.open_promise_until(
            session, customer_id=request.customer_id, loan_id=request.loan_id, on=on
        )
    if providers.lost_contact_since is not None:
        extras["lost_contact_since"] = providers.lost_contact_since(
            session, customer_id=request.customer_id, loan_id=request.loan_id, on=on
        )
    return extras
