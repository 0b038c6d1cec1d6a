"""The borrower behaviour model of the demo and the simulator (``behaviour.yaml``).

Every random choice is a pure function of (seed, loan, day, purpose) — see ``draw`` —
so two simulations with different strategies see the same borrowers make the same
draws, and the only differences come from what the strategies did.
"""

from __future__ import annotations

import hashlib
import math
from decimal import Decimal
from importlib.resources import files
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from daihou.yaml_packs import load_yaml

TREATMENTS = ("reminder", "sms", "email", "letter", "call", "visit", "promise", "plan", "agency")


class Segment(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    share: float = Field(gt=0, le=1)
    on_time: float = Field(ge=0, le=1)
    reminder_lift: float = Field(default=0.0, ge=0, le=1)
    cure_hazard: float = Field(ge=0, le=1)
    decay_days: float = Field(gt=0)
    partial: float = Field(default=0.0, ge=0, le=1)
    response: float = Field(default=1.0, ge=0, le=1)  # share of the treatment lifts felt
    reachable: float = Field(ge=0, le=1)
    promise_keep: float = Field(ge=0, le=1)
    complaint: float = Field(default=0.0, ge=0, le=1)


class BehaviourModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    segments: dict[str, Segment]
    lifts: dict[str, float] = Field(default_factory=dict)
    costs: dict[str, Decimal] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _shares(self) -> BehaviourModel:
        total = sum(s.share for s in self.segments.values())
        if not math.isclose(total, 1.0, abs_tol=1e-9):
            raise ValueError(f"segment shares must add up to 1, not {total:g}")
        unknown = set(self.lifts) - set(TREATMENTS)
        if unknown:
            raise ValueError(f"lifts: unknown treatment(s) {', '.join(sorted(unknown))}")
        return self

    def segment_of(self, seed: int, loan_id: str) -> str:
        """The loan's segment: the same for every simulation with this seed."""
        u, acc = draw(seed, loan_id, 0, "segment"), 0.0
        for name, seg in self.segments.items():
            acc += seg.share
            if u < acc:
                return name
        return next(reversed(self.segments))

    def hazard(self, segment: str, dpd: int, treatments: set[str]) -> float:
        """Probability that an overdue borrower pays what is owed today."""
        seg = self.segments[segment]
        base = seg.cure_hazard * math.exp(-dpd / seg.decay_days)
        lift = seg.response * sum(self.lifts.get(t, 0.0) for t in treatments)
        return min(0.95, base + lift)


def draw(seed: int, loan_id: str, day: int, purpose: str) -> float:
    """A uniform number in [0, 1) fixed by its arguments (counter-based randomness)."""
    digest = hashlib.blake2b(f"{seed}|{loan_id}|{day}|{purpose}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def load_behaviour(path: str | Path | None = None) -> BehaviourModel:
    """The packaged default model, or a YAML file of the same shape."""
    if path is None:
        text = files("daihou.demo").joinpath("behaviour.yaml").read_text(encoding="utf-8")
        where = "behaviour.yaml (default)"
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"behaviour model {path}: {exc.strerror}") from None
        where = str(path)
    try:
        return BehaviourModel.model_validate(load_yaml(text))
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"behaviour model {where}: {loc}: {first['msg']}") from None
