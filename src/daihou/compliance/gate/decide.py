"""The contact gate's decision: a pure function of request, history and rules (no I/O).

``decide`` answers allow, or deny with the rule that denied, a message in Chinese and
English and the next time the same contact would be allowed if nothing else changed
(``None`` when only a release can help, e.g. a hold or an opt-out). Days are the
borrower's local calendar days; every comparison of instants is made in UTC, so
daylight-saving changes cannot reorder them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from daihou.compliance.gate.packs import AllowedHours, EffectiveCap, EffectiveRules, Intervals
from daihou.compliance.gate.schema import (
    NOT_CONNECTED,
    ContactHistory,
    ContactRequest,
    Decision,
    PastAttempt,
    medium_of,
)

__all__ = ["decide"]

MEDIUM_ZH = {
    "call": "电话",
    "visit": "上门",
    "sms": "短信",
    "email": "电子邮件",
    "letter": "信函",
    "app": "应用推送",
}
HOLD_ZH = {
    "dispute": "争议",
    "complaint": "投诉",
    "legal": "法律程序",
    "hardship": "困难",
    "deceased": "身故",
    "bankruptcy": "破产",
}
_MAX_STEPS = 64


@dataclass(frozen=True, slots=True)
class _Denial:
    rule: str
    zh: str
    en: str
    retry_at: datetime | None


def decide(request: ContactRequest, history: ContactHistory, rules: EffectiveRules) -> Decision:
    """Allow the contact, or deny it naming the rule and the next allowed time."""
    denial = _first_denial(request, history, rules, request.at)
    if denial is None:
        return Decision(True, None, "允许联系", "Contact allowed", None, rules.packs)
    return Decision(
        False,
        denial.rule,
        denial.zh,
        denial.en,
        _next_allowed(request, history, rules, denial.retry_at),
        rules.packs,
    )


def _next_allowed(
    request: ContactRequest,
    history: ContactHistory,
    rules: EffectiveRules,
    retry_at: datetime | None,
) -> datetime | None:
    """The earliest time every rule allows, stepping from one rule's retry to the next."""
    at = retry_at
    for _ in range(_MAX_STEPS):
        if at is None:
            return None
        denial = _first_denial(request, history, rules, at)
        if denial is None:
            return at
        if denial.retry_at is None or _utc(denial.retry_at) <= _utc(at):
            return None
        at = denial.retry_at
    return None


def _first_denial(
    request: ContactRequest, history: ContactHistory, rules: EffectiveRules, at: datetime
) -> _Denial | None:
    local = at.astimezone(request.zone)
    for check in _CHECKS:
        denial = check(request, history, rules, local)
        if denial is not None:
            return denial
    return None


# --- the rules -----------------------------------------------------------------------


def _holds(
    request: ContactRequest, history: ContactHistory, rules: EffectiveRules, _local: datetime
) -> _Denial | None:
    for hold in history.holds:
        if hold.loan_id is not None and request.loan_id not in (None, hold.loan_id):
            continue
        rule = rules.holds.get(hold.kind, {}).get(request.medium)
        if rule:
            zh_kind, medium = HOLD_ZH.get(hold.kind, hold.kind), request.medium
            return _Denial(
                rule,
                f"客户有未解除的{zh_kind}停催，暂停{MEDIUM_ZH[medium]}联系，解除后方可联系",
                f"An active {hold.kind} hold stops {medium} contact until it is released",
                None,
            )
    return None


def _opt_out(
    request: ContactRequest, history: ContactHistory, rules: EffectiveRules, _local: datetime
) -> _Denial | None:
    medium = request.medium
    rule = rules.opt_out.get(request.party, {}).get(medium)
    if rule and medium in history.opt_outs:
        return _Denial(
            rule,
            f"客户已退订{MEDIUM_ZH[medium]}，不得通过该渠道联系",
            f"The customer opted out of {medium}; that channel may not be used",
            None,
        )
    return None


