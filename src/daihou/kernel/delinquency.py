"""Delinquency rules as pure functions: buckets (M0–M7+) and five-tier classification
(五级分类) floors. End of day compiles the same rules to SQL; the replay calls them per
day; a test holds the two equal."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# 五级分类, lowest risk first; the rank is the index.
CLASSES = ("normal", "special-mention", "substandard", "doubtful", "loss")
CLASS_NAMES_ZH = {
    "normal": "正常",
    "special-mention": "关注",
    "substandard": "次级",
    "doubtful": "可疑",
    "loss": "损失",
}
NPL_CLASSES = ("substandard", "doubtful", "loss")  # 不良


@dataclass(frozen=True, slots=True)
class Bucket:
    name: str
    min_dpd: int
    max_dpd: int | None  # None: no upper bound


@dataclass(frozen=True, slots=True)
class Floor:
    """From ``min_dpd`` days past due the class is at least ``risk_class``."""

    min_dpd: int
    risk_class: str


def rank(risk_class: str) -> int:
    return CLASSES.index(risk_class)


def bucket_for(dpd: int, buckets: Sequence[Bucket]) -> str:
    for b in buckets:
        if dpd >= b.min_dpd and (b.max_dpd is None or dpd <= b.max_dpd):
            return b.name
    raise ValueError(f"no bucket covers {dpd} days past due")


def class_floor(dpd: int, floors: Sequence[Floor], *, restructured: bool = False) -> str:
    """The lowest class the rules allow: the highest floor reached by ``dpd``; a loan in
    its restructuring observation period is at least special mention (关注)."""
    best = 0
    for f in floors:
        if dpd >= f.min_dpd:
            best = max(best, rank(f.risk_class))
    if restructured:
        best = max(best, rank("special-mention"))
    return CLASSES[best]


def effective_class(floor: str, override: str | None) -> str:
    """A manual override can only raise the class, never go below the floor."""
    if override is None:
        return floor
    return CLASSES[max(rank(floor), rank(override))]
