"""Vocabulary of the contact gate, its request/history/decision values and the Pydantic
schema of a compliance pack.

A compliance pack (合规规则包) is YAML: a name, a version, the date it applies from,
a jurisdiction and its rules. Code names each kind of rule; the pack supplies the
numbers. Rules speak of *media* (call, visit, sms, email, letter, app): every channel
a treatment uses maps to one medium, so "calls" covers the lender's and the agencies'
calls alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Medium = Literal["call", "visit", "sms", "email", "letter", "app"]
Party = Literal["borrower", "contact-person", "guarantor", "third-party"]
HoldKind = Literal["dispute", "complaint", "legal", "hardship", "deceased", "bankruptcy"]
Outcome = Literal[
    "connected", "unanswered", "busy", "invalid-number", "sent", "delivered", "failed"
]
Direction = Literal["outbound", "inbound"]

MEDIA: tuple[Medium, ...] = ("call", "visit", "sms", "email", "letter", "app")
PARTIES: tuple[Party, ...] = ("borrower", "contact-person", "guarantor", "third-party")
HOLD_KINDS: tuple[HoldKind, ...] = (
    "dispute",  # 争议
    "complaint",  # 投诉
    "legal",  # 法律程序
    "hardship",  # 困难
    "deceased",  # 身故
    "bankruptcy",  # 破产
)
OUTCOMES: tuple[Outcome, ...] = (
    "connected",
    "unanswered",
    "busy",
    "invalid-number",
    "sent",
    "delivered",
    "failed",
)
# An attempt that did not reach anyone (counts towards "unanswered" caps).
NOT_CONNECTED: frozenset[str] = frozenset({"unanswered", "busy", "invalid-number", "failed"})

CHANNEL_MEDIUM: dict[str, Medium] = {
    "call": "call",
    "agency-call": "call",
    "visit": "visit",  # 外访 / 下户
    "agency-visit": "visit",
    "sms": "sms",
    "agency-sms": "sms",
    "email": "email",
    "letter": "letter",
    "agency-letter": "letter",
    "app-push": "app",
}

MediumOrAll = Medium | Literal["all"]
PartyOrAll = Party | Literal["all"]

_WINDOW = re.compile(r"^(\d{2}):(\d{2})(?::(\d{2}))?-(\d{2}):(\d{2})(?::(\d{2}))?$")
DAY = 86_400
RuleId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]*$")]


def medium_of(channel: str) -> Medium:
    """The medium of a channel (``agency-call`` → ``call``); a medium names itself."""
    if channel in CHANNEL_MEDIUM:
        return CHANNEL_MEDIUM[channel]
    raise ValueError(f"unknown channel {channel!r}; known: {sorted(CHANNEL_MEDIUM)}")


def expand_media(values: list[MediumOrAll]) -> frozenset[Medium]:
    return frozenset(MEDIA) if "all" in values else frozenset(v for v in values if v != "all")


def expand_parties(values: list[PartyOrAll]) -> frozenset[Party]:
    return frozenset(PARTIES) if "all" in values else frozenset(v for v in values if v != "all")


def parse_window(text: str) -> tuple[tuple[int, int], ...]:
    """``"08:00-22:00"`` → ``((28800, 79200),)``: allowed seconds after local midnight.

    The end is exclusive (22:00:00 is outside); ``24:00`` ends at midnight; a window
    whose end is before its start wraps past midnight and becomes two intervals.
    """
    match = _WINDOW.match(text.strip())
    if not match:
        raise ValueError(f"window {text!r} is not HH:MM-HH:MM")
    h1, m1, s1, h2, m2, s2 = (int(g) if g else 0 for g in match.groups())
    if h1 > 23 or m1 > 59 or s1 > 59 or m2 > 59 or s2 > 59 or h2 > 24 or (h2 == 24 and m2 + s2):
        raise ValueError(f"window {text!r} has an invalid time")
    start, end = h1 * 3600 + m1 * 60 + s1, h2 * 3600 + m2 * 60 + s2
    if start == end:
        raise ValueError(f"window {text!r} is empty; write 00:00-24:00 for the whole day")
    if start < end:
        return ((start, end),)
    return tuple(w for w in ((0, end), (start, DAY)) if w[0] < w[1])


# --- what the gate is asked and answers ---------------------------------------------


def address_key(address: str) -> str:
    """The form in which a number or address is compared and stored.

    Phone numbers keep their digits only (``+86 138-0013-8000`` = ``13800138000``);
    e-mail addresses are lower-cased. The gate only ever compares keys for equality.
    """
    text = address.strip()
    if "@" in text:
        return text.lower()
    digits = re.sub(r"\D", "", text)
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    if len(digits) == 15 and digits.startswith("0086"):
        digits = digits[4:]
    return digits or text


@dataclass(frozen=True, slots=True)
class ContactRequest:
    """A contact about to happen.

    ``at`` is the time of the contact: an aware datetime, or a naive local time with
    ``tz`` (an IANA name such as ``Asia/Shanghai``) — the borrower's time zone. An aware
    ``at`` with ``tz`` is converted to ``tz``. ``address`` is the number, e-mail or
    postal address contacted; ``organisation`` is the lender or the agency's id.
    """

    customer_id: str
    channel: str
    party: Party
    at: datetime
    tz: str | None = None
    loan_id: str | None = None
    case_id: str | None = None
    address: str | None = None
    purpose: str = "collection"
    organisation: str = "lender"

    def __post_init__(self) -> None:
        medium_of(self.channel)
        if self.party not in PARTIES:
            raise ValueError(f"unknown party {self.party!r}; known: {list(PARTIES)}")
        if not self.customer_id or not self.organisation:
            raise ValueError("a contact request needs a customer id and an organisation")
        if self.tz is not None:
            zone = ZoneInfo(self.tz)
            at = self.at.replace(tzinfo=zone) if self.at.tzinfo is None else self.at
            object.__setattr__(self, "at", at.astimezone(zone))
        elif self.at.tzinfo is None:
            raise ValueError("a naive contact time needs the borrower's time zone (tz)")
        elif isinstance(self.at.tzinfo, ZoneInfo):
            object.__setattr__(self, "tz", self.at.tzinfo.key)

    @property
    def zone(self) -> tzinfo:
        return ZoneInfo(self.tz) if self.tz else self.at.tzinfo or UTC

    @property
    def medium(self) -> Medium:
        return medium_of(self.channel)

    @property
    def local_date(self) -> date:
        return self.at.date()

    @property
    def address_key(self) -> str | None:
        return address_key(self.address) if self.address else None


@dataclass(frozen=True, slots=True)
class PastAttempt:
    """A contact that happened. ``address_key`` is ``address_key(number)``."""

    at: datetime
    channel: str
    party: Party
    outcome: Outcome
    customer_id: str
    loan_id: str | None = None
    organisation: str = "lender"
    address_key: str | None = None
    direction: Direction = "outbound"


@dataclass(frozen=True, slots=True)
class ActiveHold:
    kind: str
    loan_id: str | None = None  # None: every loan of the customer
    hold_id: int | None = None


@dataclass(frozen=True, slots=True)
class ContactHistory:
    """What the gate knows about the debtor when deciding.

    ``attempts``: contacts of the debtor (and to the request's number, whoever it
    belongs to) over the rules' look-back window. ``unreachable_since``: the first
    failed attempt to reach the borrower since they were last reached;
    ``borrower_number_invalid``: the latest call to the borrower found the number
    invalid; ``lost_contact_since``: lost contact (失联) declared by the collections
    case. ``open_promise_until``: the date of an open promise to pay.
    ``last_conversation_at``: a conversation known from outside ``attempts``.
    ``address_key``: the request's address in the form ``attempts`` store it (None:
    ``address_key(request.address)``).
    """

    attempts: tuple[PastAttempt, ...] = ()
    address_key: str | None = None
    holds: tuple[ActiveHold, ...] = ()
    opt_outs: frozenset[str] = frozenset()
    open_promise_until: date | None = None
    lost_contact_since: date | None = None
    unreachable_since: datetime | None = None
    borrower_number_invalid: bool = False
    last_conversation_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    rule: str | None
    message_zh: str
    message_en: str
    next_allowed_at: datetime | None
    packs: tuple[str, ...] = ()

    @property
    def message(self) -> str:
        return f"{self.message_zh} / {self.message_en}"


# --- compliance packs ---------------------------------------------------------------


def _all_parties() -> list[PartyOrAll]:
    return ["all"]


def _borrower() -> list[PartyOrAll]:
    return ["borrower"]


def _third_party() -> list[Party]:
    return ["third-party"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rule(Strict):
    """A rule of a pack; its id is unique within the pack (``quiet-hours``)."""

    id: RuleId


class QuietHours(Rule):
    """Contact on these media only inside the allowed windows, borrower's local time."""

    id: RuleId = "quiet-hours"
    media: list[MediumOrAll] = Field(min_length=1)
    allowed: list[str] = Field(min_length=1, description='e.g. ["08:00-22:00"]')

    @field_validator("allowed")
    @classmethod
    def _windows(cls, value: list[str]) -> list[str]:
        for text in value:
            parse_window(text)
        return value

    def intervals(self) -> tuple[tuple[int, int], ...]:
        return tuple(w for text in self.allowed for w in parse_window(text))


