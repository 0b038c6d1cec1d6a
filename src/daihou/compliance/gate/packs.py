"""Load compliance packs and combine them: where several apply, the stricter rule wins.

Which packs apply is configuration: ``DAIHOU_COMPLIANCE_PACKS=cn-2026,us-reg-f`` (names
of packaged packs or paths to YAML files), a parameter, or the default ``cn-2026``.
Each rule is combined independently: allowed hours are intersected, caps of the same
shape take the minimum (caps of different shapes all apply), blocks are united. So a
contact the combination allows is one that every pack allows, and the other way round.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from daihou.compliance.gate.schema import (
    MEDIA,
    ContactPack,
    Medium,
    Party,
    expand_media,
    expand_parties,
)
from daihou.yaml_packs import read_pack, validate_pack

DEFAULT_PACKS = ("cn-2026",)
ENV_VAR = "DAIHOU_COMPLIANCE_PACKS"

Intervals = tuple[tuple[int, int], ...]


class PackError(ValueError):
    """A pack that does not exist or does not validate; or no pack in force."""


# --- loading -------------------------------------------------------------------------


@lru_cache(maxsize=32)
def load_contact_pack(name_or_path: str) -> ContactPack:
    """A packaged pack by name (``cn-2026``) or a YAML file by path, validated."""
    kind = "compliance pack"
    source, text = read_pack(
        name_or_path, package="daihou.compliance.gate", folder="packs", kind=kind, error=PackError
    )
    return validate_pack(ContactPack, text, source=source, kind=kind, error=PackError)


def configured_pack_names(names: str | Sequence[str] | None = None) -> tuple[str, ...]:
    """The parameter, else ``$DAIHOU_COMPLIANCE_PACKS``, else ``cn-2026``."""
    if names is None:
        names = os.environ.get(ENV_VAR) or ",".join(DEFAULT_PACKS)
    if isinstance(names, str):
        names = names.split(",")
    result = tuple(n.strip() for n in names if n.strip())
    if not result:
        raise PackError("no compliance pack configured")
    return result


def load_rules(
    names: str | Sequence[str] | None = None, *, on: date | None = None
) -> EffectiveRules:
    """The effective rules of the configured packs in force on ``on`` (all when None)."""
    return combine([load_contact_pack(n) for n in configured_pack_names(names)], on=on)


# --- effective rules -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AllowedHours:
    """Allowed seconds after local midnight ([start, end) intervals), the intersection
    of every ``sources`` entry (qualified rule id, its own intervals)."""

    intervals: Intervals
    sources: tuple[tuple[str, Intervals], ...]


@dataclass(frozen=True, slots=True)
class EffectiveCap:
    rule: str
    max: int
    window_days: int
    counts: str
    per: str
    media: frozenset[Medium]
    parties: frozenset[Party]

    @property
    def shape(self) -> tuple[object, ...]:
        return (self.window_days, self.counts, self.per, self.media, self.parties)


@dataclass(frozen=True, slots=True)
class EffectiveAfterConversation:
    rule: str
    days: int
    per: str
    media: frozenset[Medium]
    parties: frozenset[Party]


@dataclass(frozen=True, slots=True)
class EffectiveThirdParty:
    """For one party: lost contact required (by ``lost_contact_rule``, after
    ``unreachable_days``); each ``purpose_rules`` entry (rule, purposes) must allow the
    request's purpose."""

    lost_contact_rule: str | None = None
    unreachable_days: int = 0
    purpose_rules: tuple[tuple[str, frozenset[str]], ...] = ()

    @property
    def purposes(self) -> frozenset[str] | None:
        """The purposes every rule allows (None: any purpose)."""
        if not self.purpose_rules:
            return None
        allowed = self.purpose_rules[0][1]
        for _rule, purposes in self.purpose_rules[1:]:
            allowed &= purposes
        return allowed

    def purpose_denied_by(self, purpose: str) -> str | None:
        return next((rule for rule, allowed in self.purpose_rules if purpose not in allowed), None)


@dataclass(frozen=True)
class EffectiveRules:
    """What ``decide`` applies. Block maps name the rule that blocks each entry."""

    packs: tuple[str, ...]
    quiet: Mapping[Medium, AllowedHours] = field(default_factory=dict)
    caps: tuple[EffectiveCap, ...] = ()
    after_conversation: tuple[EffectiveAfterConversation, ...] = ()
    third_party: Mapping[Party, EffectiveThirdParty] = field(default_factory=dict)
    opt_out: Mapping[Party, Mapping[Medium, str]] = field(default_factory=dict)
    holds: Mapping[str, Mapping[Medium, str]] = field(default_factory=dict)
    promise: Mapping[Medium, str] = field(default_factory=dict)

    @property
    def lookback_days(self) -> int:
        """How many local days of attempts (today included) the rules look at."""
        days = [c.window_days for c in self.caps] + [a.days for a in self.after_conversation]
        return max([1, *days])


