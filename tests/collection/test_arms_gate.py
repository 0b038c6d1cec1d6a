"""Champion–challenger split and stickiness; the batched gate equals ``check_contact``."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from daihou.auth.actor import Actor
from daihou.collection.arms import arm_bucket, arm_outcomes
from daihou.collection.gate_link import GateAsk, ask_gate
from daihou.collection.models import CollectionCase
from daihou.collection.run import run_collections
from daihou.collection.settings import Rule, Strategy
from daihou.compliance.gate.holds import opt_out, place_hold
from daihou.compliance.gate.models import ContactAttempt, ContactDenial
from daihou.compliance.gate.schema import HOLD_KINDS, ContactRequest, Decision
from daihou.compliance.gate.service import check_contact, record_attempt
from daihou.db.engine import transaction
from daihou.eod.runner import run_eod
from daihou.policy.loader import load_pack
from daihou.policy.schema import PolicyPack
from tests.collection.helpers import actions, close_and_run
from tests.eod.helpers import pay
from tests.factories import add_loans, init_book, loan_row

START = date(2026, 1, 15)
T1 = date(2026, 2, 16)  # T+1
SH = ZoneInfo("Asia/Shanghai")


def with_challenger(percent: int) -> PolicyPack:
    pack = load_pack()
    challenger = Strategy(
        name="challenger-sms-first",
        rules=[Rule(id="sms-daily", action="sms", template="overdue-t0", min_dpd=1)],
    )
    settings = pack.collections.model_copy(
        update={"challenger": challenger, "challenger_percent": percent}
    )
    return pack.model_copy(update={"collections": settings})


def test_split_is_deterministic_sticky_and_reported(engine: Engine, tmp_path: Path) -> None:
    init_book(engine, START)
    ids = [f"A{i:03d}" for i in range(120)]
    add_loans(engine, tmp_path, [loan_row(i, disbursed_on=START) for i in ids])
    pack = with_challenger(30)
    run_eod(engine, through=T1, pack=pack)
    run_collections(engine, T1, pack)
    with transaction(engine) as s:
        arms = dict(s.execute(select(CollectionCase.loan_id, CollectionCase.arm)).all())
        strategies = set(s.execute(select(CollectionCase.arm, CollectionCase.strategy)).all())
    challengers = {i for i, arm in arms.items() if arm == "challenger"}
    # the split follows the hash of the loan id, 30 of every 100 buckets
    assert challengers == {i for i in ids if arm_bucket(i, "daihou-arm") < 3000}
    assert 20 <= len(challengers) <= 52
    assert strategies == {("champion", "cn-default-2026"), ("challenger", "challenger-sms-first")}
    got = actions(engine, T1)
    assert got["sms"] == len(challengers) and got["call"] == 2 * (120 - len(challengers))
    # sticky: the percentage drops to 0, the open cases keep their arm and strategy
    later = with_challenger(0)
    close_and_run(engine, T1 + timedelta(days=1), later)
    assert actions(engine, T1 + timedelta(days=1))["sms"] == len(challengers)
    with transaction(engine) as s:
        assert dict(s.execute(select(CollectionCase.loan_id, CollectionCase.arm)).all()) == arms
    # outcomes per arm: cure one loan of each arm
    one_c, one_h = sorted(challengers)[0], sorted(set(ids) - challengers)[0]
    pay(engine, one_c, "2000.00", "P-C")
    pay(engine, one_h, "2000.00", "P-H")
    close_and_run(engine, T1 + timedelta(days=2), later)
    with transaction(engine) as s:
        out = {o.arm: o for o in arm_outcomes(s, since=T1, until=T1 + timedelta(days=2))}
    assert out["challenger"].cases == len(challengers) and out["challenger"].cured == 1
    assert out["champion"].cases == 120 - len(challengers) and out["champion"].cured == 1
    assert out["champion"].recovered == out["challenger"].recovered == 2000
    assert out["champion"].open == 119 - len(challengers)


def one_by_one(s: Session, asks: list[GateAsk]) -> list[Decision]:
    """``check_contact`` for each ask, recording no denial."""
    return [
        check_contact(
            s,
            ContactRequest(
                customer_id=a.customer_id,
                channel=a.channel,
                party=a.party,  # type: ignore[arg-type]
                at=a.at,
                loan_id=a.loan_id,
                purpose=a.purpose,
            ),
            record_denial=False,
        )
        for a in asks
    ]


def test_batched_gate_answers_as_check_contact(engine: Engine) -> None:
    at = datetime(2026, 3, 2, 10, 0, tzinfo=SH)
    with transaction(engine) as s:
        # C1: three connected calls today (the daily cap); C2: nothing; C3: one call
        for k, (cid, outcome) in enumerate([("C1", "connected")] * 3 + [("C3", "connected")]):
            req = ContactRequest(
                customer_id=cid,
                channel="call",
                party="borrower",
                at=at - timedelta(hours=2, minutes=k),
            )
            record_attempt(s, request=req, outcome=outcome)
    asks = [
        GateAsk(
            customer_id=c,
            loan_id=f"L-{c}",
            case_id=None,
            channel=ch,
            party="borrower",
            purpose="collection",
            at=when,
        )
        for c in ("C1", "C2", "C3")
        for ch in ("call", "sms")
        for when in (at, at.replace(hour=23))
    ]
    with transaction(engine) as s:
        batched = ask_gate(s, asks)
        single = one_by_one(s, asks)
    assert [(b.allowed, b.rule) for b in batched] == [(d.allowed, d.rule) for d in single]
    assert any(not b.allowed and b.rule and "connected" in b.rule for b in batched)
    assert any(not b.allowed and b.rule and "quiet" in b.rule for b in batched)
    assert any(b.allowed for b in batched)


def test_batched_gate_reads_third_parties_holds_and_windows_and_records_nothing(
    engine: Engine,
) -> None:
    """Third parties (reachability), holds, opt-outs, attempts before the window and
    asks on two days: each answer is check_contact's, and asking writes no attempt or
    denial (a planning check is advisory)."""
    at = datetime(2026, 3, 9, 10, 0, tzinfo=SH)
    officer = Actor(user_id="zhang.wei", roles=frozenset({"supervisor"}))

    def attempt(s: Session, cid: str, when: datetime, outcome: str, **kw: str) -> None:
        req = ContactRequest(
            customer_id=cid, channel=kw.get("channel", "call"), party="borrower", at=when
        )
        record_attempt(s, request=req, outcome=outcome)  # type: ignore[arg-type]

    with transaction(engine) as s:
        # U: unanswered since five days ago (unreachable); V: the latest call found the
        # number invalid; R: reached yesterday; W: a call long before the window
        for d in (5, 4, 3):
            attempt(s, "U", at - timedelta(days=d), "unanswered")
        attempt(s, "V", at - timedelta(days=1), "invalid-number")
        attempt(s, "R", at - timedelta(days=1), "connected")
        attempt(s, "W", at - timedelta(days=60), "connected")
        for k in range(3):  # X: the daily cap of connected calls reached today
            attempt(s, "X", at - timedelta(hours=2, minutes=k), "connected")
        place_hold(s, customer_id="H", kind=HOLD_KINDS[0], reason="客户来电", actor=officer)
        opt_out(s, customer_id="O", channel="sms", actor=officer, reason="客户要求")
    customers = ("U", "V", "R", "W", "X", "H", "O", "N")
    asks = [
        GateAsk(
            customer_id=c,
            loan_id=f"L-{c}",
            case_id=None,
            channel=ch,
            party=party,
            purpose=purpose,
            at=when,
        )
        for c in customers
        for ch, party, purpose in (
            ("call", "borrower", "collection"),
            ("sms", "borrower", "collection"),
            ("call", "third-party", "leave-message"),
        )
        for when in (at, at + timedelta(days=1))
    ]

    def written(s: Session) -> tuple[int, int]:
        return (
            s.scalar(select(func.count()).select_from(ContactAttempt)) or 0,
            s.scalar(select(func.count()).select_from(ContactDenial)) or 0,
        )

    with transaction(engine) as s:
        before = written(s)
        batched = ask_gate(s, asks)
        assert written(s) == before
        single = one_by_one(s, asks)
    got = [(b.allowed, b.rule) for b in batched]
    assert got == [(d.allowed, d.rule) for d in single]
    rules = {r for _, r in got}
    assert {"cn-2026/third-party", "cn-2026/holds", "cn-2026/opt-out"} <= rules
    third = {
        a.customer_id: b.allowed
        for a, b in zip(asks, batched, strict=True)
        if a.party == "third-party" and a.at == at
    }
    assert third["V"] and not third["N"]  # an invalid number lets a third party be asked