def _third_party(
    request: ContactRequest, history: ContactHistory, rules: EffectiveRules, local: datetime
) -> _Denial | None:
    third = rules.third_party.get(request.party)
    if third is None:
        return None
    denied_by = third.purpose_denied_by(request.purpose)
    if denied_by:
        allowed = ", ".join(sorted(third.purposes or ()))
        return _Denial(
            denied_by,
            f"联系第三方只能请其转告借款人回电（允许的目的：{allowed}），不得透露债务",
            f"A third party may only be contacted for: {allowed}; never about the debt "
            f"(purpose {request.purpose!r})",
            None,
        )
    if third.lost_contact_rule is None:
        return None
    zone, today, days = request.zone, local.date(), third.unreachable_days
    if history.borrower_number_invalid:
        return None
    if history.lost_contact_since is not None and history.lost_contact_since <= today:
        return None
    retry: datetime | None = None
    if history.unreachable_since is not None:
        lost_on = history.unreachable_since.astimezone(zone).date() + timedelta(days=days)
        if lost_on <= today:
            return None
        retry = _midnight(lost_on, zone)
    if history.lost_contact_since is not None:
        declared = _midnight(history.lost_contact_since, zone)
        retry = declared if retry is None or _utc(declared) < _utc(retry) else retry
    return _Denial(
        third.lost_contact_rule,
        f"借款人尚未失联（号码无效或连续{days}天无法联系），不得联系第三方",
        f"Third parties may be contacted only after lost contact with the borrower "
        f"(number invalid or unreachable for {days} days)",
        retry,
    )


def _promise(
    request: ContactRequest, history: ContactHistory, rules: EffectiveRules, local: datetime
) -> _Denial | None:
    until = history.open_promise_until
    rule = rules.promise.get(request.medium)
    if rule and until is not None and local.date() <= until:
        return _Denial(
            rule,
            f"客户承诺于{until.isoformat()}前还款，承诺期内暂停催收",
            f"An open promise to pay until {until.isoformat()} pauses contact",
            _midnight(until + timedelta(days=1), request.zone),
        )
    return None


def _quiet_hours(
    request: ContactRequest, _history: ContactHistory, rules: EffectiveRules, local: datetime
) -> _Denial | None:
    hours: AllowedHours | None = rules.quiet.get(request.medium)
    if hours is None or _inside(hours.intervals, local):
        return None
    rule = next((r for r, own in hours.sources if not _inside(own, local)), hours.sources[0][0])
    medium, windows = request.medium, _fmt_windows(hours.intervals)
    clock = local.strftime("%H:%M:%S")
    return _Denial(
        rule,
        f"借款人当地时间{clock}不在允许的{MEDIUM_ZH[medium]}联系时段（{windows}）内",
        f"{clock} in the borrower's time zone ({request.tz or local.tzname()}) is outside "
        f"the allowed hours for {medium} ({windows})",
        _next_window_start(hours.intervals, local),
    )


def _after_conversation(
    request: ContactRequest, history: ContactHistory, rules: EffectiveRules, local: datetime
) -> _Denial | None:
    medium, today, zone = request.medium, local.date(), request.zone
    for rule in rules.after_conversation:
        if medium not in rule.media or request.party not in rule.parties:
            continue
        talks = [
            a.at
            for a in history.attempts
            if a.outcome == "connected"
            and medium_of(a.channel) in rule.media
            and a.party in rule.parties
            and _same_scope(a, request, rule.per)
        ]
        if history.last_conversation_at is not None:
            talks.append(history.last_conversation_at)
        talks = [t for t in talks if _utc(t) <= _utc(local)]
        if not talks:
            continue
        last = max(talks, key=_utc).astimezone(zone)
        free_on = last.date() + timedelta(days=rule.days)
        if today < free_on:
            return _Denial(
                rule.rule,
                f"已于{last.date().isoformat()}与借款人通话，{rule.days}天内不得再次"
                f"{MEDIUM_ZH[medium]}联系",
                f"A conversation took place on {last.date().isoformat()}; no {medium} "
                f"contact within {rule.days} days after it",
                _midnight(free_on, zone),
            )
    return None


def _caps(
    request: ContactRequest, history: ContactHistory, rules: EffectiveRules, local: datetime
) -> _Denial | None:
    for cap in rules.caps:
        if request.medium not in cap.media or request.party not in cap.parties:
            continue
        if cap.per == "number" and _request_key(request, history) is None:
            continue  # nothing to count against; the dial-time check passes the number
        denial = _cap(cap, request, history, local)
        if denial is not None:
            return denial
    return None


