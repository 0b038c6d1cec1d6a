"""The one place where collections asks the compliance contact gate (联系闸门).

``ask_gate`` answers a batch of planned contacts with the gate's own ``decide`` over
the same history ``check_contact`` would load, read for the whole batch in a few
queries instead of per request: the attempts of the rules' look-back window, active
holds and opt-outs, and the case's promise and lost-contact dates (the gate's
``Providers`` read the same case columns). Requests whose rules need reachability
(third parties) go through the gate's own ``load_history``. Debtors with no attempts,
holds or opt-outs in the window have the same history, so their identical questions
are decided once.

A planning check is advisory: it records no denial and takes no debtor lock. The
worker that sends a message and the collector who dials ask ``check_contact`` again,
and record the attempt, in the transaction that makes the contact.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from daihou.compliance.gate.decide import decide
from daihou.compliance.gate.models import ContactAttempt, Hold, OptOut
from daihou.compliance.gate.packs import EffectiveRules, load_rules
from daihou.compliance.gate.schema import (
    ActiveHold,
    ContactHistory,
    ContactRequest,
    Decision,
    PastAttempt,
)
from daihou.compliance.gate.service import load_history


@dataclass(frozen=True, slots=True)
class GateAsk:
    customer_id: str
    loan_id: str
    case_id: int | None
    channel: str
    party: str
    purpose: str
    at: datetime  # aware, the borrower's local time
    promise_until: date | None = None
    lost_contact_since: date | None = None


@dataclass(frozen=True, slots=True)
class GateAnswer:
    allowed: bool
    rule: str | None
    next_allowed_utc: datetime | None  # naive UTC
    by_hold: bool = False  # denied by a hold (停催) rule


def _request(ask: GateAsk) -> ContactRequest:
    return ContactRequest(
        customer_id=ask.customer_id,
        channel=ask.channel,
        party=ask.party,  # type: ignore[arg-type]
        at=ask.at,
        loan_id=ask.loan_id,
        case_id=None if ask.case_id is None else str(ask.case_id),
        purpose=ask.purpose,
    )


def _answer(decision: Decision, hold_rules: frozenset[str]) -> GateAnswer:
    nxt = decision.next_allowed_at
    return GateAnswer(
        decision.allowed,
        decision.rule,
        nxt.astimezone(UTC).replace(tzinfo=None) if nxt is not None else None,
        decision.rule in hold_rules,
    )


def ask_gate(
    session: Session,
    asks: Sequence[GateAsk],
    *,
    rules: EffectiveRules | None = None,
) -> list[GateAnswer]:
    """The gate's answer to each planned contact, in order."""
    if not asks:
        return []
    first_day = min(a.at.date() for a in asks)
    if rules is None:
        rules = load_rules(on=first_day)
    zone = asks[0].at.tzinfo or UTC
    since_local = datetime.combine(
        first_day - timedelta(days=rules.lookback_days - 1), time(0), tzinfo=zone
    )
    since = since_local.astimezone(UTC).replace(tzinfo=None)
    wanted = {a.customer_id for a in asks}
    attempts: dict[str, list[PastAttempt]] = defaultdict(list)
    a = ContactAttempt
    for r in session.execute(
        select(
            a.at_utc,
            a.channel,
            a.party,
            a.outcome,
            a.customer_id,
            a.loan_id,
            a.organisation,
            a.address_key,
            a.direction,
        ).where(a.at_utc >= since)
    ):
        if r.customer_id in wanted:
            attempts[r.customer_id].append(
                PastAttempt(
                    at=r.at_utc.replace(tzinfo=UTC),
                    channel=r.channel,
                    party=r.party,
                    outcome=r.outcome,
                    customer_id=r.customer_id,
                    loan_id=r.loan_id,
                    organisation=r.organisation,
                    address_key=r.address_key,
                    direction=r.direction,
                )
            )
    holds: dict[str, list[ActiveHold]] = defaultdict(list)
    for h in session.execute(
        select(Hold.id, Hold.customer_id, Hold.kind, Hold.loan_id).where(Hold.released_at.is_(None))
    ):
        holds[h.customer_id].append(ActiveHold(kind=h.kind, loan_id=h.loan_id, hold_id=h.id))
    opt_outs: dict[str, set[str]] = defaultdict(set)
    for customer_id, medium in session.execute(
        select(OptOut.customer_id, OptOut.medium).where(OptOut.opted_in_at.is_(None))
    ):
        opt_outs[customer_id].add(medium)

    hold_rules = frozenset(r for by_medium in rules.holds.values() for r in by_medium.values())
    memo: dict[tuple[object, ...], GateAnswer] = {}
    out: list[GateAnswer] = []
    for ask in asks:
        cid = ask.customer_id
        quiet = cid not in attempts and cid not in holds and cid not in opt_outs
        needs_reach = ask.party in rules.third_party
        key = (
            ask.channel,
            ask.party,
            ask.purpose,
            ask.at,
            ask.promise_until,
            ask.lost_contact_since,
        )
        if quiet and not needs_reach and key in memo:
            out.append(memo[key])
            continue
        request = _request(ask)
        if needs_reach:
            loaded = load_history(session, request, rules=rules)
            history = ContactHistory(
                attempts=loaded.attempts,
                holds=loaded.holds,
                opt_outs=loaded.opt_outs,
                open_promise_until=ask.promise_until,
                lost_contact_since=ask.lost_contact_since,
                unreachable_since=loaded.unreachable_since,
                borrower_number_invalid=loaded.borrower_number_invalid,
            )
        else:
            history = ContactHistory(
                attempts=tuple(attempts.get(cid, ())),
                holds=tuple(holds.get(cid, ())),
                opt_outs=frozenset(opt_outs.get(cid, ())),
                open_promise_until=ask.promise_until,
                lost_contact_since=ask.lost_contact_since,
            )
        answer = _answer(decide(request, history, rules), hold_rules)
        if quiet and not needs_reach:
            memo[key] = answer
        out.append(answer)
    return out


def local_time(day: date, clock: str, tz: str) -> datetime:
    hh, mm = clock.split(":")
    return datetime.combine(day, time(int(hh), int(mm)), tzinfo=ZoneInfo(tz))
