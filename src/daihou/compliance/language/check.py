"""``check_text``: the prohibited-language check (话术合规质检) on one text, and the
evaluation of the check against a labelled set of sentences."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from daihou.compliance.language.lexicon import Category, Severity
from daihou.compliance.language.matcher import Lexicon, load_lexicon
from daihou.compliance.language.normalise import normalise
from daihou.yaml_packs import load_yaml


@dataclass(frozen=True, slots=True)
class Hit:
    """One prohibited expression: ``span`` is ``[start, end)`` in the original text."""

    category: Category
    severity: Severity
    rule_id: str
    span: tuple[int, int]
    text: str

    def describe(self) -> str:
        return (
            f"{self.category.value} ({self.severity.value}, {self.rule_id}) "
            f"{self.text!r} at {self.span[0]}-{self.span[1]}"
        )


@dataclass(frozen=True, slots=True)
class CheckResult:
    text: str
    hits: list[Hit]
    lexicon_version: str

    @property
    def passed(self) -> bool:
        return not self.hits

    @property
    def max_severity(self) -> Severity | None:
        if not self.hits:
            return None
        return max((hit.severity for hit in self.hits), key=lambda s: s.rank)

    @property
    def categories(self) -> frozenset[Category]:
        return frozenset(hit.category for hit in self.hits)

    def describe(self) -> str:
        if self.passed:
            return "passed"
        return "; ".join(hit.describe() for hit in self.hits)


def check_text(text: str, *, language: str = "auto", lexicon: Lexicon | None = None) -> CheckResult:
    """Check ``text`` against the lexicon (default: the packaged zh-CN and en packs).

    ``language`` is ``"auto"`` (every pack: texts mix languages) or a language tag
    (``zh-CN``, ``zh``, ``en``) to use only that language's packs.
    """
    compiled = lexicon if lexicon is not None else load_lexicon()
    norm = normalise(text)
    hits = []
    for raw in compiled.match(norm, language=language):
        start, end = norm.span(raw.start, raw.end)
        hits.append(
            Hit(
                category=raw.rule.category,
                severity=raw.rule.severity,
                rule_id=raw.rule.id,
                span=(start, end),
                text=text[start:end],
            )
        )
    return CheckResult(text=text, hits=hits, lexicon_version=compiled.version)


# --- evaluation ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EvalCase:
    text: str
    expect: Category | None  # None: clean
    also: frozenset[Category] = frozenset()
    lang: str = "zh"
    split: str = "dev"
    note: str = ""

    @property
    def accepted(self) -> frozenset[Category]:
        return self.also | ({self.expect} if self.expect else set())


@dataclass(frozen=True, slots=True)
class Miss:
    case: EvalCase
    found: frozenset[Category]


@dataclass(frozen=True, slots=True)
class EvalReport:
    """Sentence-level figures. A violating sentence counts as found only when a hit has
    the expected category (or one of ``also``); a clean sentence with any hit is a false
    positive; a violating sentence flagged under a wrong category is both a miss and a
    false flag (it lowers recall and precision)."""

    cases: int
    violating: int
    clean: int
    true_positives: int
    false_positives: int
    wrong_category: int
    missed: list[Miss] = field(default_factory=list)
    false_alarms: list[Miss] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.true_positives / self.violating if self.violating else 1.0

    @property
    def precision(self) -> float:
        flagged = self.true_positives + self.false_positives + self.wrong_category
        return self.true_positives / flagged if flagged else 1.0

    def summary(self, label: str = "") -> str:
        head = f"{label}: " if label else ""
        return (
            f"{head}precision {self.precision:.1%}, recall {self.recall:.1%} "
            f"({self.cases} cases: {self.violating} violating, {self.clean} clean; "
            f"{len(self.missed)} missed, {self.false_positives} false positives, "
            f"{self.wrong_category} wrong category)"
        )


def _case(raw: Mapping[str, Any]) -> EvalCase:
    expect = str(raw["expect"])
    return EvalCase(
        text=str(raw["text"]),
        expect=None if expect == "clean" else Category(expect),
        also=frozenset(Category(c) for c in raw.get("also", ())),
        lang=str(raw.get("lang", "zh")),
        split=str(raw.get("split", "dev")),
        note=str(raw.get("note", "")),
    )


def load_eval_set(path: str | Path) -> list[EvalCase]:
    """Read a labelled set (YAML: ``cases: [{text, expect, also?, lang?, split?}]``)."""
    data = load_yaml(Path(path).read_text(encoding="utf-8"))
    return [_case(raw) for raw in data["cases"]]


def evaluate(
    cases: Iterable[EvalCase], *, lexicon: Lexicon | None = None, split: str | None = None
) -> EvalReport:
    """Precision and recall of ``check_text`` on the cases (optionally one split)."""
    chosen = [c for c in cases if split is None or c.split == split]
    tp = fp = wrong = 0
    missed: list[Miss] = []
    false_alarms: list[Miss] = []
    for case in chosen:
        found = check_text(case.text, lexicon=lexicon).categories
        if case.expect is None:
            if found:
                fp += 1
                false_alarms.append(Miss(case, found))
        elif found & case.accepted:
            tp += 1
        else:
            missed.append(Miss(case, found))
            wrong += bool(found)
    violating = sum(1 for c in chosen if c.expect is not None)
    return EvalReport(
        cases=len(chosen),
        violating=violating,
        clean=len(chosen) - violating,
        true_positives=tp,
        false_positives=fp,
        wrong_category=wrong,
        missed=missed,
        false_alarms=false_alarms,
    )
