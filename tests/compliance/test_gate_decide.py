"""The contact gate's pure decision: boundaries, time zones, DST, every kind of rule."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daihou.compliance.gate.decide import decide
from daihou.compliance.gate.packs import EffectiveRules, load_contact_pack, load_rules
from daihou.compliance.gate.schema import (
    CHANNEL_MEDIUM,
    HOLD_KINDS,
    ActiveHold,
    ContactHistory,
    ContactRequest,
    Decision,
    PastAttempt,
    address_key,
)

CN = load_rules("cn-2026")
US = load_rules("us-reg-f")
BOTH = load_rules("cn-2026,us-reg-f")
SHANGHAI = ZoneInfo("Asia/Shanghai")
LA = ZoneInfo("America/Los_Angeles")
NUMBER = "13800138000"


def req(at: str, tz: str = "Asia/Shanghai", **kw: Any) -> ContactRequest:
    fields: dict[str, Any] = {
        "customer_id": "C1",
        "channel": "call",
        "party": "borrower",
        "loan_id": "L1",
        "address": NUMBER,
    }
    fields.update(kw)
    return ContactRequest(at=datetime.fromisoformat(at), tz=tz, **fields)


def attempt(at: str, tz: str = "Asia/Shanghai", **kw: Any) -> PastAttempt:
    fields: dict[str, Any] = {
        "channel": "call",
        "party": "borrower",
        "outcome": "connected",
        "customer_id": "C1",
        "loan_id": "L1",
        "address_key": address_key(NUMBER),
    }
    fields.update(kw)
    local = datetime.fromisoformat(at).replace(tzinfo=ZoneInfo(tz))
    return PastAttempt(at=local.astimezone(UTC), **fields)


def check(request: ContactRequest, rules: EffectiveRules = CN, **history: Any) -> Decision:
    return decide(request, ContactHistory(**history), rules)


def local(day: str, clock: str, zone: ZoneInfo = SHANGHAI) -> datetime:
    return datetime.combine(date.fromisoformat(day), time.fromisoformat(clock), tzinfo=zone)


# --- quiet hours ---------------------------------------------------------------------


def test_21_59_59_is_allowed_and_22_00_00_denied_until_08_00_next_morning() -> None:
    assert check(req("2026-03-02T21:59:59")).allowed
    assert check(req("2026-03-02T21:59:59.999999")).allowed

    denied = check(req("2026-03-02T22:00:00"))
    assert not denied.allowed
    assert denied.rule == "cn-2026/quiet-hours"
    assert denied.next_allowed_at == local("2026-03-03", "08:00")
    assert "22:00:00" in denied.message_zh and "outside the allowed hours" in denied.message_en


def test_07_59_59_is_denied_until_08_00_the_same_morning_and_08_00_allowed() -> None:
    denied = check(req("2026-03-02T07:59:59"))
    assert (denied.allowed, denied.rule) == (False, "cn-2026/quiet-hours")
    assert denied.next_allowed_at == local("2026-03-02", "08:00")
    assert check(req("2026-03-02T08:00:00")).allowed
    assert not check(req("2026-03-02T00:00:00")).allowed


@pytest.mark.parametrize("channel", sorted(CHANNEL_MEDIUM))
def test_cn_quiet_hours_cover_every_channel(channel: str) -> None:
    assert not check(req("2026-03-02T23:00:00", channel=channel)).allowed
    assert check(req("2026-03-02T10:00:00", channel=channel)).allowed


def test_the_borrowers_time_zone_decides_urumqi_against_shanghai() -> None:
    instant = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai, 20:30 in Urumqi
    shanghai = ContactRequest(
        customer_id="C1", channel="call", party="borrower", at=instant, tz="Asia/Shanghai"
    )
    urumqi = ContactRequest(
        customer_id="C1", channel="call", party="borrower", at=instant, tz="Asia/Urumqi"
    )
    assert not check(shanghai).allowed
    assert check(urumqi).allowed
    later = ContactRequest(
        customer_id="C1",
        channel="call",
        party="borrower",
        at=datetime(2026, 3, 2, 16, 0, tzinfo=UTC),
        tz="Asia/Urumqi",
    )
    denied = check(later)  # 22:00 in Urumqi
    assert denied.rule == "cn-2026/quiet-hours"
    assert denied.next_allowed_at == local("2026-03-03", "08:00", ZoneInfo("Asia/Urumqi"))


def test_a_naive_time_needs_a_zone_and_an_aware_one_keeps_its_zone() -> None:
    with pytest.raises(ValueError, match="time zone"):
        ContactRequest(customer_id="C1", channel="sms", party="borrower", at=datetime(2026, 3, 2))
    aware = ContactRequest(
        customer_id="C1", channel="sms", party="borrower", at=local("2026-03-02", "09:00")
    )
    assert aware.tz == "Asia/Shanghai" and aware.local_date == date(2026, 3, 2)
    with pytest.raises(ValueError, match="unknown channel"):
        req("2026-03-02T09:00:00", channel="pigeon")
    with pytest.raises(ValueError, match="unknown party"):
        req("2026-03-02T09:00:00", party="neighbour")


def test_us_borrower_in_los_angeles_at_21_00_local_is_denied() -> None:
    tz = "America/Los_Angeles"
    assert check(req("2026-06-10T20:59:59", tz), US).allowed
    denied = check(req("2026-06-10T21:00:00", tz), US)
    assert denied.rule == "us-reg-f/inconvenient-time"
    assert denied.next_allowed_at == local("2026-06-11", "08:00", LA)
    assert check(req("2026-06-10T21:00:00", tz, channel="letter"), US).allowed


def test_dst_spring_forward_next_morning_is_08_00_pdt_nine_and_a_half_hours_later() -> None:
    tz = "America/Los_Angeles"  # 2026-03-08 02:00 PST -> 03:00 PDT
    denied = check(req("2026-03-07T21:30:00", tz), US)
    nxt = denied.next_allowed_at
    assert nxt == local("2026-03-08", "08:00", LA)
    assert nxt is not None and nxt.utcoffset() == timedelta(hours=-7)
    assert nxt - datetime(2026, 3, 8, 5, 30, tzinfo=UTC) == timedelta(hours=9, minutes=30)
    assert not check(req("2026-03-08T07:59:59", tz), US).allowed
    assert check(req("2026-03-08T08:00:00", tz), US).allowed


def test_dst_fall_back_ambiguous_night_is_denied_until_08_00_pst() -> None:
    tz = "America/Los_Angeles"  # 2026-11-01 02:00 PDT -> 01:00 PST
    denied = check(req("2026-11-01T01:30:00", tz), US)
    assert denied.rule == "us-reg-f/inconvenient-time"
    nxt = denied.next_allowed_at
    assert nxt == local("2026-11-01", "08:00", LA)
    assert nxt is not None and nxt.utcoffset() == timedelta(hours=-8)


def test_rolling_window_counts_local_days_across_dst() -> None:
    tz = "America/Los_Angeles"
    days = [f"2026-03-0{d}T20:30:00" for d in range(2, 9)]  # 7 calls, DST on the 8th
    history = [attempt(d, tz, outcome="unanswered") for d in days]
    denied = check(req("2026-03-08T20:45:00", tz), US, attempts=tuple(history))
    assert denied.rule == "us-reg-f/call-frequency"
    assert denied.next_allowed_at == local("2026-03-09", "08:00", LA)


# --- caps ----------------------------------------------------------------------------


def test_fourth_connected_call_denied_counting_lender_and_agencies() -> None:
    calls = (
        attempt("2026-03-02T09:00:00", organisation="lender"),
        attempt("2026-03-02T10:00:00", channel="agency-call", organisation="agency-A"),
        attempt("2026-03-02T11:00:00", channel="agency-call", organisation="agency-B"),
        attempt("2026-03-02T11:30:00", outcome="unanswered"),
        attempt("2026-03-02T11:40:00", party="contact-person", address_key="139"),
    )
    assert check(req("2026-03-02T12:00:00"), attempts=calls[:2] + calls[3:]).allowed
    denied = check(req("2026-03-02T12:00:00", channel="agency-call"), attempts=calls)
    assert denied.rule == "cn-2026/daily-connected-calls"
    assert denied.next_allowed_at == local("2026-03-03", "08:00")
    assert "3" in denied.message_zh and "agencies" in denied.message_en
    # another debtor's calls do not count; an SMS is not a call
    assert check(req("2026-03-02T12:00:00", customer_id="C2"), attempts=calls).allowed
    assert check(req("2026-03-02T12:00:00", channel="sms"), attempts=calls).allowed


def test_seventh_unanswered_attempt_to_a_number_denied_another_number_ok() -> None:
    tries = tuple(attempt(f"2026-03-02T1{i}:00:00", outcome="unanswered") for i in range(6))
    denied = check(req("2026-03-02T17:00:00"), attempts=tries)
    assert denied.rule == "cn-2026/daily-unanswered-per-number"
    assert denied.next_allowed_at == local("2026-03-03", "08:00")
    assert check(req("2026-03-02T17:00:00", address="13900139000"), attempts=tries).allowed
    # the same number written another way is the same number
    assert not check(
        req("2026-03-02T17:00:00", address="+86 138-0013-8000"), attempts=tries
    ).allowed
    # yesterday's attempts do not count
    assert check(req("2026-03-03T09:00:00"), attempts=tries).allowed


def test_reg_f_eighth_attempt_in_seven_days_denied_until_the_oldest_leaves_the_window() -> None:
    tz = "America/Los_Angeles"
    tries = tuple(
        attempt(f"2026-06-{day:02d}T10:00:00", tz, outcome="unanswered")
        for day in (1, 2, 2, 4, 5, 6, 7)
    )
    denied = check(req("2026-06-07T15:00:00", tz), US, attempts=tries)
    assert denied.rule == "us-reg-f/call-frequency"
    assert denied.next_allowed_at == local("2026-06-08", "08:00", LA)
    assert check(req("2026-06-07T15:00:00", tz), US, attempts=tries[1:]).allowed
    # per debt: another loan of the same borrower is a different debt
    assert check(req("2026-06-07T15:00:00", tz, loan_id="L2"), US, attempts=tries).allowed


def test_reg_f_no_call_within_seven_days_after_a_conversation() -> None:
    tz = "America/Los_Angeles"
    talk = (attempt("2026-06-01T10:00:00", tz, outcome="connected"),)
    denied = check(req("2026-06-07T20:00:00", tz), US, attempts=talk)
    assert denied.rule == "us-reg-f/after-conversation"
    assert denied.next_allowed_at == local("2026-06-08", "08:00", LA)
    assert check(req("2026-06-08T08:00:00", tz), US, attempts=talk).allowed
    assert check(req("2026-06-03T10:00:00", tz, channel="sms"), US, attempts=talk).allowed
    inbound = (attempt("2026-06-01T10:00:00", tz, direction="inbound"),)
    assert not check(req("2026-06-02T10:00:00", tz), US, attempts=inbound).allowed
    assert not check(
        req("2026-06-02T10:00:00", tz), US, last_conversation_at=local("2026-06-01", "09:00", LA)
    ).allowed


# --- third parties -------------------------------------------------------------------


def test_third_party_before_lost_contact_denied_after_three_days_only_to_leave_a_message() -> None:
    tp = {"party": "third-party", "address": "13700137000", "purpose": "leave-message"}
    unreachable = local("2026-03-01", "09:00")
    denied = check(req("2026-03-03T10:00:00", **tp), unreachable_since=unreachable)
    assert denied.rule == "cn-2026/third-party"
    assert denied.next_allowed_at == local("2026-03-04", "08:00")
    assert not check(req("2026-03-03T10:00:00", **tp)).allowed
    assert check(req("2026-03-04T08:00:00", **tp), unreachable_since=unreachable).allowed
    debt = check(
        req("2026-03-04T10:00:00", **(tp | {"purpose": "collection"})),
        unreachable_since=unreachable,
    )
    assert debt.rule == "cn-2026/third-party" and debt.next_allowed_at is None
    assert "never" in debt.message_en


def test_third_party_allowed_at_once_when_the_number_is_invalid_or_lost_contact_declared() -> None:
    tp = req("2026-03-03T10:00:00", party="third-party", purpose="leave-message")
    assert check(tp, borrower_number_invalid=True).allowed
    assert check(tp, lost_contact_since=date(2026, 3, 3)).allowed
    later = check(tp, lost_contact_since=date(2026, 3, 5))
    assert later.next_allowed_at == local("2026-03-05", "08:00")
    # contact persons and guarantors are not third parties in cn-2026
    assert check(req("2026-03-03T10:00:00", party="contact-person")).allowed


# --- holds, opt-outs, promises -------------------------------------------------------


@pytest.mark.parametrize("kind", HOLD_KINDS)
@pytest.mark.parametrize("channel", ["call", "agency-visit", "sms", "email", "letter"])
def test_each_hold_kind_blocks_every_channel_in_cn_2026(kind: str, channel: str) -> None:
    denied = check(req("2026-03-02T10:00:00", channel=channel), holds=(ActiveHold(kind),))
    assert denied.rule == "cn-2026/holds"
    assert denied.next_allowed_at is None


@pytest.mark.parametrize("kind", HOLD_KINDS)
def test_us_reg_f_holds_as_the_pack_says(kind: str) -> None:
    denied = check(req("2026-06-02T10:00:00", "America/New_York"), US, holds=(ActiveHold(kind),))
    blocks = kind in load_contact_pack("us-reg-f").rules.holds[0].blocks
    assert denied.allowed is not blocks


def test_a_hold_on_one_loan_blocks_that_loan_and_customer_wide_contact_only() -> None:
    holds = (ActiveHold("dispute", loan_id="L1"),)
    assert not check(req("2026-03-02T10:00:00", loan_id="L1"), holds=holds).allowed
    assert not check(req("2026-03-02T10:00:00", loan_id=None), holds=holds).allowed
    assert check(req("2026-03-02T10:00:00", loan_id="L2"), holds=holds).allowed


@pytest.mark.parametrize("rules", [CN, US], ids=["cn-2026", "us-reg-f"])
def test_opt_out_blocks_sms_and_email_but_not_calls(rules: EffectiveRules) -> None:
    opted = frozenset({"sms", "email", "call"})
    tz = "America/Chicago"
    for channel in ("sms", "agency-sms", "email"):
        denied = check(req("2026-06-02T10:00:00", tz, channel=channel), rules, opt_outs=opted)
        assert denied.rule is not None and denied.rule.endswith("/opt-out")
        assert denied.next_allowed_at is None
    assert check(req("2026-06-02T10:00:00", tz), rules, opt_outs=opted).allowed
    contact = req("2026-06-02T10:00:00", tz, channel="sms", party="contact-person")
    assert check(contact, rules, opt_outs=opted).allowed


def test_cn_2026_opt_out_media_are_the_packs() -> None:
    media = set(load_contact_pack("cn-2026").rules.opt_out[0].media)
    for channel, medium in CHANNEL_MEDIUM.items():
        decision = check(req("2026-03-02T10:00:00", channel=channel), opt_outs=frozenset({medium}))
        assert decision.allowed is (medium not in media), channel


def test_open_promise_pauses_contact_through_its_date() -> None:
    denied = check(req("2026-03-02T10:00:00"), open_promise_until=date(2026, 3, 5))
    assert denied.rule == "cn-2026/open-promise"
    assert denied.next_allowed_at == local("2026-03-06", "08:00")
    assert check(req("2026-03-06T08:00:00"), open_promise_until=date(2026, 3, 5)).allowed
    assert check(req("2026-03-02T10:00:00"), US, open_promise_until=date(2026, 3, 5)).allowed


def test_next_allowed_time_skips_past_every_rule_not_just_the_first() -> None:
    # 22:30 with three connected calls today and a promise until tomorrow:
    # the promise ends, then the morning comes.
    calls = tuple(attempt(f"2026-03-02T1{i}:00:00") for i in range(3))
    denied = check(req("2026-03-02T22:30:00"), attempts=calls, open_promise_until=date(2026, 3, 3))
    assert denied.rule == "cn-2026/open-promise"
    assert denied.next_allowed_at == local("2026-03-04", "08:00")


def test_stricter_wins_when_both_packs_apply() -> None:
    assert check(req("2026-03-02T20:59:59"), BOTH).allowed
    assert check(req("2026-03-02T21:00:00"), BOTH).rule == "us-reg-f/inconvenient-time"
    assert check(req("2026-03-02T21:30:00", channel="letter"), BOTH).allowed
    assert check(req("2026-03-02T22:00:00", channel="letter"), BOTH).rule == "cn-2026/quiet-hours"
    late = check(req("2026-03-02T07:00:00"), BOTH)
    assert late.rule == "cn-2026/quiet-hours"  # both deny: the first pack that does is named
    calls = tuple(attempt(f"2026-03-02T1{i}:00:00") for i in range(3))
    assert check(req("2026-03-02T14:00:00"), BOTH, attempts=calls).rule in {
        "cn-2026/daily-connected-calls",
        "us-reg-f/after-conversation",
    }


# --- properties ----------------------------------------------------------------------

QUIET_SECONDS = st.one_of(
    st.integers(min_value=22 * 3600, max_value=86_399), st.integers(min_value=0, max_value=28_799)
)
ZONES = st.sampled_from(["Asia/Shanghai", "Asia/Urumqi", "America/Los_Angeles", "Europe/London"])


@given(
    day=st.dates(min_value=date(2026, 1, 1), max_value=date(2030, 12, 31)),
    second=QUIET_SECONDS,
    micro=st.integers(0, 999_999),
    zone=ZONES,
    channel=st.sampled_from(sorted(CHANNEL_MEDIUM)),
)
def test_any_time_in_quiet_hours_is_denied_and_next_allowed_is_outside_and_later(
    day: date, second: int, micro: int, zone: str, channel: str
) -> None:
    wall = datetime.combine(day, time(second // 3600, second // 60 % 60, second % 60, micro))
    request = ContactRequest(customer_id="C1", channel=channel, party="borrower", at=wall, tz=zone)
    local_clock = request.at.time()
    if time(8) <= local_clock < time(22):  # a wall time skipped by DST moved into the day
        return
    decision = check(request)
    assert not decision.allowed and decision.rule == "cn-2026/quiet-hours"
    nxt = decision.next_allowed_at
    assert nxt is not None and nxt > request.at
    assert time(8) <= nxt.astimezone(ZoneInfo(zone)).time() < time(22)
    assert nxt - request.at <= timedelta(hours=11)


_ADDRESSES = ["13800138000", "13900139000"]


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[ContactRequest, ContactHistory]:
    zone = draw(st.sampled_from(["Asia/Shanghai", "America/Los_Angeles"]))
    day = draw(st.dates(min_value=date(2026, 1, 10), max_value=date(2027, 12, 20)))
    at = datetime.combine(day, time(draw(st.integers(0, 23)), draw(st.integers(0, 59))))
    request = ContactRequest(
        customer_id="C1",
        channel=draw(st.sampled_from(["call", "agency-call", "sms", "email", "letter", "visit"])),
        party=draw(st.sampled_from(["borrower", "contact-person", "third-party"])),
        at=at,
        tz=zone,
        loan_id=draw(st.sampled_from(["L1", "L2", None])),
        address=draw(st.sampled_from(_ADDRESSES)),
        purpose=draw(st.sampled_from(["collection", "leave-message"])),
    )
    attempts = []
    for _ in range(draw(st.integers(0, 14))):
        when = request.at - timedelta(minutes=draw(st.integers(1, 9 * 24 * 60)))
        attempts.append(
            PastAttempt(
                at=when.astimezone(UTC),
                channel=draw(st.sampled_from(["call", "agency-call", "sms"])),
                party=draw(st.sampled_from(["borrower", "contact-person"])),
                outcome=draw(st.sampled_from(["connected", "unanswered", "invalid-number"])),
                customer_id=draw(st.sampled_from(["C1", "C1", "C2"])),
                loan_id=draw(st.sampled_from(["L1", "L2", None])),
                address_key=draw(st.sampled_from(_ADDRESSES)),
                direction=draw(st.sampled_from(["outbound", "outbound", "inbound"])),
            )
        )
    history = ContactHistory(
        attempts=tuple(attempts),
        holds=tuple(ActiveHold(k) for k in draw(st.sets(st.sampled_from(HOLD_KINDS), max_size=1))),
        opt_outs=frozenset(draw(st.sets(st.sampled_from(["sms", "email", "call"]), max_size=2))),
        open_promise_until=draw(st.none() | st.just(day + timedelta(days=1))),
        unreachable_since=draw(st.none() | st.just(request.at - timedelta(days=2, hours=3))),
    )
    return request, history


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_combined_packs_allow_exactly_what_every_pack_allows(
    scenario: tuple[ContactRequest, ContactHistory],
) -> None:
    request, history = scenario
    both = decide(request, history, BOTH)
    assert both.allowed == (
        decide(request, history, CN).allowed and decide(request, history, US).allowed
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.sampled_from([CN, US, BOTH]))
def test_next_allowed_time_is_later_and_allowed(
    scenario: tuple[ContactRequest, ContactHistory], rules: EffectiveRules
) -> None:
    request, history = scenario
    decision = decide(request, history, rules)
    if decision.allowed or decision.next_allowed_at is None:
        return
    nxt = decision.next_allowed_at
    assert nxt > request.at
    again = ContactRequest(
        customer_id=request.customer_id,
        channel=request.channel,
        party=request.party,
        at=nxt,
        tz=request.tz,
        loan_id=request.loan_id,
        address=request.address,
        purpose=request.purpose,
    )
    assert decide(again, history, rules).allowed
    # and one second earlier it was still denied (the time is the earliest one)
    earlier = ContactRequest(
        customer_id=request.customer_id,
        channel=request.channel,
        party=request.party,
        at=nxt - timedelta(seconds=1),
        tz=request.tz,
        loan_id=request.loan_id,
        address=request.address,
        purpose=request.purpose,
    )
    if earlier.at > request.at:
        assert not decide(earlier, history, rules).allowed
