"""The strategy engine: pack rules → the treatments of every subject for one date.

Rules are compiled once into plain predicates; for each DPD value the candidate rules
(range and cadence) are computed once and cached, so a subject is checked only against
the few rules that can fire on its day. Nothing here touches the database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from daihou.collection.facts import Fact
from daihou.collection.gate_link import local_time
from daihou.collection.settings import (
    CONTACT_ACTIONS,
    CollectionsSettings,
    Condition,
    Rule,
    Strategy,
)

Predicate = Callable[[Fact], bool]
# a rule ready for the loop: rule, its predicate, counted from lost contact, once, and
# its (slot, local time) pairs
_Prepared = tuple[Rule, Predicate, bool, bool, list[tuple[int, datetime]]]


def _fen(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def compile_condition(cond: Condition, business_date: date) -> Predicate:
    """A predicate over a fact; every given field must hold, and one of ``any_of``."""
    checks: list[Predicate] = []
    if cond.buckets is not None:
        buckets = frozenset(cond.buckets)
        checks.append(lambda f: f.bucket in buckets)
    if cond.overdue_above is not None:
        above = _fen(cond.overdue_above)
        checks.append(lambda f: f.overdue_fen > above)
    if cond.overdue_at_most is not None:
        most = _fen(cond.overdue_at_most)
        checks.append(lambda f: f.overdue_fen <= most)
    if cond.outstanding_above is not None:
        o_above = _fen(cond.outstanding_above)
        checks.append(lambda f: f.outstanding_fen > o_above)
    if cond.outstanding_at_most is not None:
        o_most = _fen(cond.outstanding_at_most)
        checks.append(lambda f: f.outstanding_fen <= o_most)
    if cond.products is not None:
        products = frozenset(cond.products)
        checks.append(lambda f: f.product in products)
    if cond.min_risk_score is not None:
        lo = cond.min_risk_score
        checks.append(lambda f: f.risk_score is not None and f.risk_score >= lo)
    if cond.max_risk_score is not None:
        hi = cond.max_risk_score
        checks.append(lambda f: f.risk_score is not None and f.risk_score <= hi)
    if cond.segments is not None:
        segments = frozenset(cond.segments)
        checks.append(lambda f: f.segment in segments)
    if cond.contact_status is not None:
        status = cond.contact_status
        checks.append(lambda f: f.contact_status == status)
    if cond.min_days_lost is not None:
        days = cond.min_days_lost
        checks.append(
            lambda f: (
                f.contact_status == "lost"
                and f.lost_since is not None
                and (business_date - f.lost_since).days >= days
            )
        )
    if cond.refused is not None:
        refused = cond.refused
        checks.append(lambda f: f.refused == refused)
    if cond.min_failed_visits is not None:
        visits = cond.min_failed_visits
        checks.append(lambda f: f.failed_visits >= visits)
    if cond.min_broken_promises is not None:
        broken = cond.min_broken_promises
        checks.append(lambda f: f.broken_promises >= broken)
    if cond.any_of:
        alternatives = [compile_condition(c, business_date) for c in cond.any_of]
        checks.append(lambda f: any(alt(f) for alt in alternatives))
    if not checks:
        return lambda _f: True
    if len(checks) == 1:
        return checks[0]
    return lambda f: all(check(f) for check in checks)


@dataclass(slots=True)
class Planned:
    """One treatment slot; ``status`` planned until holds, promises or the gate say no."""

    fact: Fact
    rule: Rule
    strategy: str
    slot: int
    at: datetime  # aware, borrower's local time
    status: str = "planned"
    gate_rule: str | None = None
    gate_next_allowed: datetime | None = None
    # set by ``tasks.build_tasks``: the task row this slot is part of, and for work
    # beyond its collector's capacity (no task row) the collector, rank and priority
    task: list[Any] | None = None
    deferred: tuple[str, int, int] | None = None


class CompiledStrategy:
    def __init__(self, strategy: Strategy, business_date: date) -> None:
        self.name = strategy.name
        self.d = business_date
        self.rules = strategy.rules
        self.when = {r.id: compile_condition(r.when, business_date) for r in self.rules}
        self._by_dpd: dict[int, list[Rule]] = {}
        self.reminders: dict[int, list[Rule]] = {}
        for r in self.rules:
            if r.days_before_due is not None:
                self.reminders.setdefault(r.days_before_due, []).append(r)

    def candidates(self, dpd: int) -> list[Rule]:
        hit = self._by_dpd.get(dpd)
        if hit is None:
            hit = [
                r
                for r in self.rules
                if r.min_dpd is not None
                and r.min_dpd <= dpd
                and (r.max_dpd is None or dpd <= r.max_dpd)
                and (r.cadence_from != "dpd" or (dpd - r.min_dpd) % r.every_days == 0)
            ]
            self._by_dpd[dpd] = hit
        return hit


def evaluate(
    facts: Iterable[Fact],
    *,
    settings: CollectionsSettings,
    business_date: date,
    once_done: set[tuple[int, str]],
) -> list[Planned]:
    """Every treatment slot the strategies produce for the facts, before the gate."""
    work = business_date + timedelta(days=1)
    tz = settings.timezone
    compiled = {
        arm: CompiledStrategy(settings.strategy(arm), business_date)
        for arm in ("champion", "challenger")
    }
    slot_times: dict[tuple[str, int], datetime] = {}

    def at(clock: str, slot: int) -> datetime:
        key = (clock, slot)
        if key not in slot_times:
            slot_times[key] = local_time(work, clock, tz)
        return slot_times[key]

    # per rule, once: its predicate, its cadence and its slots with their times, so the
    # loop over 100,000 subjects does no method call or cache look-up per rule
    prepared: dict[int, _Prepared] = {}

    def prepare(strategy: CompiledStrategy, rules: Iterable[Rule]) -> list[_Prepared]:
        ready = []
        for r in rules:
            item = prepared.get(id(r))
            if item is None:
                slots = [(slot, at(clock, slot)) for slot, clock in enumerate(r.times)]
                item = prepared[id(r)] = (
                    r,
                    strategy.when[r.id],
                    r.cadence_from == "lost",
                    r.once,
                    slots,
                )
            ready.append(item)
        return ready

    by_dpd: dict[tuple[int, int], list[_Prepared]] = {}
    d = business_date
    out: list[Planned] = []
    append = out.append
    for fact in facts:
        strategy = compiled["challenger" if fact.arm == "challenger" else "champion"]
        if fact.dpd is None:
            rules = prepare(
                strategy,
                [
                    r
                    for r in strategy.reminders.get(fact.days_before_due or 0, ())
                    if fact.first_due or not r.first_due_only
                ],
            )
        else:
            hit = by_dpd.get((id(strategy), fact.dpd))
            if hit is None:
                hit = by_dpd[(id(strategy), fact.dpd)] = prepare(
                    strategy, strategy.candidates(fact.dpd)
                )
            rules = hit
        promised = fact.promise_until is not None and fact.promise_until >= work
        for rule, when, by_lost, once, slots in rules:
            # a rule counted from lost contact fires only while lost, on its cadence
            if by_lost and (
                fact.contact_status != "lost"
                or fact.lost_since is None
                or (d - fact.lost_since).days % rule.every_days
            ):
                continue
            # a ``once`` rule fires the first time in a case only
            if once and fact.case_id is not None and (fact.case_id, rule.id) in once_done:
                continue
            if not when(fact):
                continue
            if fact.on_hold:
                status = "skipped-hold"
            elif promised and rule.pause_on_promise:
                status = "skipped-promise"
            else:
                status = "planned"
            for slot, when_at in slots:
                append(Planned(fact, rule, strategy.name, slot, when_at, status))
    return out


def is_contact(rule: Rule) -> bool:
    return rule.action in CONTACT_ACTIONS
