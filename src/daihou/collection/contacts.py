"""The contact log (催记): every call, message, visit or branch conversation of a case,
with its outcome and what it changes on the case.

``log_contact`` in order: validate everything; lock the case and authorise
``contact.log`` on its scope; refuse a note whose prohibited-language hit is at least
the pack's ``refuse_note_severity`` (milder hits are accepted and flagged to the
supervisor queue); take the audit lock, then ask the contact gate about an outbound
contact (``ContactDenied`` when it refuses: the gate has recorded the denial, so a
caller that commits keeps it) and record the attempt so caps and windows count it;
write the log and apply the outcome's side effects; audit with the basis.

Side effects of the outcome: a right-party contact (``rpc`` — the borrower took part)
sets ``last_rpc_on`` and clears lost contact; ``refused`` sets ``refused``;
``promise`` records a promise (amount and date required); outcomes in the pack's
``hold_on_outcome`` place a hold (停催) — on the loan, or on the customer for
``deceased`` and ``bankruptcy``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from daihou.auth.actor import Actor
from daihou.auth.permissions import authorize
from daihou.collection import codes
from daihou.collection.casework import (
    AuthorisedCase,
    audit,
    authorise_case,
    basis_of,
    case_scope,
    checked_note,
    local_time,
    naive_utc,
    open_case,
    set_reachable,
    settings_of,
)
from daihou.collection.contact_models import ContactLog, PromiseToPay
from daihou.collection.contact_settings import ContactSettings
from daihou.collection.gate_providers import case_providers
from daihou.collection.models import CollectionCase
from daihou.collection.promises import PromiseFacts, create_promise, promise_snapshot
from daihou.compliance.audit.service import hold_append_lock
from daihou.compliance.gate.holds import active_holds, place_hold
from daihou.compliance.gate.models import ContactAttempt, Hold
from daihou.compliance.gate.packs import EffectiveRules
from daihou.compliance.gate.schema import ContactRequest, Decision
from daihou.compliance.gate.schema import Outcome as GateOutcome
from daihou.compliance.gate.service import check_contact, record_attempt
from daihou.compliance.language.check import CheckResult, check_text
from daihou.compliance.language.lexicon import Severity
from daihou.compliance.language.matcher import Lexicon
from daihou.compliance.language.service import review_note
from daihou.loans.models import Customer
from daihou.policy.schema import PolicyPack

CUSTOMER_WIDE_HOLDS = frozenset({"deceased", "bankruptcy"})
_PHONE = select(Customer.phone).where(Customer.id == bindparam("customer_id"))  # built once


class ContactDenied(PermissionError):
    """The contact gate refused the contact; ``decision`` has the rule and next time."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(
            f"the contact gate refuses this contact: {decision.rule}: {decision.message}"
        )
        self.decision = decision


class NoteRefused(ValueError):
    """The note uses prohibited language at or above the refusal severity."""

    def __init__(self, message: str, result: CheckResult) -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True, slots=True)
class LoggedContact:
    log: ContactLog
    promise: PromiseToPay | None
    hold: Hold | None
    decision: Decision | None  # None: inbound, not asked of the gate


def note_check(
    note: str | None, settings: ContactSettings, lexicon: Lexicon | None
) -> CheckResult | None:
    """The language check of a note; raises ``NoteRefused`` when too severe."""
    if note is None:
        return None
    result = check_text(note, lexicon=lexicon)
    worst = result.max_severity
    limit = settings.refuse_note_severity
    if worst is not None and limit != "never" and worst.rank >= Severity(limit).rank:
        raise NoteRefused(
            f"the note is refused: it uses prohibited language ({result.describe()}); "
            "rewrite it without threats, insults or disclosures",
            result,
        )
    return result


def gate_request(
    case: CollectionCase,
    actor: Actor,
    *,
    channel: str,
    party: str,
    at: datetime,
    tz: str,
    address: str | None,
    purpose: str,
) -> ContactRequest:
    agency = actor.agency_id if actor.has("agency-user") else None
    gate_channel = codes.AGENCY_GATE_CHANNEL.get(channel) if agency else None
    return ContactRequest(
        customer_id=case.customer_id,
        channel=gate_channel or codes.GATE_CHANNEL[channel],
        party=party,  # type: ignore[arg-type]  # checked against codes.PARTIES
        at=at,
        tz=tz,
        loan_id=case.loan_id,
        case_id=str(case.id),
        address=address,
        purpose=purpose,
        organisation=agency or "lender",
    )


def ask_gate(
    session: Session,
    request: ContactRequest,
    *,
    outcome: GateOutcome,
    direction: str,
    rules: EffectiveRules | None,
) -> tuple[Decision | None, ContactAttempt]:
    """Check (outbound only) and record the attempt; the audit lock must be held."""
    providers = case_providers()
    decision = None
    if direction == "outbound":
        decision = check_contact(session, request, rules=rules, providers=providers)
        if not decision.allowed:
            raise ContactDenied(decision)
    attempt = record_attempt(
        session,
        request=request,
        outcome=outcome,
        direction="inbound" if direction == "inbound" else "outbound",
        providers=providers,
    )
    return decision, attempt


