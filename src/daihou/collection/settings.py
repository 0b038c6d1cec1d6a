"""Policy-pack settings of the collections strategy (POLICY.md §3–§6).

A strategy is a list of rules. Each rule names one action, the conditions a loan or
case must meet (``when``), and its timing: the days it fires on (a DPD range with a
cadence, or days before a due date for reminders) and the local times of its slots
(``times``; two times = twice a day). Every number is data; ``cn-bank-default.yaml``
carries the defaults of POLICY.md §5.

Days: the run for business date D reads the book as closed on D and plans the contacts
of the next day. ``T+n`` is a loan whose oldest unpaid installment fell due n days
before D (n = DPD at the close; T+0 = the due date was missed on D). A reminder
``days_before_due: k`` fires when an installment falls due k days after the day the
contact is made (D + 1).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Action = Literal[
    "sms",  # 短信
    "email",
    "letter",  # 催收函 / 逾期通知书
    "call",  # call task: call the borrower
    "contact-call",  # call the borrower's contact persons (after T+3)
    "contact-repair",  # 信息修复 task
    "visit",  # 外访 / 下户 field visit
    "agency-placement",  # 委外 review task for a supervisor
    "legal-file",  # prepare the litigation file
    "legal-referral",  # 诉讼 referral review task for a supervisor
]
# Action → (gate channel, party) for the actions that contact someone.
CONTACT_ACTIONS: dict[str, tuple[str, str]] = {
    "sms": ("sms", "borrower"),
    "email": ("email", "borrower"),
    "letter": ("letter", "borrower"),
    "call": ("call", "borrower"),
    "contact-call": ("call", "contact-person"),
    "visit": ("visit", "borrower"),
}
MESSAGE_ACTIONS = frozenset({"sms", "email", "letter"})
# Actions that become a task on someone's list (催收任务单), and whose list.
TASK_ACTIONS: dict[str, Literal["collector", "supervisor"]] = {
    "call": "collector",
    "contact-call": "collector",
    "contact-repair": "collector",
    "visit": "collector",
    "legal-file": "collector",
    "agency-placement": "supervisor",
    "legal-referral": "supervisor",
}
Tier = Literal["desk", "junior", "senior"]
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Condition(Strict):
    """What must hold for a rule to fire; every field given must hold (AND), and at least
    one of ``any_of`` when it is given (OR). Amounts in CNY; bounds inclusive except the
    ``*_above`` ones (strictly greater)."""

    buckets: list[str] | None = None
    overdue_above: Decimal | None = None
    overdue_at_most: Decimal | None = None
    outstanding_above: Decimal | None = None
    outstanding_at_most: Decimal | None = None
    products: list[str] | None = None
    min_risk_score: int | None = None
    max_risk_score: int | None = None
    segments: list[str] | None = None
    contact_status: Literal["reachable", "lost"] | None = None
    min_days_lost: int | None = Field(default=None, ge=0)
    refused: bool | None = None
    min_failed_visits: int | None = Field(default=None, ge=0)
    min_broken_promises: int | None = Field(default=None, ge=0)
    any_of: list[Condition] | None = None


class Rule(Strict):
    """One treatment of a strategy.

    Overdue rules fire for ``min_dpd ≤ n ≤ max_dpd`` on the days where
    ``(n - min_dpd) % every_days == 0`` (``cadence_from: lost``: counted in days since
    lost contact was declared, and only while lost); ``once`` fires only the first time in a case.
    Reminder rules (``days_before_due``) fire for loans with nothing overdue.
    ``pause_on_promise``: an open promise to pay (承诺还款) pauses the rule.
    """

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    action: Action
    purpose: str = "collection"
    template: str | None = None
    min_dpd: int | None = Field(default=None, ge=0)
    max_dpd: int | None = Field(default=None, ge=0)
    every_days: int = Field(default=1, ge=1)
    cadence_from: Literal["dpd", "lost"] = "dpd"
    once: bool = False
    days_before_due: int | None = Field(default=None, ge=1)
    first_due_only: bool = False
    times: list[str] = Field(default_factory=lambda: ["09:00"], min_length=1)
    when: Condition = Field(default_factory=Condition)
    pause_on_promise: bool = True

    @field_validator("times")
    @classmethod
    def _clock(cls, value: list[str]) -> list[str]:
        bad = [t for t in value if not _TIME.match(t)]
        if bad:
            raise ValueError(f"times must be HH:MM (local time); bad: {bad}")
        return value

    @model_validator(mode="after")
    def _timing(self) -> Rule:
        reminder = self.days_before_due is not None
        if reminder == (self.min_dpd is not None):
            raise ValueError(f"rule {self.id}: give either days_before_due or min_dpd")
        if reminder and self.action not in CONTACT_ACTIONS:
            raise ValueError(f"rule {self.id}: a reminder must contact (sms, email, call…)")
        if self.max_dpd is not None and self.min_dpd is not None and self.max_dpd < self.min_dpd:
            raise ValueError(f"rule {self.id}: max_dpd is below min_dpd")
        return self

    @property
    def is_reminder(self) -> bool:
        return self.days_before_due is not None


class Strategy(Strict):
    name: str
    rules: list[Rule]

    @field_validator("rules")
    @classmethod
    def _unique(cls, value: list[Rule]) -> list[Rule]:
        ids = [r.id for r in value]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate rule ids: {dupes}")
        return value


class Stage(Strict):
    """A DPD stage of a case (早期 / 初级 / 高级 …) and the collector tier that works it."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    min_dpd: int = Field(ge=1)
    tier: Tier | None = None


