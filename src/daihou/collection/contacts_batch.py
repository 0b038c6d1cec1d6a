"""A collector's worked list logged in one go: ``log_contacts`` writes what
``log_contact`` writes for each outbound contact, in order, with set-based reads.

Per contact ``log_contact`` costs a locked case read, a phone read, the gate's history
(several queries), an attempt insert, a log insert, an audit record and two flushes.
``log_contacts`` reads the cases (locked, in id order) and the phones once, asks the
contact gate about the contacts as a batch (``check_batch_ids``: the same decisions as
one by one, in list order, each allowed contact's attempt counted by the later ones),
writes the logs with one flush and appends the audit records with ``record_many`` —
the same records, chained the same way, as ``log_contact`` one by one.

What one contact changes (a promise, a hold, a right-party contact that ends lost
contact) can change the gate's answer to a later contact of the same debtor, so after
such a contact the debtor's next contact starts a new run, asked of the gate after the
earlier run's contacts are written; within a run the batch counts its own attempts.
A contact the gate refuses is not logged; its denial is recorded (as ``check_contact``
records it) and returned.

Scope: outbound conversations and messages of a case without a note (a note goes
through ``log_contact``, which reviews it); the lock order is the service's (case
rows, then the audit lock, then the gate's per-debtor locks).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from daihou.auth.actor import Actor
from daihou.auth.permissions import AuthorizationBasis, authorize
from daihou.collection import codes
from daihou.collection.casework import (
    basis_of,
    case_scope,
    local_time,
    naive_utc,
    settings_of,
)
from daihou.collection.contact_models import ContactLog
from daihou.collection.contacts import (
    LoggedContact,
    _validate,
    apply_outcome,
    audit_after,
    case_state,
    check_promise_args,
    gate_request,
)
from daihou.collection.gate_providers import case_providers
from daihou.collection.models import CollectionCase
from daihou.collection.promises import promise_facts
from daihou.compliance.audit.service import Entry, hold_append_lock, record_many
from daihou.compliance.gate.batch import check_batch_ids
from daihou.compliance.gate.packs import EffectiveRules, load_rules
from daihou.compliance.gate.schema import ContactRequest, Decision
from daihou.db.inserts import give_ids
from daihou.loans.models import Customer
from daihou.policy.schema import PolicyPack


@dataclass(frozen=True, slots=True)
class Contact:
    """One outbound contact of a worked list (``log_contact``'s arguments)."""

    case_id: int
    channel: str
    outcome: str
    at: datetime
    party: str = "borrower"
    duration_seconds: int | None = None
    task_id: int | None = None
    purpose: str | None = None
    promise_amount: Any = None
    promise_date: date | None = None


@dataclass(frozen=True, slots=True)
class Logged:
    """What became of one contact: the gate's decision and, when allowed, the log."""

    decision: Decision
    logged: LoggedContact | None  # None: refused by the gate (the denial is recorded)


@dataclass(slots=True)
class _Item:
    contact: Contact
    case: CollectionCase
    basis: AuthorizationBasis
    request: ContactRequest
    code: codes.OutcomeCode


def _check(contact: Contact) -> codes.OutcomeCode:
    if contact.channel == "in-branch":
        raise ValueError("an in-branch contact is inbound: log it with log_contact")
    code = _validate(
        contact.channel, contact.outcome, contact.party, "outbound", contact.duration_seconds
    )
    check_promise_args(contact.outcome, contact.promise_amount, contact.promise_date)
    return code


def log_contacts(
    session: Session,
    *,
    actor: Actor,
    contacts: Sequence[Contact],
    pack: PolicyPack | None = None,
    rules: EffectiveRules | None = None,
    tz: str | None = None,
) -> list[Logged]:
    """Log ``contacts`` in order, as ``log_contact`` would one by one (see the module
    docstring); ``rules``: the gate's packs (default: the configured ones in force on
    each contact's local date). Bad input or a case that is not open or not the
    actor's raises before anything is written."""
    codes_ = [_check(c) for c in contacts]
    if not contacts:
        return []
    settings = settings_of(pack)
    zone = tz or settings.borrower_tz
    wanted = sorted({c.case_id for c in contacts})
    cases = {
        case.id: case
        for case in session.scalars(
            select(CollectionCase)
            .where(CollectionCase.id.in_(wanted))
            .order_by(CollectionCase.id)
            .with_for_update()
        )
    }
    bases: dict[int, AuthorizationBasis] = {}
    for case_id in wanted:
        case = cases.get(case_id)
        if case is None:
            raise LookupError(f"no collection case {case_id}")
        bases[case_id] = authorize(actor, "contact.log", resource=case_scope(case))
        if case.status != "open":
            raise ValueError(f"case {case_id} is {case.status}; contact work needs an open case")
    for c in contacts:
        if c.outcome == "promise":
            authorize(actor, "promise.record", resource=case_scope(cases[c.case_id]))
    phoned = {
        cases[c.case_id].customer_id
        for c in contacts
        if c.channel in codes.PHONE_CHANNELS and c.party == "borrower"
    }
    phones = {
        customer_id: phone
        for customer_id, phone in session.execute(
            select(Customer.id, Customer.phone).where(Customer.id.in_(sorted(phoned)))
        )
    }
    items: list[_Item] = []
    for c, code in zip(contacts, codes_, strict=True):
        case = cases[c.case_id]
        address = (
            phones.get(case.customer_id)
            if c.channel in codes.PHONE_CHANNELS and c.party == "borrower"
            else None
        )
        purpose = c.purpose or ("leave-message" if c.party == "third-party" else "collection")
        request = gate_request(
            case, actor, channel=c.channel, party=c.party, at=local_time(c.at, zone), tz=zone,
            address=address, purpose=purpose,
        )  # fmt: skip
        items.append(_Item(c, case, bases[c.case_id], request, code))
    hold_append_lock(session)  # audit lock before the gate's debtor locks
    out: list[Logged] = []
    for run in _runs(items, settings.hold_on_outcome):
        out += _log_run(session, actor, run, pack=pack, rules=rules)
    return out


def _changes_gate(item: _Item, holds: dict[str, str]) -> bool:
    """Whether the contact, if made, changes what the gate reads about its debtor
    besides the attempt itself (which the batch counts): a promise, a hold, or a
    right-party contact that ends lost contact."""
    c = item.contact
    ends_lost = (
        c.party == "borrower" and item.code.borrower_engaged and item.case.contact_status == "lost"
    )
    return c.outcome == "promise" or c.outcome in holds or ends_lost


def _runs(items: list[_Item], holds: dict[str, str]) -> list[list[_Item]]:
    """Consecutive runs on one local date in which no contact follows a contact of
    the same debtor that changes the gate's answer (``_changes_gate``)."""
    runs: list[list[_Item]] = []
    changed: set[str] = set()  # debtors whose gate answer a contact of the run changes
    for item in items:
        r = item.request
        if not runs or r.customer_id in changed or r.local_date != runs[-1][0].request.local_date:
            runs.append([])
            changed = set()
        runs[-1].append(item)
        if _changes_gate(item, holds):
            changed.add(r.customer_id)
    return runs


def _log_run(
    session: Session,
    actor: Actor,
    run: list[_Item],
    *,
    pack: PolicyPack | None,
    rules: EffectiveRules | None,
) -> list[Logged]:
    settings = settings_of(pack)
    decisions, attempt_ids = check_batch_ids(
        session,
        [i.request for i in run],
        rules=rules or load_rules(on=run[0].request.local_date),
        providers=case_providers(),
        outcomes=[i.code.gate for i in run],
    )
    allowed = [
        (item, decision, attempt_id)
        for item, decision, attempt_id in zip(run, decisions, attempt_ids, strict=True)
        if decision.allowed
    ]
    logs: list[ContactLog] = []
    for item, _decision, attempt_id in allowed:
        c, case, moment = item.contact, item.case, item.request.at
        logs.append(
            ContactLog(
                case_id=case.id,
                customer_id=case.customer_id,
                loan_id=case.loan_id,
                channel=c.channel,
                direction="outbound",
                party=c.party,
                outcome=c.outcome,
                rpc=c.party == "borrower" and item.code.borrower_engaged,
                phone=item.request.address if c.channel in codes.PHONE_CHANNELS else None,
                duration_seconds=c.duration_seconds,
                note=None,
                note_flagged=False,
                attitude=None,
                next_action=None,
                next_action_on=None,
                task_id=c.task_id,
                collector=actor.user_id,
                organisation=(actor.agency_id if actor.has("agency-user") else None) or "lender",
                at_utc=naive_utc(moment),
                contact_date=moment.date(),
                attempt_id=attempt_id,
                basis=item.basis.as_dict(),
            )
        )
    give_ids(session, logs)  # one executemany on SQLite
    session.add_all(logs)
    session.flush()
    # what the run's promises are checked against (overdue totals, open promises), read
    # once; they are flushed with the run's case changes below
    promised = [
        (i.case, i.request.at.date()) for i, _, _ in allowed if i.contact.outcome == "promise"
    ]
    facts = promise_facts(session, promised) if promised else None
    done: list[tuple[_Item, Decision, ContactLog, Any, Any, dict[str, Any], dict[str, Any]]] = []
    for (item, decision, _), log in zip(allowed, logs, strict=True):
        c, case = item.contact, item.case
        before = case_state(case)
        promise, hold = apply_outcome(
            session, actor, case, log, settings,
            promise_amount=c.promise_amount, promise_date=c.promise_date, facts=facts,
        )  # fmt: skip
        # the case as this contact left it (a later contact of the case may change it)
        done.append((item, decision, log, promise, hold, before, case_state(case)))
    give_ids(session, [p for _, _, _, p, _, _, _ in done if p is not None and p.id is None])
    session.flush()
    entries: list[tuple[dict[str, Any], Entry]] = []
    results: dict[int, Logged] = {}
    for item, decision, log, promise, hold, before, case_after in done:
        extra = {
            "gate": decision.packs,
            "hold_rule": f"contacts.hold_on_outcome.{log.outcome}" if hold is not None else None,
        }
        after = audit_after(log, case_after, promise, hold)
        entries.append(
            (
                basis_of(item.basis, **extra),
                Entry("contact.log", "contact_log", str(log.id), before=before, after=after),
            )
        )
        results[id(item)] = Logged(decision, LoggedContact(log, promise, hold, decision))
    _audit(session, actor, entries)
    return [
        results.get(id(item)) or Logged(decision, None)
        for item, decision in zip(run, decisions, strict=True)
    ]


def _audit(session: Session, actor: Actor, entries: list[tuple[dict[str, Any], Entry]]) -> None:
    """``record_many`` per stretch of records with the same basis: the chain is the one
    ``record`` per contact would write."""
    start = 0
    while start < len(entries):
        basis = entries[start][0]
        end = start + 1
        while end < len(entries) and entries[end][0] == basis:
            end += 1
        record_many(session, [e for _, e in entries[start:end]], actor=actor, basis=basis)
        start = end
