"""The prohibited-language lexicon: versioned YAML packs validated by Pydantic.

A lexicon pack belongs to the policy pack family: data, not code, with a name, a
version and an effective date. Each rule names a category (威胁, 辱骂, ...), a severity
and what it matches: literal ``terms`` (put into one Aho–Corasick automaton) and regular
expression ``patterns`` for constructions ("不还钱就...你家人"). Both are matched on the
normalised text (see ``normalise``), so terms are written in simplified Chinese and lower
case; patterns see no spaces or punctuation between Chinese characters and one space
between English words.

Packaged packs live in ``daihou/compliance/language/lexicon/<name>.yaml``;
``DAIHOU_LANGUAGE_LEXICON`` (comma-separated names or YAML paths) replaces the default
set, as ``DAIHOU_POLICY_PACK`` does for policy packs.
"""

from __future__ import annotations

import os
import re
from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from daihou.yaml_packs import read_pack, validate_pack

DEFAULT_PACKS = ("zh-CN", "en")


class Category(StrEnum):
    threat = "threat"  # 威胁 (arrest, jail, criminal charges)
    insult = "insult"  # 侮辱/辱骂
    intimidation = "intimidation"  # 恐吓
    impersonation = "impersonation"  # 冒充公检法/政府
    third_party = "third_party"  # 牵连家人、单位、通讯录 (爆通讯录)
    harassment = "harassment"  # 骚扰 (频繁、夜间、轰炸)
    disclosure = "disclosure"  # 向第三方透露债务
    violence = "violence"  # 暴力


class Severity(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Severity.low: 1, Severity.medium: 2, Severity.high: 3}


class LexiconError(ValueError):
    """A lexicon pack that does not load; the message names each bad field."""


def _check_regexes(values: list[str]) -> list[str]:
    for value in values:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"bad regular expression {value!r}: {exc}") from None
    return values


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=r"^[a-z0-9_.-]+$")]
    category: Category
    severity: Severity
    terms: list[Annotated[str, Field(min_length=1)]] = []
    patterns: list[str] = []
    # A negation cue just before the hit ("不会", "will not") clears it.
    negatable: bool = True
    # Regular expressions searched in the hit's clause; any match clears the hit.
    unless: list[str] = []
    description: str = ""

    _patterns_valid = field_validator("patterns", "unless")(_check_regexes)

    @model_validator(mode="after")
    def _has_something(self) -> Rule:
        if not self.terms and not self.patterns:
            raise ValueError("a rule needs terms or patterns")
        return self


class Negation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # How many normalised characters before a hit a cue may start.
    window: Annotated[int, Field(ge=1, le=80)] = 8
    # Regular expressions: negations ("不会", "\\bnot\\b") searched in the window.
    cues: list[str] = []
    # Regular expressions: reported speech or worry ("客户称", "afraid"), searched from
    # the start of the hit's clause: a note that reports what someone else said.
    reported: list[str] = []

    _valid = field_validator("cues", "reported")(_check_regexes)


class LexiconPack(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    pack: Annotated[str, Field(min_length=1)]
    language: Annotated[str, Field(pattern=r"^[a-z]{2}(-[A-Z]{2})?$")]
    version: Annotated[str, Field(min_length=1)]
    effective_from: date
    description: str = ""
    negation: Negation = Negation()
    # Legitimate phrases: a hit lying wholly inside one is cleared ("向法院起诉").
    allow: list[str] = []
    # Pinyin for characters that evaders spell out ("qi诉"); every term gets variants
    # with one such character replaced by its pinyin.
    pinyin: dict[str, str] = {}
    rules: list[Rule]

    @model_validator(mode="after")
    def _unique_ids(self) -> LexiconPack:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} appears twice")
            seen.add(rule.id)
        return self

    @property
    def label(self) -> str:
        return f"{self.pack}@{self.version}"


def load_pack(name_or_path: str) -> LexiconPack:
    """One pack: a packaged name (``zh-CN``, ``en``) or a YAML file path."""
    kind = "lexicon pack"
    source, text = read_pack(
        name_or_path,
        package="daihou.compliance.language",
        folder="lexicon",
        kind=kind,
        error=LexiconError,
    )
    return validate_pack(LexiconPack, text, source=source, kind=kind, error=LexiconError)


def default_sources() -> tuple[str, ...]:
    """``DAIHOU_LANGUAGE_LEXICON`` (comma-separated) or the packaged zh-CN and en packs."""
    configured = os.environ.get("DAIHOU_LANGUAGE_LEXICON", "")
    names = tuple(part.strip() for part in configured.split(",") if part.strip())
    return names or DEFAULT_PACKS
