"""Compile lexicon packs once (one Aho–Corasick automaton, precompiled patterns) and
find the raw hits in normalised text, then clear those that negation, reported speech,
an allowed phrase or a rule's ``unless`` explain away."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import ahocorasick  # type: ignore[import-not-found]

from daihou.compliance.language.lexicon import (
    LexiconPack,
    Rule,
    default_sources,
    load_pack,
)
from daihou.compliance.language.normalise import Normalised, is_latin, normalise_term


@dataclass(frozen=True, slots=True)
class RawHit:
    """A hit in normalised offsets, before it is mapped back to the original text."""

    rule: Rule
    index: int  # the rule's position in the compiled lexicon
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class _PackFilters:
    language: str
    window: int
    cues: re.Pattern[str] | None
    reported: re.Pattern[str] | None


def _alternation(regexes: Sequence[str]) -> re.Pattern[str] | None:
    return re.compile("|".join(f"(?:{r})" for r in regexes)) if regexes else None


def _pinyin_variants(term: str, pinyin: dict[str, str]) -> Iterable[str]:
    """``起诉`` → ``qi诉``, ``起su``: one character spelled out at a time."""
    if sum(1 for c in term if not is_latin(c)) < 2:
        return
    for i, c in enumerate(term):
        spelled = pinyin.get(c)
        if spelled:
            yield term[:i] + spelled + term[i + 1 :]


class Lexicon:
    """Compiled packs: build once (``load_lexicon`` caches), match many times."""

    def __init__(self, packs: Sequence[LexiconPack]) -> None:
        if not packs:
            raise ValueError("a lexicon needs at least one pack")
        self.packs = tuple(packs)
        self.version = "+".join(pack.label for pack in packs)
        self._rules: list[Rule] = []
        self._rule_pack: list[int] = []
        self._patterns: list[tuple[int, re.Pattern[str]]] = []
        self._unless: dict[int, re.Pattern[str]] = {}
        self._filters: list[_PackFilters] = []
        terms: dict[str, set[int]] = {}
        allow: set[str] = set()
        seen_ids: set[str] = set()
        for p, pack in enumerate(packs):
            self._filters.append(
                _PackFilters(
                    language=pack.language,
                    window=pack.negation.window,
                    cues=_alternation(pack.negation.cues),
                    reported=_alternation(pack.negation.reported),
                )
            )
            allow.update(t for t in (normalise_term(a) for a in pack.allow) if t)
            for rule in pack.rules:
                if rule.id in seen_ids:
                    raise ValueError(f"rule id {rule.id!r} is in more than one pack")
                seen_ids.add(rule.id)
                r = len(self._rules)
                self._rules.append(rule)
                self._rule_pack.append(p)
                for term in rule.terms:
                    norm = normalise_term(term)
                    if not norm:
                        raise ValueError(f"rule {rule.id}: term {term!r} normalises to nothing")
                    for variant in (norm, *_pinyin_variants(norm, pack.pinyin)):
                        terms.setdefault(variant, set()).add(r)
                for pattern in rule.patterns:
                    self._patterns.append((r, re.compile(pattern)))
                if rule.unless:
                    unless = _alternation(rule.unless)
                    assert unless is not None
                    self._unless[r] = unless
        self._automaton = ahocorasick.Automaton()
        for term, rules in terms.items():
            self._automaton.add_word(term, (len(term), tuple(sorted(rules))))
        if terms:
            self._automaton.make_automaton()
        self._allow = ahocorasick.Automaton()
        for phrase in allow:
            self._allow.add_word(phrase, len(phrase))
        if allow:
            self._allow.make_automaton()
        self._has_terms = bool(terms)
        self._has_allow = bool(allow)

    @property
    def rules(self) -> tuple[Rule, ...]:
        return tuple(self._rules)

    def packs_for(self, language: str) -> frozenset[int]:
        """Pack indexes that apply to ``language`` ("auto": all of them)."""
        if language == "auto":
            return frozenset(range(len(self.packs)))
        primary = language.split("-")[0].lower()
        chosen = frozenset(
            p for p, pack in enumerate(self.packs) if pack.language.split("-")[0] == primary
        )
        if not chosen:
            known = ", ".join(sorted({pack.language for pack in self.packs}))
            raise ValueError(f"no lexicon pack for language {language!r} (have: {known}, auto)")
        return chosen

    def match(self, norm: Normalised, *, language: str = "auto") -> list[RawHit]:
        """Hits that survive the filters, sorted, without duplicates inside a category."""
        packs = self.packs_for(language)
        text = norm.text
        raw: list[RawHit] = []
        if self._has_terms and text:
            for last, (length, rules) in self._automaton.iter(text):
                start, end = last - length + 1, last + 1
                if not _bounded(text, start, end):
                    continue
                raw.extend(
                    RawHit(self._rules[r], r, start, end)
                    for r in rules
                    if self._rule_pack[r] in packs
                )
        for r, pattern in self._patterns:
            if self._rule_pack[r] not in packs:
                continue
            for found in pattern.finditer(text):
                if found.end() > found.start():
                    raw.append(RawHit(self._rules[r], r, found.start(), found.end()))
        allowed = self._allowed_spans(text)
        kept = [hit for hit in raw if not self._cleared(hit, norm, allowed)]
        return _dedupe(kept)

    def _allowed_spans(self, text: str) -> list[tuple[int, int]]:
        if not self._has_allow or not text:
            return []
        return [(last - length + 1, last + 1) for last, length in self._allow.iter(text)]

    def _cleared(self, hit: RawHit, norm: Normalised, allowed: list[tuple[int, int]]) -> bool:
        if any(a <= hit.start and hit.end <= b for a, b in allowed):
            return True
        text = norm.text
        clause_start = norm.clause_start(hit.start)
        unless = self._unless.get(hit.index)
        if unless is not None:
            clause_end = hit.end
            while clause_end < len(text) and norm.clauses[clause_end] == norm.clauses[hit.end - 1]:
                clause_end += 1
            if unless.search(text, clause_start, clause_end):
                return True
        if not hit.rule.negatable:
            return False
        filters = self._filters[self._rule_pack[hit.index]]
        if filters.cues is not None:
            lo = max(clause_start, hit.start - filters.window)
            if filters.cues.search(text, lo, hit.start):
                return True
        return bool(filters.reported and filters.reported.search(text, clause_start, hit.start))


def _bounded(text: str, start: int, end: int) -> bool:
    """A term that begins or ends with a Latin letter must not sit inside a Latin word."""
    if is_latin(text[start]) and start > 0 and is_latin(text[start - 1]):
        return False
    return not (is_latin(text[end - 1]) and end < len(text) and is_latin(text[end]))


def _dedupe(hits: list[RawHit]) -> list[RawHit]:
    """Merge overlapping hits of one rule; drop a hit lying inside another hit of the
    same category (keep the wider one)."""
    ordered = sorted(hits, key=lambda h: (h.start, -h.end, -h.rule.severity.rank, h.rule.id))
    merged: list[RawHit] = []
    for hit in ordered:
        same = next((m for m in reversed(merged) if m.index == hit.index), None)
        if same is not None and hit.start < same.end:
            if hit.end > same.end:
                merged[merged.index(same)] = RawHit(same.rule, same.index, same.start, hit.end)
            continue
        merged.append(hit)
    kept: list[RawHit] = []
    for hit in sorted(merged, key=lambda h: (h.start, -h.end, -h.rule.severity.rank, h.rule.id)):
        if any(
            k.rule.category == hit.rule.category and k.start <= hit.start and hit.end <= k.end
            for k in kept
        ):
            continue
        kept.append(hit)
    return kept


@lru_cache(maxsize=8)
def _load(sources: tuple[str, ...]) -> Lexicon:
    return Lexicon([load_pack(source) for source in sources])


def load_lexicon(*sources: str) -> Lexicon:
    """Compiled lexicon from pack names or YAML paths (default: ``default_sources()``).

    Cached: the automaton and patterns are built once per set of sources.
    """
    return _load(tuple(sources) or default_sources())
