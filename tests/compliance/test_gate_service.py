"""The contact gate against SQLite and PostgreSQL: boundaries, caps across the lender and
agencies, holds, opt-outs, providers, recorded denials and concurrent checks."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

import daihou.compliance.gate.models  # noqa: F401  (registers the gate's tables)
from daihou.auth.actor import Actor
from daihou.compliance.gate.holds import (
    active_holds,
    active_opt_outs,
    hold_history,
    opt_in,
    opt_out,
    place_hold,
    release_hold,
)
from daihou.compliance.gate.models import ContactAttempt, ContactDenial, Hold
from daihou.compliance.gate.packs import load_rules
from daihou.compliance.gate.schema import HOLD_KINDS, ContactRequest, Decision
from daihou.compliance.gate.service import (
    Providers,
    check_contact,
    load_history,
    record_attempt,
    register_providers,
)
from daihou.db.engine import transaction

SHANGHAI = ZoneInfo("Asia/Shanghai")
LA = ZoneInfo("America/Los_Angeles")
CN = load_rules("cn-2026")
US = load_rules("us-reg-f")
NUMBER = "13800138000"
OFFICER = Actor(user_id="zhang.wei", roles=frozenset({"supervisor"}))
COMPLIANCE = Actor(user_id="li.na", roles=frozenset({"compliance-officer"}))


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


def local(day: str, clock: str, zone: ZoneInfo = SHANGHAI) -> datetime:
    return datetime.combine(date.fromisoformat(day), time.fromisoformat(clock), tzinfo=zone)


class Gate:
    """Each call is one unit of work, as a treatment would run it."""

    def __init__(self, engine: Engine, **kw: Any) -> None:
        self.engine, self.kw = engine, kw

    def check(self, request: ContactRequest, **kw: Any) -> Decision:
        with transaction(self.engine) as session:
            return check_contact(session, request, **(self.kw | kw))

    def record(self, request: ContactRequest, outcome: str = "connected", **kw: Any) -> None:
        with transaction(self.engine) as session:
            record_attempt(session, request=request, outcome=outcome, **kw)  # type: ignore[arg-type]

    def call(self, request: ContactRequest, outcome: str = "connected") -> Decision:
        """Check and, when allowed, record the attempt in the same transaction."""
        with transaction(self.engine) as session:
            decision = check_contact(session, request, **self.kw)
            if decision.allowed:
                record_attempt(session, request=request, outcome=outcome)  # type: ignore[arg-type]
            return decision

    def denials(self) -> list[tuple[str, str]]:
        with transaction(self.engine) as session:
            rows = session.execute(
                select(ContactDenial.rule, ContactDenial.channel).order_by(ContactDenial.id)
            )
            return [(r.rule, r.channel) for r in rows]


@pytest.fixture
def gate(engine: Engine) -> Gate:
    return Gate(engine, rules=CN)


def test_quiet_hours_boundaries_and_the_denial_is_recorded(gate: Gate) -> None:
    assert gate.check(req("2026-03-02T21:59:59")).allowed
    denied = gate.check(req("2026-03-02T22:00:00"))
    assert (denied.allowed, denied.rule) == (False, "cn-2026/quiet-hours")
    assert denied.next_allowed_at == local("2026-03-03", "08:00")
    assert not gate.check(req("2026-03-02T07:59:59")).allowed
    assert gate.check(req("2026-03-02T08:00:00")).allowed
    assert gate.denials() == [("cn-2026/quiet-hours", "call")] * 2
    with transaction(gate.engine) as session:
        row = session.scalars(select(ContactDenial).order_by(ContactDenial.id)).first()
        assert row is not None
        assert row.at_utc == datetime(2026, 3, 2, 14, 0)  # 22:00 in Shanghai
        assert row.next_allowed_utc == datetime(2026, 3, 3, 0, 0)
        assert (row.tz, row.customer_id, row.loan_id) == ("Asia/Shanghai", "C1", "L1")
        assert "22:00:00" in row.message_zh and row.packs == "cn-2026@2026.1"


def test_fourth_connected_call_denied_lender_and_agency_counted_together(gate: Gate) -> None:
    assert gate.call(req("2026-03-02T09:00:00")).allowed
    assert gate.call(req("2026-03-02T09:30:00"), outcome="unanswered").allowed  # not connected
    assert gate.call(req("2026-03-02T10:00:00", channel="agency-call", organisation="agency-A"))
    third = gate.call(req("2026-03-02T11:00:00", channel="agency-call", organisation="agency-B"))
    assert third.allowed
    for who in ({"organisation": "lender"}, {"channel": "agency-call", "organisation": "agency-A"}):
        fourth = gate.call(req("2026-03-02T15:00:00", **who))
        assert fourth.rule == "cn-2026/daily-connected-calls"
        assert fourth.next_allowed_at == local("2026-03-03", "08:00")
    assert gate.call(req("2026-03-03T08:00:00")).allowed
    assert gate.call(req("2026-03-02T15:00:00", customer_id="C2")).allowed
    with transaction(gate.engine) as session:
        connected = session.scalar(
            select(func.count()).where(
                ContactAttempt.customer_id == "C1", ContactAttempt.outcome == "connected"
            )
        )
    assert connected == 4  # three on the 2nd, one on the 3rd
    assert gate.denials() == [
        ("cn-2026/daily-connected-calls", "call"),
        ("cn-2026/daily-connected-calls", "agency-call"),
    ]


def test_seventh_unanswered_attempt_to_one_number_denied_another_number_ok(gate: Gate) -> None:
    for hour in range(9, 15):
        assert gate.call(req(f"2026-03-02T{hour:02d}:00:00"), outcome="unanswered").allowed
    seventh = gate.call(req("2026-03-02T16:00:00"), outcome="unanswered")
    assert seventh.rule == "cn-2026/daily-unanswered-per-number"
    assert seventh.next_allowed_at == local("2026-03-03", "08:00")
    assert gate.call(req("2026-03-02T16:00:00", address="139-0013-9000"), "unanswered").allowed
    # the number counts whoever it belongs to: another debtor's contact person
    other = req("2026-03-02T16:30:00", customer_id="C9", party="contact-person", loan_id="L9")
    assert gate.check(other).rule == "cn-2026/daily-unanswered-per-number"
    assert gate.check(req("2026-03-03T08:00:00")).allowed


def test_reg_f_eighth_attempt_in_seven_days_and_calls_after_a_conversation(engine: Engine) -> None:
    gate, tz = Gate(engine, rules=US), "America/Los_Angeles"
    for day in (1, 2, 3, 4, 5, 6, 7):
        assert gate.call(req(f"2026-06-0{day}T10:00:00", tz), outcome="busy").allowed
    eighth = gate.check(req("2026-06-07T18:00:00", tz))
    assert eighth.rule == "us-reg-f/call-frequency"
    assert eighth.next_allowed_at == local("2026-06-08", "08:00", LA)
    assert gate.check(req("2026-06-07T18:00:00", tz, loan_id="L2")).allowed  # another debt

    assert gate.call(req("2026-06-08T08:00:00", tz), outcome="connected").allowed
    after = gate.check(req("2026-06-14T20:00:00", tz))
    assert after.rule == "us-reg-f/after-conversation"
    assert after.next_allowed_at == local("2026-06-15", "08:00", LA)
    assert gate.check(req("2026-06-09T10:00:00", tz, channel="email")).allowed
    assert gate.check(req("2026-06-15T08:00:00", tz)).allowed


def test_dst_in_the_database_local_days_and_next_morning(engine: Engine) -> None:
    gate, tz = Gate(engine, rules=US), "America/Los_Angeles"
    for day in range(2, 9):  # 7 calls at 20:30 local, DST begins on the 8th
        assert gate.call(req(f"2026-03-0{day}T20:30:00", tz), outcome="unanswered").allowed
    denied = gate.check(req("2026-03-08T20:40:00", tz))
    assert denied.rule == "us-reg-f/call-frequency"
    nxt = denied.next_allowed_at
    assert nxt == local("2026-03-09", "08:00", LA) and nxt.utcoffset() == timedelta(hours=-7)
    night = gate.check(req("2026-03-08T21:00:00", tz, loan_id="L2"))
    assert night.rule == "us-reg-f/inconvenient-time"
    assert night.next_allowed_at == local("2026-03-09", "08:00", LA)


def test_time_zone_of_the_borrower_decides_in_the_database(gate: Gate) -> None:
    instant = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
    make: dict[str, Any] = {
        "customer_id": "C1",
        "channel": "call",
        "party": "borrower",
        "at": instant,
    }
    assert not gate.check(ContactRequest(**make, tz="Asia/Shanghai")).allowed
    assert gate.check(ContactRequest(**make, tz="Asia/Urumqi")).allowed


def test_third_party_only_after_lost_contact_and_only_to_leave_a_message(gate: Gate) -> None:
    tp = {"party": "third-party", "address": "13700137000", "purpose": "leave-message"}
    assert gate.check(req("2026-03-02T10:00:00", **tp)).rule == "cn-2026/third-party"
    gate.call(req("2026-03-01T10:00:00"), outcome="connected")  # reached on the 1st
    gate.call(req("2026-03-01T18:00:00"), outcome="unanswered")  # unreachable from here
    gate.call(req("2026-03-02T10:00:00"), outcome="unanswered")
    early = gate.check(req("2026-03-03T21:00:00", **tp))
    assert early.rule == "cn-2026/third-party"
    assert early.next_allowed_at == local("2026-03-04", "08:00")
    assert gate.check(req("2026-03-04T08:00:00", **tp)).allowed
    debt = gate.check(req("2026-03-04T09:00:00", **(tp | {"purpose": "collection"})))
    assert debt.rule == "cn-2026/third-party" and debt.next_allowed_at is None
    gate.call(req("2026-03-04T09:30:00", channel="visit", address=None), outcome="connected")
    assert not gate.check(req("2026-03-04T10:00:00", **tp)).allowed  # reached again


def test_third_party_allowed_at_once_after_the_borrowers_number_proved_invalid(gate: Gate) -> None:
    tp = req("2026-03-02T10:00:00", party="third-party", purpose="leave-message")
    gate.call(req("2026-03-02T09:00:00"), outcome="invalid-number")
    assert gate.check(tp).allowed


@pytest.mark.parametrize("kind", HOLD_KINDS)
def test_each_hold_blocks_until_released_and_its_history_stays(gate: Gate, kind: str) -> None:
    with transaction(gate.engine) as s:
        hold = place_hold(
            s,
            customer_id="C1",
            kind=kind,
            reason="客户来电",
            actor=OFFICER,
            at=datetime(2026, 3, 1, tzinfo=UTC),
        )
    for channel in ("call", "sms", "agency-visit", "letter"):
        denied = gate.check(req("2026-03-02T10:00:00", channel=channel))
        assert (denied.rule, denied.next_allowed_at) == ("cn-2026/holds", None)
    with transaction(gate.engine) as s:
        release_hold(
            s,
            hold_id=hold.id,
            reason="核实完毕",
            actor=COMPLIANCE,
            at=datetime(2026, 3, 2, 3, 0, tzinfo=UTC),
        )
    assert gate.check(req("2026-03-02T11:00:00")).allowed
    with transaction(gate.engine) as s:
        (kept,) = hold_history(s, "C1")
        assert (kept.kind, kept.reason, kept.placed_by) == (kind, "客户来电", "zhang.wei")
        assert (kept.released_by, kept.release_reason) == ("li.na", "核实完毕")
        assert active_holds(s, "C1") == []
        assert [h.id for h in active_holds(s, "C1", on=datetime(2026, 3, 1, 12, tzinfo=UTC))] == [
            hold.id
        ]
        assert active_holds(s, "C1", on=datetime(2026, 3, 2, 4, tzinfo=UTC)) == []


def test_holds_refuse_a_second_release_deletion_and_bad_input(gate: Gate) -> None:
    with transaction(gate.engine) as s:
        hold = place_hold(
            s, customer_id="C1", loan_id="L1", kind="dispute", reason="对账有误", actor=OFFICER
        )
    assert not gate.check(req("2026-03-02T10:00:00", loan_id="L1")).allowed
    assert gate.check(req("2026-03-02T10:00:00", loan_id="L2")).allowed
    with transaction(gate.engine) as s:
        release_hold(s, hold_id=hold.id, reason="done", actor=OFFICER)
    with pytest.raises(ValueError, match="already released"), transaction(gate.engine) as s:
        release_hold(s, hold_id=hold.id, reason="again", actor=COMPLIANCE)
    with pytest.raises(LookupError), transaction(gate.engine) as s:
        release_hold(s, hold_id=999_999, reason="x", actor=OFFICER)
    with pytest.raises(ValueError, match="cannot be deleted"), transaction(gate.engine) as s:
        s.delete(s.get(Hold, hold.id))
        s.flush()
    bad_input: list[dict[str, Any]] = [
        {"kind": "vacation", "reason": "x"},
        {"kind": "legal", "reason": "  "},
        {"kind": "legal", "reason": "x" * 513},
    ]
    for bad in bad_input:
        with pytest.raises(ValueError), transaction(gate.engine) as s:
            place_hold(s, customer_id="C1", actor=OFFICER, **bad)
    with transaction(gate.engine) as s:
        assert len(hold_history(s, "C1")) == 1


def test_opt_out_blocks_sms_and_email_not_calls_and_opt_in_restores(engine: Engine) -> None:
    gate = Gate(engine, rules=load_rules("cn-2026,us-reg-f"))
    with transaction(engine) as s:
        first = opt_out(s, customer_id="C1", channel="sms", actor=OFFICER, reason="客户要求")
        again = opt_out(s, customer_id="C1", channel="agency-sms", actor=OFFICER, reason="重复")
        assert again.id == first.id
        opt_out(s, customer_id="C1", channel="email", actor=OFFICER, reason="unsubscribe link")
        opt_out(s, customer_id="C1", channel="call", actor=OFFICER, reason="asked")
    assert gate.check(req("2026-03-02T10:00:00", channel="sms")).rule == "cn-2026/opt-out"
    assert gate.check(req("2026-03-02T10:00:00", channel="email")).rule == "cn-2026/opt-out"
    assert gate.check(req("2026-03-02T10:00:00", channel="call")).allowed
    with transaction(engine) as s:
        opt_in(s, customer_id="C1", channel="sms", actor=COMPLIANCE, reason="客户重新订阅")
        assert sorted(o.medium for o in active_opt_outs(s, "C1")) == ["call", "email"]
    assert gate.check(req("2026-03-02T10:00:00", channel="sms")).allowed
    with pytest.raises(LookupError), transaction(engine) as s:
        opt_in(s, customer_id="C1", channel="sms", actor=COMPLIANCE, reason="again")


def test_providers_plug_in_promises_and_lost_contact(engine: Engine) -> None:
    asked: list[tuple[str, str | None, date]] = []

    def promise(
        session: Session, *, customer_id: str, loan_id: str | None, on: date
    ) -> date | None:
        asked.append((customer_id, loan_id, on))
        return date(2026, 3, 5) if customer_id == "C1" else None

    def lost(session: Session, *, customer_id: str, loan_id: str | None, on: date) -> date | None:
        return date(2026, 2, 20)

    gate = Gate(engine, rules=CN, providers=Providers(open_promise_until=promise))
    denied = gate.check(req("2026-03-02T10:00:00"))
    assert denied.rule == "cn-2026/open-promise"
    assert denied.next_allowed_at == local("2026-03-06", "08:00")
    assert asked == [("C1", "L1", date(2026, 3, 2))]
    assert gate.check(req("2026-03-02T10:00:00", customer_id="C2")).allowed

    previous = register_providers(Providers(lost_contact_since=lost))
    try:
        tp = req("2026-03-02T10:00:00", party="third-party", purpose="leave-message")
        assert Gate(engine, rules=CN).check(tp).allowed
    finally:
        register_providers(previous)
    assert not Gate(engine, rules=CN).check(tp).allowed


def test_a_keyed_address_provider_is_used_for_storing_and_matching(engine: Engine) -> None:
    keyed = Providers(address_key=lambda address: "k:" + address[-4:])
    gate = Gate(engine, rules=CN, providers=keyed)
    for hour in range(10, 16):
        with transaction(engine) as s:
            record_attempt(
                s,
                request=req(f"2026-03-02T{hour:02d}:00:00"),
                outcome="unanswered",
                providers=keyed,
            )
    with transaction(engine) as s:
        keys = set(s.scalars(select(ContactAttempt.address_key)))
        history = load_history(s, req("2026-03-02T17:00:00"), rules=CN, providers=keyed)
    assert keys == {"k:8000"} and history.address_key == "k:8000"
    assert gate.check(req("2026-03-02T17:00:00")).rule == "cn-2026/daily-unanswered-per-number"


def test_every_denial_is_recorded_with_its_rule_unless_asked_not_to(engine: Engine) -> None:
    gate = Gate(engine, rules=load_rules("cn-2026,us-reg-f"))
    with transaction(engine) as s:
        place_hold(s, customer_id="C7", kind="bankruptcy", reason="法院受理", actor=OFFICER)
        opt_out(s, customer_id="C8", channel="email", actor=OFFICER, reason="unsubscribe")
    expected = [
        (req("2026-03-02T21:00:00"), "us-reg-f/inconvenient-time"),
        (req("2026-03-02T23:00:00", channel="letter"), "cn-2026/quiet-hours"),
        (req("2026-03-02T10:00:00", customer_id="C7"), "cn-2026/holds"),
        (req("2026-03-02T10:00:00", customer_id="C8", channel="email"), "cn-2026/opt-out"),
        (req("2026-03-02T10:00:00", party="third-party"), "cn-2026/third-party"),
    ]
    for request, rule in expected:
        assert gate.check(request).rule == rule
    assert not gate.check(req("2026-03-02T23:30:00"), record_denial=False).allowed
    assert [r for r, _ in gate.denials()] == [rule for _, rule in expected]
    with pytest.raises(ValueError, match="cannot be deleted"), transaction(engine) as s:
        s.delete(s.scalars(select(ContactDenial)).first())
        s.flush()


def test_configured_packs_apply_when_no_rules_are_given(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAIHOU_COMPLIANCE_PACKS", "cn-2026,us-reg-f")
    gate = Gate(engine)
    assert gate.check(req("2026-03-02T21:30:00")).rule == "us-reg-f/inconvenient-time"
    monkeypatch.delenv("DAIHOU_COMPLIANCE_PACKS")
    assert gate.check(req("2026-03-02T21:30:00")).allowed  # cn-2026 alone
    # on a date no configured pack is in force the gate refuses to guess
    with pytest.raises(ValueError, match="no compliance pack in force"):
        gate.check(req("2025-12-31T10:00:00"))


THREADS = 8


def test_concurrent_checks_for_one_debtor_never_exceed_the_daily_cap(engine: Engine) -> None:
    barrier = threading.Barrier(THREADS)
    results: list[Decision | BaseException] = [RuntimeError("not run")] * THREADS

    def run(i: int) -> None:
        request = req(
            f"2026-03-02T10:{i:02d}:00",
            channel="agency-call" if i % 2 else "call",
            organisation=f"agency-{i % 3}" if i % 2 else "lender",
        )
        barrier.wait()
        try:
            with transaction(engine) as session:
                decision = check_contact(session, request, rules=CN)
                if decision.allowed:
                    record_attempt(session, request=request, outcome="connected")
                results[i] = decision
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    decisions = [r for r in results if isinstance(r, Decision)]
    assert len(decisions) == THREADS, results
    assert sum(d.allowed for d in decisions) == 3
    assert {d.rule for d in decisions if not d.allowed} == {"cn-2026/daily-connected-calls"}
    with transaction(engine) as s:
        assert s.scalar(select(func.count()).select_from(ContactAttempt)) == 3
        assert s.scalar(select(func.count()).select_from(ContactDenial)) == THREADS - 3
