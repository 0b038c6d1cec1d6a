"""Holds and opt-outs are state changes: each appends to the audit chain."""

from __future__ import annotations

from sqlalchemy import Engine, select

from daihou.auth.actor import Actor
from daihou.compliance.audit.models import AuditRecord
from daihou.compliance.audit.service import verify
from daihou.compliance.gate.holds import opt_in, opt_out, place_hold, release_hold
from daihou.db.engine import transaction

OFFICER = Actor(user_id="li.na", roles=frozenset({"compliance-officer"}))


def test_holds_and_opt_outs_are_audited(engine: Engine) -> None:
    with transaction(engine) as s:
        hold = place_hold(
            s, customer_id="C1", kind="dispute", reason="disputes the amount", actor=OFFICER
        )
        opt_out(s, customer_id="C1", channel="sms", actor=OFFICER, reason="asked by phone")
    with transaction(engine) as s:
        release_hold(s, hold_id=hold.id, reason="dispute resolved", actor=OFFICER)
        opt_in(s, customer_id="C1", channel="sms", actor=OFFICER, reason="asked again")
    with transaction(engine) as s:
        rows = s.scalars(select(AuditRecord).order_by(AuditRecord.id)).all()
        assert [(r.action, r.actor_id) for r in rows] == [
            ("hold.place", "li.na"),
            ("contact.opt-out", "li.na"),
            ("hold.release", "li.na"),
            ("contact.opt-in", "li.na"),
        ]
        assert verify(s).ok