def hold_for(
    session: Session,
    case: CollectionCase,
    actor: Actor,
    *,
    outcome: str,
    settings: ContactSettings,
    why: str,
) -> Hold | None:
    """The hold the pack maps ``outcome`` to, unless one of that kind is active."""
    kind = settings.hold_on_outcome.get(outcome)
    if kind is None:
        return None
    loan_id = None if kind in CUSTOMER_WIDE_HOLDS else case.loan_id
    for hold in active_holds(session, case.customer_id):
        if hold.kind == kind and hold.loan_id in (None, loan_id):
            return None
    return place_hold(
        session, customer_id=case.customer_id, loan_id=loan_id, kind=kind, reason=why, actor=actor
    )


def _validate(
    channel: str, outcome: str, party: str, direction: str, duration: int | None
) -> codes.OutcomeCode:
    codes.choose(channel, codes.CHANNELS, "channel")
    codes.choose(party, codes.PARTIES, "party")
    code = codes.outcome(outcome)
    if direction not in ("outbound", "inbound"):
        raise ValueError(f"direction must be outbound or inbound, not {direction!r}")
    if channel == "in-branch" and direction != "inbound":
        raise ValueError("an in-branch contact is the borrower coming in: direction inbound")
    message = channel in codes.MESSAGE_CHANNELS
    if message != (outcome in codes.MESSAGE_OUTCOMES):
        allowed = sorted(codes.MESSAGE_OUTCOMES) if message else "conversation outcomes"
        raise ValueError(f"outcome {outcome!r} does not fit channel {channel!r}; use {allowed}")
    if duration is not None and duration < 0:
        raise ValueError(f"duration must be zero or more seconds, not {duration}")
    return code


def log_contact(
    session: Session,
    *,
    actor: Actor,
    case_id: int,
    channel: str,
    outcome: str,
    at: datetime,
    party: str = "borrower",
    direction: str = "outbound",
    address: str | None = None,
    duration_seconds: int | None = None,
    note: str | None = None,
    attitude: str | None = None,
    next_action: str | None = None,
    next_action_on: date | None = None,
    task_id: int | None = None,
    purpose: str | None = None,
    tz: str | None = None,
    promise_amount: Any = None,
    promise_date: date | None = None,
    pack: PolicyPack | None = None,
    rules: EffectiveRules | None = None,
    lexicon: Lexicon | None = None,
) -> LoggedContact:
    """Log one contact of case ``case_id`` (see the module docstring for the steps).

    ``at``: when it happened (aware, or naive in ``tz``, default the pack's borrower
    time zone). ``address``: the number, e-mail or address used; calls, SMS and WeChat
    to the borrower default to the number on file. ``rules``: compliance packs for the
    gate (default: the configured ones).
    """
    code = _validate(channel, outcome, party, direction, duration_seconds)
    if attitude is not None:
        codes.choose(attitude, codes.ATTITUDES, "attitude")
    if next_action is not None:
        codes.choose(next_action, codes.NEXT_ACTIONS, "next action")
    wants_promise = check_promise_args(outcome, promise_amount, promise_date)
    text = checked_note(note)
    settings = settings_of(pack)
    zone = tz or settings.borrower_tz
    moment = local_time(at, zone)
    case, basis = open_case(session, actor, case_id, "contact.log")
    if wants_promise:
        authorize(actor, "promise.record", resource=case_scope(case))
    checked = note_check(text, settings, lexicon)
    if address is None and channel in codes.PHONE_CHANNELS and party == "borrower":
        address = session.scalar(_PHONE, {"customer_id": case.customer_id})
    hold_append_lock(session)  # audit lock before the gate's debtor lock
    decision, attempt = None, None
    if channel != "in-branch":
        request = gate_request(
            case,
            actor,
            channel=channel,
            party=party,
            at=moment,
            tz=zone,
            address=address,
            purpose=purpose or ("leave-message" if party == "third-party" else "collection"),
        )
        decision, attempt = ask_gate(
            session, request, outcome=code.gate, direction=direction, rules=rules
        )
    rpc = party == "borrower" and code.borrower_engaged
    log = ContactLog(
        case_id=case.id,
        customer_id=case.customer_id,
        loan_id=case.loan_id,
        channel=channel,
        direction=direction,
        party=party,
        outcome=outcome,
        rpc=rpc,
        phone=address if channel in codes.PHONE_CHANNELS else None,
        duration_seconds=duration_seconds,
        note=text,
        note_flagged=checked is not None and not checked.passed,
        attitude=attitude,
        next_action=next_action,
        next_action_on=next_action_on,
        task_id=task_id,
        collector=actor.user_id,
        organisation=(actor.agency_id if actor.has("agency-user") else None) or "lender",
        at_utc=naive_utc(moment),
        contact_date=moment.date(),
        attempt_id=attempt.id if attempt is not None else None,
        basis=basis.as_dict(),
    )
    session.add(log)
    session.flush()
    if text is not None:
        review_note(
            session,
            text=text,
            author_id=actor.user_id,
            agency_id=actor.agency_id,
            object_type="contact_log",
            object_id=str(log.id),
            at=moment,
            lexicon=lexicon,
        )
    before = case_state(case)
    promise, hold = apply_outcome(
        session,
        actor,
        case,
        log,
        settings,
        promise_amount=promise_amount,
        promise_date=promise_date,
    )
    session.flush()
    extra = {
        "gate": decision.packs if decision is not None else None,
        "hold_rule": f"contacts.hold_on_outcome.{outcome}" if hold is not None else None,
        "note_flagged": log.note_flagged or None,
    }
    audit(
        session,
        actor,
        "contact.log",
        "contact_log",
        log.id,
        before=before,
        after=audit_after(log, case_state(case), promise, hold),
        basis=basis_of(basis, **extra),
    )
    return LoggedContact(log=log, promise=promise, hold=hold, decision=decision)