class Cap(Rule):
    """At most ``max`` contacts in ``window_days`` local calendar days (1 = today).

    ``counts``: ``attempts`` (every outbound attempt), ``connected`` or
    ``not-connected`` (unanswered, busy, invalid number, failed). ``per``: the debtor
    (all their loans, across the lender and every agency), the debt (the request's
    loan) or the number/address contacted (whoever it belongs to). Only contacts with
    the listed parties count, and only requests to them are capped.
    """

    id: RuleId
    max: int = Field(ge=0)
    window_days: int = Field(default=1, ge=1, le=366)
    counts: Literal["attempts", "connected", "not-connected"]
    per: Literal["debtor", "debt", "number"]
    media: list[MediumOrAll] = Field(min_length=1)
    parties: list[PartyOrAll] = Field(default_factory=_all_parties, min_length=1)


class AfterConversation(Rule):
    """No contact on these media within ``days`` local calendar days after a conversation
    (the day of the conversation is day one), e.g. Reg F §1006.14(b)(2)(i)(B)."""

    id: RuleId = "after-conversation"
    days: int = Field(ge=1, le=366)
    per: Literal["debtor", "debt"] = "debt"
    media: list[MediumOrAll] = Field(min_length=1)
    parties: list[PartyOrAll] = Field(default_factory=_borrower, min_length=1)


