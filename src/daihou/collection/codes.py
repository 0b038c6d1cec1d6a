"""The fixed vocabularies of contact work, in one place: channels, parties, outcome
codes (催收结果代码), borrower attitudes, next actions and visit results.

Each outcome says whether it reached the borrower (a right-party contact, RPC, when
the party is the borrower) and what the contact gate records for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from daihou.compliance.gate.schema import Outcome as GateOutcome

CHANNELS = ("call", "sms", "email", "letter", "visit", "wechat", "app", "in-branch")
MESSAGE_CHANNELS = frozenset({"sms", "email", "letter", "app"})
CONVERSATION_CHANNELS = frozenset({"call", "visit", "wechat", "in-branch"})
PHONE_CHANNELS = frozenset({"call", "sms", "wechat"})
# The gate's channel per channel; agencies' staff use the agency- channels. ``in-branch``
# is the borrower coming to a branch: always inbound, never asked of the gate.
GATE_CHANNEL = {
    "call": "call",
    "sms": "sms",
    "email": "email",
    "letter": "letter",
    "visit": "visit",
    "wechat": "app-push",
    "app": "app-push",
}
AGENCY_GATE_CHANNEL = {"call": "agency-call", "sms": "agency-sms", "visit": "agency-visit"}

PARTIES = ("borrower", "contact-person", "guarantor", "third-party")


@dataclass(frozen=True, slots=True)
class OutcomeCode:
    code: str
    zh: str
    reached: bool  # someone answered (the party, whoever they are)
    borrower_engaged: bool  # the borrower themself took part: an RPC when party=borrower
    gate: GateOutcome  # what the contact gate records for a conversation channel


_OUTCOMES = (
    OutcomeCode("rpc", "本人接通", True, True, "connected"),
    OutcomeCode("promise", "承诺还款", True, True, "connected"),
    OutcomeCode("refused", "拒绝还款", True, True, "connected"),
    OutcomeCode("dispute", "争议", True, True, "connected"),
    OutcomeCode("complaint", "投诉", True, True, "connected"),
    OutcomeCode("hardship", "困难", True, True, "connected"),
    OutcomeCode("already-paid", "称已还款", True, True, "connected"),
    OutcomeCode("callback-requested", "约定回电", True, True, "connected"),
    OutcomeCode("wrong-party", "非本人", True, False, "connected"),
    OutcomeCode("message-left", "留言转告", True, False, "connected"),
    OutcomeCode("deceased", "身故", True, False, "connected"),
    OutcomeCode("bankruptcy", "破产", True, False, "connected"),
    OutcomeCode("no-answer", "无人接听", False, False, "unanswered"),
    OutcomeCode("switched-off", "关机/停机", False, False, "unanswered"),
    OutcomeCode("busy", "占线", False, False, "busy"),
    OutcomeCode("invalid-number", "空号/错号", False, False, "invalid-number"),
    OutcomeCode("sent", "已发送", False, False, "sent"),
    OutcomeCode("delivered", "已送达", False, False, "delivered"),
    OutcomeCode("failed", "发送失败", False, False, "failed"),
)
OUTCOMES: dict[str, OutcomeCode] = {o.code: o for o in _OUTCOMES}
MESSAGE_OUTCOMES = frozenset({"sent", "delivered", "failed"})
# Calls to a number that did not reach the borrower: they exhaust that number for the
# lost-contact evaluation (``daihou.collection.repair``).
UNREACHED_OUTCOMES = frozenset(
    {"no-answer", "switched-off", "busy", "invalid-number", "wrong-party"}
)

ATTITUDES = ("cooperative", "temporary-difficulty", "unwilling", "evasive", "hostile", "unknown")
NEXT_ACTIONS = (
    "call-back",
    "call-contacts",
    "sms",
    "letter",
    "visit",
    "contact-repair",
    "plan",
    "escalate",
    "none",
)

VISIT_KINDS = ("home", "workplace", "other")
# Visit results; the first group met the borrower, the second are failed visits.
VISIT_MET = ("met-borrower", "promise", "refused", "dispute")
VISIT_FAILED = ("not-at-home", "moved", "address-invalid", "met-third-party", "refused-entry")
VISIT_RESULTS = VISIT_MET + VISIT_FAILED

REPAIR_KINDS = ("phone", "address", "employer", "email", "wechat")
REPAIR_SOURCES = (
    "carrier",  # 运营商
    "police",  # 公安
    "social",  # 社交
    "contact-person",  # 联系人
    "borrower",  # 本人提供
    "bureau",  # 征信
    "court",  # 法院
    "other",
)


def outcome(code: str) -> OutcomeCode:
    try:
        return OUTCOMES[code]
    except KeyError:
        raise ValueError(f"unknown outcome {code!r}; known: {list(OUTCOMES)}") from None


def choose(value: str, allowed: tuple[str, ...], field: str) -> str:
    if value not in allowed:
        raise ValueError(f"{field} {value!r} is not one of {list(allowed)}")
    return value