def apply_outcome(
    session: Session,
    actor: Actor,
    case: CollectionCase,
    log: ContactLog,
    settings: ContactSettings,
    *,
    promise_amount: Any,
    promise_date: date | None,
    facts: PromiseFacts | None = None,
) -> tuple[PromiseToPay | None, Hold | None]:
    """What a logged contact does to its case: a right-party contact makes it reachable,
    a refusal marks it, a promise is recorded, an outcome in ``hold_on_outcome`` places a
    hold. Shared by ``log_contact`` and ``contacts_batch.log_contacts`` (which passes
    the ``facts`` of its promises, read once, and flushes them itself)."""
    if log.rpc:
        reason = f"right-party contact (contact log {log.id})"
        set_reachable(session, case, on=log.contact_date, reason=reason, actor=actor, rpc=True)
    if log.outcome == "refused":
        case.refused = True
    promise = None
    if log.outcome == "promise":
        assert promise_date is not None
        promise = create_promise(
            session,
            case=case,
            collector=actor.user_id,
            amount=promise_amount,
            promised_on=promise_date,
            made_on=log.contact_date,
            rules=settings.promise,
            contact_log_id=log.id,
            facts=facts,
        )
    hold = hold_for(
        session,
        case,
        actor,
        outcome=log.outcome,
        settings=settings,
        why=f"contact log {log.id}: {log.outcome}",
    )
    return promise, hold


def audit_after(
    log: ContactLog, case: dict[str, Any], promise: PromiseToPay | None, hold: Hold | None
) -> dict[str, Any]:
    """The ``after`` of a contact's audit record (``case``: its ``case_state``)."""
    return {
        "log": log_snapshot(log),
        "case": case,
        "promise": promise_snapshot(promise) if promise else None,
        "hold_id": hold.id if hold else None,
    }


def check_promise_args(outcome: str, amount: Any, promised_on: date | None) -> bool:
    """Whether the contact carries a promise; only outcome ``promise`` takes (and needs)
    both an amount and a date."""
    wants = amount is not None or promised_on is not None
    if (outcome == "promise") != wants or (wants and (amount is None or promised_on is None)):
        raise ValueError("outcome promise needs a promise amount and date, and only it takes them")
    return wants


def case_state(case: CollectionCase) -> dict[str, Any]:
    """The contact columns of a case (what the strategy reads)."""
    return {
        "contact_status": case.contact_status,
        "last_rpc_on": case.last_rpc_on,
        "lost_contact_since": case.lost_contact_since,
        "promise_until": case.promise_until,
        "broken_promises": case.broken_promises,
        "failed_visits": case.failed_visits,
        "refused": case.refused,
    }


def log_snapshot(log: ContactLog) -> dict[str, Any]:
    return {
        "id": log.id,
        "case_id": log.case_id,
        "channel": log.channel,
        "direction": log.direction,
        "party": log.party,
        "outcome": log.outcome,
        "rpc": log.rpc,
        "phone_hash": log.phone_hash,
        "duration_seconds": log.duration_seconds,
        "note": log.note,
        "attitude": log.attitude,
        "next_action": log.next_action,
        "next_action_on": log.next_action_on,
        "task_id": log.task_id,
        "collector": log.collector,
        "at_utc": log.at_utc,
        "attempt_id": log.attempt_id,
    }


def contact_history(
    session: Session, *, actor: Actor, case_id: int, limit: int = 500
) -> list[ContactLog]:
    """The case's contact log, newest first; needs ``case.view`` on the case."""
    authorised = authorise_case(session, actor=actor, case_id=case_id)
    return contact_history_of_case(session, authorised, limit=limit)


def contact_history_of_case(
    session: Session, authorised: AuthorisedCase, *, limit: int = 500
) -> list[ContactLog]:
    """``contact_history`` of a case already read and authorised for ``case.view``."""
    case = authorised.require("case.view")
    query = (
        select(ContactLog)
        .where(ContactLog.case_id == case.id)
        .order_by(ContactLog.at_utc.desc(), ContactLog.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))
