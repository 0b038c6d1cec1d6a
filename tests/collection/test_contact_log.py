"""The contact log: outcome side effects, the gate, the language check, scope, audit."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from daihou.auth.permissions import PermissionDenied
from daihou.collection import codes
from daihou.collection.contact_models import ContactLog, PromiseToPay
from daihou.collection.contacts import ContactDenied, NoteRefused, contact_history, log_contact
from daihou.compliance.audit.models import AuditRecord
from daihou.compliance.audit.service import verify
from daihou.compliance.gate.models import ContactAttempt, ContactDenial, Hold
from daihou.compliance.language.models import LanguageFlag
from daihou.db.engine import transaction
from tests.collection.contact_helpers import LI, SUPERVISOR, TODAY, WANG, at, case_of, make_book

CONVERSATION = [c for c in codes.OUTCOMES if c not in codes.MESSAGE_OUTCOMES]


@pytest.fixture
def case_id(engine: Engine, tmp_path: Path) -> int:
    return make_book(engine, tmp_path)["L1"]


def log(engine: Engine, case_id: int, when: str = "2026-03-02T10:00:00", **kw: object):
    args = {"actor": LI, "case_id": case_id, "channel": "call", "outcome": "rpc", "at": at(when)}
    with transaction(engine) as s:
        return log_contact(s, **(args | kw))  # type: ignore[arg-type]


@pytest.mark.parametrize("outcome", CONVERSATION)
def test_each_conversation_outcome_changes_the_case_as_its_code_says(
    engine: Engine, case_id: int, outcome: str
) -> None:
    with transaction(engine) as s:
        case = case_of(s, case_id)
        case.contact_status, case.lost_contact_since = "lost", date(2026, 2, 20)
    extra = {"promise_amount": "500.00", "promise_date": date(2026, 3, 6)}
    done = log(engine, case_id, outcome=outcome, **(extra if outcome == "promise" else {}))
    code = codes.OUTCOMES[outcome]
    with transaction(engine) as s:
        case = case_of(s, case_id)
        row = s.get(ContactLog, done.log.id)
        attempt = s.get(ContactAttempt, row.attempt_id)
        holds = s.scalars(select(Hold)).all()
        promises = s.scalars(select(PromiseToPay)).all()
    assert row.rpc is code.borrower_engaged
    assert attempt.outcome == code.gate and attempt.channel == "call"
    if code.borrower_engaged:
        assert case.last_rpc_on == TODAY and case.contact_status == "reachable"
        assert case.lost_contact_since is None
    else:
        assert case.last_rpc_on is None and case.contact_status == "lost"
    assert case.refused is (outcome == "refused")
    expected_hold = {"dispute", "complaint", "hardship", "deceased", "bankruptcy"}
    assert [h.kind for h in holds] == ([outcome] if outcome in expected_hold else [])
    if holds:
        customer_wide = outcome in {"deceased", "bankruptcy"}
        assert holds[0].loan_id == (None if customer_wide else "L1")
        assert done.hold is not None and done.hold.id == holds[0].id
    if outcome == "promise":
        (promise,) = promises
        assert promise.amount == Decimal("500.00") and promise.until == date(2026, 3, 8)
        assert case.promise_until == date(2026, 3, 8) and promise.contact_log_id == row.id
    else:
        assert promises == [] and case.promise_until is None


@pytest.mark.parametrize("outcome", sorted(codes.MESSAGE_OUTCOMES))
def test_messages_never_count_as_right_party_contact(
    engine: Engine, case_id: int, outcome: str
) -> None:
    done = log(engine, case_id, channel="sms", outcome=outcome)
    with transaction(engine) as s:
        attempt = s.get(ContactAttempt, done.log.attempt_id)
        assert case_of(s, case_id).last_rpc_on is None
    assert attempt.outcome == outcome and not done.log.rpc
    assert done.log.phone == "13800138000"  # the number on file


def test_outcome_must_fit_the_channel_and_promise_needs_its_terms(
    engine: Engine, case_id: int
) -> None:
    with pytest.raises(ValueError, match="does not fit channel"):
        log(engine, case_id, channel="sms", outcome="rpc")
    with pytest.raises(ValueError, match="does not fit channel"):
        log(engine, case_id, channel="call", outcome="delivered")
    with pytest.raises(ValueError, match="promise amount and date"):
        log(engine, case_id, outcome="promise")
    with pytest.raises(ValueError, match="promise amount and date"):
        log(engine, case_id, outcome="rpc", promise_amount="10.00", promise_date=TODAY)
    with pytest.raises(ValueError, match="attitude"):
        log(engine, case_id, attitude="angry")
    with transaction(engine) as s:
        assert s.scalar(select(func.count()).select_from(ContactLog)) == 0


def test_the_gate_refuses_a_call_at_night_and_over_the_daily_cap(
    engine: Engine, case_id: int
) -> None:
    with pytest.raises(ContactDenied, match="quiet-hours"):
        log(engine, case_id, "2026-03-02T22:30:00")
    with transaction(engine) as s, pytest.raises(ContactDenied) as denied:
        log_contact(
            s,
            actor=LI,
            case_id=case_id,
            channel="call",
            outcome="rpc",
            at=at("2026-03-02T07:59:00"),
        )
        # the caller that commits keeps the gate's record of the denial
    assert denied.value.decision.next_allowed_at == at("2026-03-02T08:00:00")
    for hour in (9, 11, 13):
        log(engine, case_id, f"2026-03-02T{hour:02d}:00:00")
    with pytest.raises(ContactDenied, match="daily-connected-calls"):
        log(engine, case_id, "2026-03-02T15:00:00")
    log(engine, case_id, "2026-03-02T15:00:00", channel="sms", outcome="sent")
    with transaction(engine) as s:
        assert s.scalar(select(func.count()).select_from(ContactLog)) == 4
        rules = s.scalars(select(ContactDenial.rule)).all()
    assert rules == ["cn-2026/quiet-hours"]


def test_an_inbound_call_is_not_asked_of_the_gate_but_is_recorded(
    engine: Engine, case_id: int
) -> None:
    done = log(engine, case_id, "2026-03-02T22:30:00", direction="inbound")
    assert done.decision is None
    with transaction(engine) as s:
        attempt = s.get(ContactAttempt, done.log.attempt_id)
        assert case_of(s, case_id).last_rpc_on == TODAY
    assert attempt.direction == "inbound" and attempt.outcome == "connected"


def test_a_hold_from_a_dispute_stops_the_next_call(engine: Engine, case_id: int) -> None:
    log(engine, case_id, outcome="dispute", note="客户称金额有误")
    with pytest.raises(ContactDenied, match="holds"):
        log(engine, case_id, "2026-03-02T11:00:00")


def test_a_note_with_a_threat_is_refused_and_an_insult_is_flagged(
    engine: Engine, case_id: int
) -> None:
    with pytest.raises(NoteRefused, match="third_party"):
        log(engine, case_id, note="告诉他不还钱就起诉你家人")
    with transaction(engine) as s:
        assert s.scalar(select(func.count()).select_from(ContactLog)) == 0
        assert s.scalar(select(func.count()).select_from(ContactAttempt)) == 0
    done = log(engine, case_id, note="客户态度差，说他是老赖也不在乎")
    clean = log(engine, case_id, "2026-03-02T11:00:00", note="客户称下周还款")
    with transaction(engine) as s:
        flags = s.scalars(select(LanguageFlag)).all()
    assert done.log.note_flagged and not clean.log.note_flagged
    assert [(f.object_type, f.object_id, f.max_severity) for f in flags] == [
        ("contact_log", str(done.log.id), "medium")
    ]


def test_a_collector_cannot_log_on_another_collectors_case(engine: Engine, case_id: int) -> None:
    with pytest.raises(PermissionDenied, match="outside their scope"):
        log(engine, case_id, actor=WANG)
    with pytest.raises(PermissionDenied), transaction(engine) as s:
        contact_history(s, actor=WANG, case_id=case_id)
    log(engine, case_id, actor=SUPERVISOR)  # the owner's team supervisor may
    with transaction(engine) as s:
        (row,) = contact_history(s, actor=LI, case_id=case_id)
    assert row.collector == "sv"


def test_the_audit_entry_carries_the_authorisation_basis(engine: Engine, case_id: int) -> None:
    done = log(engine, case_id, outcome="dispute", attitude="cooperative", next_action="call-back")
    with transaction(engine) as s:
        entry = s.scalars(select(AuditRecord).where(AuditRecord.action == "contact.log")).one()
        hold_entry = s.scalars(select(AuditRecord).where(AuditRecord.action == "hold.place")).one()
        assert verify(s).ok
    basis = json.loads(entry.basis)
    assert entry.object_id == str(done.log.id) and entry.actor_id == "li"
    assert basis["role"] == "collector-junior" and basis["scope"] == "own"
    assert basis["rule_id"].endswith(":contact.log") and basis["checked_resource"] is True
    assert basis["hold_rule"] == "contacts.hold_on_outcome.dispute"
    assert basis["gate"] == ["cn-2026@2026.1"]
    assert hold_entry.id < entry.id
    assert done.log.basis["role"] == "collector-junior"


def test_a_closed_case_takes_no_contact_and_logs_cannot_change(
    engine: Engine, case_id: int
) -> None:
    done = log(engine, case_id)
    with pytest.raises(ValueError, match="cannot be changed"), transaction(engine) as s:
        s.get(ContactLog, done.log.id).note = "edited"
    with transaction(engine) as s:
        case_of(s, case_id).status = "closed"
    with pytest.raises(ValueError, match="needs an open case"):
        log(engine, case_id, "2026-03-02T11:00:00")