def intersect(a: Intervals, b: Intervals) -> Intervals:
    """Intersection of two sorted lists of disjoint [start, end) intervals."""
    out: list[tuple[int, int]] = []
    i = j = 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start < end:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def normalise(intervals: Iterable[tuple[int, int]]) -> Intervals:
    """Sorted, merged [start, end) intervals."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(intervals):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return tuple(out)


def in_force(packs: Iterable[ContactPack], on: date) -> list[ContactPack]:
    """For each pack name, the newest version with ``effective_on <= on``."""
    newest: dict[str, ContactPack] = {}
    for pack in packs:
        if pack.effective_on <= on:
            held = newest.get(pack.name)
            if held is None or pack.effective_on > held.effective_on:
                newest[pack.name] = pack
    return list(newest.values())


def combine(packs: Sequence[ContactPack], *, on: date | None = None) -> EffectiveRules:
    """Combine packs, the stricter rule winning for every rule independently.

    With ``on``, only packs in force that day count (newest version per name); no pack
    in force is an error, never "no rules".
    """
    chosen = in_force(packs, on) if on is not None else list(packs)
    if not chosen:
        names = ", ".join(f"{p.name} (from {p.effective_on})" for p in packs) or "none"
        raise PackError(f"no compliance pack in force on {on}; configured: {names}")

    quiet: dict[Medium, AllowedHours] = {}
    caps: dict[tuple[object, ...], EffectiveCap] = {}
    after: dict[tuple[object, ...], EffectiveAfterConversation] = {}
    third: dict[Party, EffectiveThirdParty] = {}
    opt_out: dict[Party, dict[Medium, str]] = {}
    holds: dict[str, dict[Medium, str]] = {}
    promise: dict[Medium, str] = {}

    for pack in chosen:
        rules = pack.rules
        for q in rules.quiet_hours:
            own = normalise(q.intervals())
            for medium in expand_media(q.media):
                held = quiet.get(medium)
                source = (pack.rule_id(q.id), own)
                if held is None:
                    quiet[medium] = AllowedHours(own, (source,))
                else:
                    quiet[medium] = AllowedHours(
                        intersect(held.intervals, own), (*held.sources, source)
                    )
        for c in rules.caps:
            cap = EffectiveCap(
                rule=pack.rule_id(c.id),
                max=c.max,
                window_days=c.window_days,
                counts=c.counts,
                per=c.per,
                media=expand_media(c.media),
                parties=expand_parties(c.parties),
            )
            held_cap = caps.get(cap.shape)
            if held_cap is None or cap.max < held_cap.max:
                caps[cap.shape] = cap
        for a in rules.after_conversation:
            rule = EffectiveAfterConversation(
                rule=pack.rule_id(a.id),
                days=a.days,
                per=a.per,
                media=expand_media(a.media),
                parties=expand_parties(a.parties),
            )
            key = (rule.per, rule.media, rule.parties)
            held_after = after.get(key)
            if held_after is None or rule.days > held_after.days:
                after[key] = rule
        for t in rules.third_party:
            for party in t.parties:
                third[party] = _stricter_third_party(
                    third.get(party, EffectiveThirdParty()),
                    rule=pack.rule_id(t.id),
                    requires_lost_contact=t.requires_lost_contact,
                    unreachable_days=t.unreachable_days,
                    purposes=t.allowed_purposes,
                )
        for o in rules.opt_out:
            for party in expand_parties(o.parties):
                for medium in expand_media(o.media):
                    opt_out.setdefault(party, {}).setdefault(medium, pack.rule_id(o.id))
        for h in rules.holds:
            for kind, media in h.blocks.items():
                for medium in expand_media(media):
                    holds.setdefault(kind, {}).setdefault(medium, pack.rule_id(h.id))
        for p in rules.promise:
            for medium in expand_media(p.media):
                promise.setdefault(medium, pack.rule_id(p.id))

    return EffectiveRules(
        packs=tuple(f"{p.name}@{p.version}" for p in chosen),
        quiet={m: quiet[m] for m in MEDIA if m in quiet},
        caps=tuple(caps.values()),
        after_conversation=tuple(after.values()),
        third_party=third,
        opt_out=opt_out,
        holds=holds,
        promise=promise,
    )


def _stricter_third_party(
    held: EffectiveThirdParty,
    *,
    rule: str,
    requires_lost_contact: bool,
    unreachable_days: int,
    purposes: list[str] | None,
) -> EffectiveThirdParty:
    lost_rule, days = held.lost_contact_rule, held.unreachable_days
    if requires_lost_contact and (lost_rule is None or unreachable_days > days):
        lost_rule, days = rule, unreachable_days
    purpose_rules = held.purpose_rules
    if purposes is not None:
        purpose_rules = (*purpose_rules, (rule, frozenset(purposes)))
    return EffectiveThirdParty(lost_rule, days, purpose_rules)
