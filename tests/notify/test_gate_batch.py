"""The worker's batch gate decides exactly as ``check_contact`` one by one: holds,
opt-outs, quiet hours, and caps that count the batch's own earlier attempts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from daihou.auth.actor import SYSTEM
from daihou.compliance.gate import ContactRequest, check_contact, record_attempt
from daihou.compliance.gate.batch import check_batch
from daihou.compliance.gate.holds import opt_out, place_hold
from daihou.compliance.gate.models import ContactAttempt, ContactDenial
from daihou.compliance.gate.packs import combine, load_contact_pack
from daihou.db.engine import session_factory

CAP_PACK = """
name: test-sms-cap
version: "1"
effective_on: 2020-01-01
jurisdiction: CN
title: test
rules:
  caps:
    - id: daily-sms
      counts: attempts
      per: debtor
      window_days: 1
      max: 2
      media: [sms]
      parties: [borrower]
    - id: sms-per-number
      counts: attempts
      per: number
      window_days: 1
      max: 3
      media: [sms]
      parties: [all]
"""


@pytest.mark.parametrize("hour_utc", [2, 15])  # 10:00 and 23:00 in Shanghai
def test_batch_decisions_equal_one_by_one(engine: Engine, tmp_path: Path, hour_utc: int) -> None:
    pack = tmp_path / "cap.yaml"
    pack.write_text(CAP_PACK)
    rules = combine([load_contact_pack("cn-2026"), load_contact_pack(str(pack))])
    at = datetime(2026, 3, 16, hour_utc, tzinfo=UTC)
    make = session_factory(engine)
    with make() as s, s.begin():
        place_hold(s, customer_id="HELD", kind="dispute", reason="x", actor=SYSTEM)
        opt_out(s, customer_id="OUT", channel="sms", actor=SYSTEM, reason="x")
        earlier = ContactRequest(
            customer_id="BUSY",
            channel="sms",
            party="borrower",
            at=at - timedelta(hours=1),
            address="13900000009",
        )
        record_attempt(s, request=earlier, outcome="sent")
    requests = [
        ContactRequest(
            customer_id=c,
            channel="sms",
            party="borrower",
            at=at,
            tz="Asia/Shanghai",
            address=number,
            purpose="collection",
        )
        for c, number in [
            ("A", "13900000001"),
            ("A", "13900000001"),
            ("A", "13900000001"),
            ("HELD", "13900000002"),
            ("OUT", "13900000003"),
            ("BUSY", "13900000009"),
            ("BUSY", "13900000009"),
            ("B", "13900000009"),
            ("C", "13900000009"),
            ("D", "13900000004"),
        ]
    ]

    def one_by_one() -> list[tuple[bool, str | None, datetime | None]]:
        out = []
        with make() as s:
            s.begin()
            for r in requests:
                d = check_contact(s, r, rules=rules)
                if d.allowed:
                    record_attempt(s, request=r, outcome="sent")
                out.append((d.allowed, d.rule, d.next_allowed_at))
            counts = (
                s.scalar(select(func.count()).select_from(ContactAttempt)),
                s.scalar(select(func.count()).select_from(ContactDenial)),
            )
            s.rollback()
        return [*out, counts]  # type: ignore[list-item]

    def batched() -> list[tuple[bool, str | None, datetime | None]]:
        with make() as s:
            s.begin()
            out = [
                (d.allowed, d.rule, d.next_allowed_at)
                for d in check_batch(s, requests, rules=rules)
            ]
            counts = (
                s.scalar(select(func.count()).select_from(ContactAttempt)),
                s.scalar(select(func.count()).select_from(ContactDenial)),
            )
            s.rollback()
        return [*out, counts]  # type: ignore[list-item]

    expected = one_by_one()
    assert batched() == expected
    allowed = [a for a, _, _ in expected[:-1]]  # type: ignore[misc]
    if hour_utc == 2:
        # A: two, then the daily cap; held and opted out refused; BUSY had one already;
        # the shared number reaches its cap of three on B; C is refused, D is fine
        assert allowed == [True, True, False, False, False, True, False, True, False, True]
    else:
        assert not any(allowed)
