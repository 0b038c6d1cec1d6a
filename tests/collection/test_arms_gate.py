"""Champion–challenger split and stickiness; the batched gate equals ``check_contact``."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from daihou.collection.arms import arm_bucket, arm_outcomes
from daihou.collection.gate_link import GateAsk, ask_gate
from daihou.collection.models import CollectionCase
from daihou.collection.run import run_collections
from daihou.collection.settings import Rule, Strategy
from daihou.compliance.gate.schema import ContactRequest
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
        rules=[Rule(id="sms-daily", action="sms", template="overdue-daily", min_dpd=1)],
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
        single = [
            check_contact(
                s,
                ContactRequest(
                    customer_id=a.customer_id,
                    channel=a.channel,
                    party="borrower",
                    at=a.at,
                    loan_id=a.loan_id,
                ),
                record_denial=False,
            )
            for a in asks
        ]
    assert [(b.allowed, b.rule) for b in batched] == [(d.allowed, d.rule) for d in single]
    assert any(not b.allowed and b.rule and "connected" in b.rule for b in batched)
    assert any(not b.allowed and b.rule and "quiet" in b.rule for b in batched)
    assert any(b.allowed for b in batched)