def _cap(
    cap: EffectiveCap, request: ContactRequest, history: ContactHistory, local: datetime
) -> _Denial | None:
    zone, today = request.zone, local.date()
    first_day = today - timedelta(days=cap.window_days - 1)
    days = sorted(
        (
            day
            for a in _counted(cap, request, history)
            if first_day <= (day := a.at.astimezone(zone).date()) <= today
        ),
        reverse=True,
    )
    if len(days) < cap.max:
        return None
    retry = (
        _midnight(days[cap.max - 1] + timedelta(days=cap.window_days), zone) if cap.max else None
    )
    counts_zh = {"attempts": "尝试", "connected": "接通", "not-connected": "未接通"}[cap.counts]
    counts_en = {"attempts": "attempted", "connected": "connected", "not-connected": "unanswered"}[
        cap.counts
    ]
    per_zh = {"debtor": "该债务人（含委外机构）", "debt": "该笔债务", "number": "该号码"}[cap.per]
    per_en = {
        "debtor": "with this debtor (lender and agencies together)",
        "debt": "about this debt",
        "number": "to this number",
    }[cap.per]
    window_zh = "今日" if cap.window_days == 1 else f"近{cap.window_days}天"
    window_en = "today" if cap.window_days == 1 else f"in the last {cap.window_days} days"
    medium = request.medium
    return _Denial(
        cap.rule,
        f"{window_zh}{per_zh}的{MEDIUM_ZH[medium]}{counts_zh}次数已达{len(days)}次"
        f"（上限{cap.max}次）",
        f"{len(days)} {medium} contacts {counts_en} {per_en} {window_en} (limit {cap.max})",
        retry,
    )


def _request_key(request: ContactRequest, history: ContactHistory) -> str | None:
    return history.address_key or request.address_key


def _counted(
    cap: EffectiveCap, request: ContactRequest, history: ContactHistory
) -> Iterable[PastAttempt]:
    key = _request_key(request, history)
    for a in history.attempts:
        if a.direction != "outbound" or a.party not in cap.parties:
            continue
        if medium_of(a.channel) not in cap.media:
            continue
        if cap.counts == "connected" and a.outcome != "connected":
            continue
        if cap.counts == "not-connected" and a.outcome not in NOT_CONNECTED:
            continue
        if cap.per == "number":
            if a.address_key is None or a.address_key != key:
                continue
        elif not _same_scope(a, request, cap.per):
            continue
        yield a


def _same_scope(attempt: PastAttempt, request: ContactRequest, per: str) -> bool:
    """Same debtor; for ``debt``, also the same loan (a contact about no loan in
    particular, or a request about none, counts for every loan)."""
    if attempt.customer_id != request.customer_id:
        return False
    if per != "debt" or request.loan_id is None or attempt.loan_id is None:
        return True
    return attempt.loan_id == request.loan_id


_CHECKS: tuple[
    Callable[[ContactRequest, ContactHistory, EffectiveRules, datetime], _Denial | None], ...
] = (
    _holds,
    _opt_out,
    _third_party,
    _promise,
    _quiet_hours,
    _after_conversation,
    _caps,
)


# --- time helpers --------------------------------------------------------------------


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _at(day: date, seconds: int, zone: tzinfo) -> datetime:
    """The real instant of a local wall time (a time skipped by DST moves forward)."""
    wall = datetime.combine(day, time(seconds // 3600, seconds // 60 % 60, seconds % 60))
    return wall.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)


def _midnight(day: date, zone: tzinfo) -> datetime:
    return _at(day, 0, zone)


def _micros(local: datetime) -> int:
    return ((local.hour * 60 + local.minute) * 60 + local.second) * 1_000_000 + local.microsecond


def _inside(intervals: Intervals, local: datetime) -> bool:
    now = _micros(local)
    return any(start * 1_000_000 <= now < end * 1_000_000 for start, end in intervals)


def _next_window_start(intervals: Intervals, local: datetime) -> datetime | None:
    zone = local.tzinfo
    assert zone is not None
    for offset in range(3):
        day = local.date() + timedelta(days=offset)
        for start, _end in intervals:
            candidate = _at(day, start, zone)
            if _utc(candidate) > _utc(local):
                return candidate
    return None


def _fmt_windows(intervals: Intervals) -> str:
    if not intervals:
        return "无 none"

    def clock(seconds: int) -> str:
        text = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}"
        return f"{text}:{seconds % 60:02d}" if seconds % 60 else text

    return ", ".join(f"{clock(s)}–{clock(e)}" for s, e in intervals)
