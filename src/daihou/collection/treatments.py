"""Plan the day's treatments: facts → strategy → holds, promises, gate → rows.

Idempotent per (business date, loan, rule, slot): rows already written for the date are
left as they are (whatever their status), and only missing ones are inserted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from daihou.collection.clock import Clock
from daihou.collection.facts import (
    Fact,
    case_facts,
    earlier_once,
    mark_holds,
    missed_today_facts,
    reminder_facts,
)
from daihou.collection.gate_link import GateAsk, ask_gate
from daihou.collection.settings import CONTACT_ACTIONS, CollectionsSettings
from daihou.collection.strategy import Planned, evaluate
from daihou.collection.tables import CollectionTreatment, FastRows
from daihou.collection.tasks import TaskResult, build_tasks
from daihou.compliance.gate.packs import EffectiveRules


@dataclass
class PlanResult:
    subjects: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    inserted: int = 0
    existing: int = 0
    tasks: TaskResult = field(default_factory=lambda: TaskResult())
    planned: list[Planned] = field(default_factory=list, repr=False)
    clock: Clock = field(default_factory=lambda: Clock(), repr=False)


def gather_facts(
    session: Session, *, business_date: date, settings: CollectionsSettings
) -> list[Fact]:
    strategies = [settings.champion] + ([settings.challenger] if settings.challenger else [])
    offsets = {r.days_before_due for s in strategies for r in s.rules if r.days_before_due}
    facts = case_facts(session)
    facts += missed_today_facts(session, business_date=business_date, settings=settings)
    facts += reminder_facts(
        session,
        business_date=business_date,
        settings=settings,
        offsets={k for k in offsets if k is not None},
    )
    mark_holds(session, facts)
    return facts


def plan_treatments(
    session: Session,
    *,
    business_date: date,
    settings: CollectionsSettings,
    gate_rules: EffectiveRules | None = None,
) -> PlanResult:
    d = business_date
    clock = Clock()
    lap = clock.lap
    facts = gather_facts(session, business_date=d, settings=settings)
    lap("facts")
    strategies = [settings.champion] + ([settings.challenger] if settings.challenger else [])
    once_ids = {r.id for s in strategies for r in s.rules if r.once}
    once_done = earlier_once(session, business_date=d, rule_ids=once_ids)
    planned = evaluate(facts, settings=settings, business_date=d, once_done=once_done)
    lap("strategy")
    _gate(session, planned, gate_rules)
    lap("gate")

    result = PlanResult(subjects=len(facts), planned=planned, clock=clock)
    for p in planned:
        result.by_status[p.status] = result.by_status.get(p.status, 0) + 1
    result.tasks = build_tasks(session, business_date=d, settings=settings, planned=planned)
    lap("tasks")
    t = CollectionTreatment
    existing = {
        (loan_id, rule_id, slot)
        for loan_id, rule_id, slot in session.execute(
            select(t.loan_id, t.rule_id, t.slot).where(t.business_date == d)
        )
    }
    fast = FastRows(session)
    day, work = fast.date(d), fast.date(d + timedelta(days=1))
    # a slot's time is one object per (time, slot) shared by its treatments
    # (strategy.evaluate), so it is converted once, looked up by identity
    times: dict[int, Any] = {}
    # the columns a rule fixes, once per (rule, strategy) rather than once per row
    fixed: dict[int, tuple[Any, ...]] = {}
    rows: list[tuple[Any, ...]] = []
    append = rows.append
    for p in planned:
        f, r = p.fact, p.rule
        if existing and (f.loan_id, r.id, p.slot) in existing:
            result.existing += 1
            continue
        head = fixed.get(id(r))
        if head is None:
            channel, party = CONTACT_ACTIONS.get(r.action, (None, None))
            head = fixed[id(r)] = (r.id, r.action, channel, party, r.purpose, r.template)
        at = times.get(id(p.at))
        if at is None:
            at = times[id(p.at)] = fast.time(p.at.astimezone(UTC).replace(tzinfo=None))
        nxt = p.gate_next_allowed
        # person-work beyond its collector's capacity: no task, its treatments say
        # whose list it overflowed, at which rank and priority (``build_tasks``)
        later = p.deferred or _NOT_DEFERRED
        append(
            (
                day,
                work,
                f.case_id,
                f.loan_id,
                f.customer_id,
                p.slot,
                *head,
                p.strategy,
                f.arm,
                f.dpd,
                f.days_before_due,
                at,
                p.status,
                p.gate_rule,
                None if nxt is None else fast.time(nxt),
                *later,
            )
        )
    fast.write(t, TREATMENT_COLUMNS, rows)
    result.inserted = len(rows)
    lap("write")
    return result


TREATMENT_COLUMNS = (
    "business_date",
    "work_date",
    "case_id",
    "loan_id",
    "customer_id",
    "slot",
    "rule_id",
    "action",
    "channel",
    "party",
    "purpose",
    "template",
    "strategy",
    "arm",
    "dpd",
    "days_before_due",
    "planned_at",
    "status",
    "gate_rule",
    "gate_next_allowed",
    "deferred_to",
    "deferred_rank",
    "deferred_priority",
)
_NOT_DEFERRED: tuple[None, None, None] = (None, None, None)


def _gate(session: Session, planned: list[Planned], rules: EffectiveRules | None) -> None:
    """Every contact still planned asks the gate; a refusal becomes denied-by-gate."""
    pending = [p for p in planned if p.status == "planned" and p.rule.action in CONTACT_ACTIONS]
    asks = []
    for p in pending:
        channel, party = CONTACT_ACTIONS[p.rule.action]
        f = p.fact
        asks.append(
            GateAsk(
                customer_id=f.customer_id,
                loan_id=f.loan_id,
                case_id=f.case_id,
                channel=channel,
                party=party,
                purpose=p.rule.purpose,
                at=p.at,
                promise_until=f.promise_until,
                lost_contact_since=f.lost_since,
            )
        )
    for p, answer in zip(pending, ask_gate(session, asks, rules=rules), strict=True):
        if answer.allowed:
            continue
        p.gate_rule = answer.rule
        p.gate_next_allowed = answer.next_allowed_utc
        p.status = "skipped-hold" if answer.by_hold else "denied-by-gate"
