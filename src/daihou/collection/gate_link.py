"""The one place where collections asks the compliance contact gate (联系闸门).

``ask_gate`` answers a batch of planned contacts with the gate's own ``decide`` over
the same history ``check_contact`` would load, read for the whole batch by the batched
gate's loader (``compliance.gate.batch.load_batch_history``: one query per table,
scoped in SQL to the batch's debtors): the attempts of each request's look-back
window, active holds and opt-outs; the case's promise and lost-contact dates come with
the ask (the gate's ``Providers`` read the same case columns). Requests whose rules
need reachability (third parties) read it as the gate does, once per debtor. Debtors
with no attempts, holds or opt-outs in the window have the same history, so their
identical questions are decided once.

A planning check is advisory: it records no denial and takes no debtor lock. The
worker that sends a message and the collector who dials ask ``check_contact`` again,
and record the attempt, in the transaction that makes the contact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from daihou.compliance.gate.batch import load_batch_history, needs_reachability, window_start
from daihou.compliance.gate.decide import decide
from daihou.compliance.gate.packs import EffectiveRules, load_rules
from daihou.compliance.gate.schema import ContactHistory, ContactRequest, Decision
from daihou.compliance.gate.service import _reachability


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
    # the run's asks share a few time objects (one per slot time): the earliest look-back
    # is computed once per distinct one, not once per ask
    times = list({id(a.at): a.at for a in asks}.values())
    if rules is None:
        rules = load_rules(on=min(at.date() for at in times))
    loaded = load_batch_history(
        session,
        customers=[a.customer_id for a in asks],
        addresses=[],
        since=min(window_start(at.date(), at.tzinfo or UTC, rules) for at in times),
    )
    reach: dict[str, tuple[datetime | None, bool]] = {}  # nothing is written meanwhile
    hold_rules = frozenset(r for by_medium in rules.holds.values() for r in by_medium.values())
    memo: dict[tuple[object, ...], GateAnswer] = {}
    out: list[GateAnswer] = []
    for ask in asks:
        cid = ask.customer_id
        quiet = loaded.quiet(cid)
        needs_reach = needs_reachability(ask.party, rules)
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
        unreachable_since, number_invalid = None, False
        if needs_reach:
            if cid not in reach:
                reach[cid] = _reachability(session, cid)
            unreachable_since, number_invalid = reach[cid]
        history = ContactHistory(
            attempts=loaded.attempts(request, None, rules),
            holds=loaded.holds_of(cid),
            opt_outs=loaded.opt_outs_of(cid),
            open_promise_until=ask.promise_until,
            lost_contact_since=ask.lost_contact_since,
            unreachable_since=unreachable_since,
            borrower_number_invalid=number_invalid,
        )
        answer = _answer(decide(request, history, rules), hold_rules)
        if quiet and not needs_reach:
            memo[key] = answer
        out.append(answer)
    return out


def local_time(day: date, clock: str, tz: str) -> datetime:
    hh, mm = clock.split(":")
    return datetime.combine(day, time(int(hh), int(mm)), tzinfo=ZoneInfo(tz))