class CollectionsSettings(Strict):
    """Everything the daily collections run reads from the policy pack."""

    timezone: str = "Asia/Shanghai"
    stages: list[Stage] = Field(
        default_factory=lambda: [
            Stage(name="early", min_dpd=1, tier="desk"),
            Stage(name="junior", min_dpd=30, tier="junior"),
            Stage(name="senior", min_dpd=60, tier="senior"),
        ]
    )
    high_risk_score: int = 700  # risk_score ≥ this: senior collectors (§6)
    high_risk_from_dpd: int = 30  # … once the case is past the early stage
    lost_contact_after_days: int = Field(default=5, ge=1)  # 失联 (§4, 002)
    champion: Strategy = Field(default_factory=lambda: Strategy(name="champion", rules=[]))
    challenger: Strategy | None = None
    challenger_percent: int = Field(default=0, ge=0, le=100)
    arm_salt: str = "daihou-arm"  # changing it reshuffles future cases only
    risk_factor_base: int = Field(default=500, ge=1)  # risk = 1 + score / base (no score: 1)
    feedback_deadline: str = "17:00"  # 任务单反馈截止 (§6)

    @field_validator("stages")
    @classmethod
    def _ascending(cls, value: list[Stage]) -> list[Stage]:
        if not value or value[0].min_dpd != 1:
            raise ValueError("the first stage must start at 1 day past due")
        starts = [s.min_dpd for s in value]
        if starts != sorted(set(starts)):
            raise ValueError("stages must have strictly increasing min_dpd")
        return value

    @field_validator("feedback_deadline")
    @classmethod
    def _deadline(cls, value: str) -> str:
        if not _TIME.match(value):
            raise ValueError("feedback_deadline must be HH:MM")
        return value

    @model_validator(mode="after")
    def _challenger(self) -> CollectionsSettings:
        if self.challenger_percent and self.challenger is None:
            raise ValueError("challenger_percent > 0 needs a challenger strategy")
        return self

    def stage_for(self, dpd: int) -> Stage:
        current = self.stages[0]
        for stage in self.stages:
            if dpd >= stage.min_dpd:
                current = stage
        return current

    def strategy(self, arm: str) -> Strategy:
        if arm == "challenger" and self.challenger is not None:
            return self.challenger
        return self.champion