class ThirdParty(Rule):
    """Contact with these parties only after lost contact (失联) with the borrower — a
    number found invalid or ``unreachable_days`` days without reaching them — and only
    for the listed purposes (``None``: any purpose)."""

    id: RuleId = "third-party"
    parties: list[Party] = Field(default_factory=_third_party, min_length=1)
    requires_lost_contact: bool = True
    unreachable_days: int = Field(default=3, ge=0)
    allowed_purposes: list[str] | None = None


class OptOut(Rule):
    """Opt-outs (退订) on these media are honoured for contacts with these parties."""

    id: RuleId = "opt-out"
    media: list[MediumOrAll] = Field(min_length=1)
    parties: list[PartyOrAll] = Field(default_factory=_borrower, min_length=1)


class Holds(Rule):
    """Which hold kinds (停催) block which media until the hold is released."""

    id: RuleId = "holds"
    blocks: dict[HoldKind, list[MediumOrAll]]


class Promise(Rule):
    """An open promise to pay (承诺还款) blocks these media through its date."""

    id: RuleId = "open-promise"
    media: list[MediumOrAll] = Field(min_length=1)


class Rules(Strict):
    quiet_hours: list[QuietHours] = Field(default_factory=list)
    caps: list[Cap] = Field(default_factory=list)
    after_conversation: list[AfterConversation] = Field(default_factory=list)
    third_party: list[ThirdParty] = Field(default_factory=list)
    opt_out: list[OptOut] = Field(default_factory=list)
    holds: list[Holds] = Field(default_factory=list)
    promise: list[Promise] = Field(default_factory=list)

    def ids(self) -> list[str]:
        rules: list[Rule] = [
            *self.quiet_hours,
            *self.caps,
            *self.after_conversation,
            *self.third_party,
            *self.opt_out,
            *self.holds,
            *self.promise,
        ]
        return [rule.id for rule in rules]


class ContactPack(Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]*$")
    version: str
    effective_on: date
    jurisdiction: str
    title: str = ""
    rules: Rules

    @model_validator(mode="after")
    def _unique_ids(self) -> ContactPack:
        ids = self.rules.ids()
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"rule ids must be unique within a pack: {dupes}")
        return self

    def rule_id(self, rule_id: str) -> str:
        """The qualified id a decision names: ``cn-2026/quiet-hours``."""
        return f"{self.name}/{rule_id}"
