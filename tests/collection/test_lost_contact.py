"""Lost contact (失联) after five days and contact repair (信息修复)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text

from daihou.auth.permissions import PermissionDenied
from daihou.collection.contact_models import ContactPoint
from daihou.collection.contacts import ContactDenied, log_contact
from daihou.collection.models import CaseStatusChange
from daihou.collection.repair import evaluate_contact_status, record_repair, repairs_of
from daihou.compliance.audit.models import AuditRecord
from daihou.db.engine import transaction
from daihou.loans.models import Customer
from tests.collection.contact_helpers import LI, TODAY, WANG, at, case_of, make_book

NEW_NUMBER = "13912345678"


@pytest.fixture
def case_id(engine: Engine, tmp_path: Path) -> int:
    return make_book(engine, tmp_path)["L1"]


def call(engine: Engine, case_id: int, day: date, outcome: str, **kw: object) -> None:
    with transaction(engine) as s:
        log_contact(
            s,
            actor=LI,
            case_id=case_id,
            channel="call",
            outcome=outcome,
            at=at(f"{day.isoformat()}T10:00:00"),
            **kw,  # type: ignore[arg-type]
        )


def evaluate(engine: Engine, day: date) -> list[int]:
    with transaction(engine) as s:
        return evaluate_contact_status(s, day).lost


def contact(engine: Engine, case_id: int) -> tuple[str, date | None]:
    with transaction(engine) as s:
        case = case_of(s, case_id)
        return case.contact_status, case.lost_contact_since


def repair(engine: Engine, case_id: int, found_on: date, **kw: object) -> ContactPoint:
    args = {"kind": "phone", "value": NEW_NUMBER, "source": "carrier"} | kw
    with transaction(engine) as s:
        return record_repair(s, actor=LI, case_id=case_id, found_on=found_on, **args)  # type: ignore[arg-type]


def test_lost_after_five_days_without_a_right_party_contact(engine: Engine, case_id: int) -> None:
    call(engine, case_id, date(2026, 2, 25), "rpc")  # five days before 2026-03-02
    call(engine, case_id, date(2026, 2, 27), "no-answer")
    assert evaluate(engine, date(2026, 3, 1)) == []  # the RPC is four days old
    assert evaluate(engine, TODAY) == [case_id]
    assert contact(engine, case_id) == ("lost", TODAY)
    assert evaluate(engine, TODAY) == []  # already lost: nothing changes
    with transaction(engine) as s:
        (change,) = s.scalars(select(CaseStatusChange)).all()
        entry = s.scalars(select(AuditRecord).where(AuditRecord.action == "contact.lost")).one()
    assert (change.field, change.old_value, change.new_value) == ("contact", "reachable", "lost")
    assert json.loads(entry.basis)["rule"] == "contacts.lost_contact_days"


def test_not_lost_when_reached_recently_or_never_tried(engine: Engine, case_id: int) -> None:
    assert evaluate(engine, TODAY) == []  # nobody tried: not lost
    call(engine, case_id, date(2026, 2, 20), "no-answer")  # tried, but before the window
    assert evaluate(engine, TODAY) == []
    call(engine, case_id, date(2026, 2, 26), "busy")
    call(engine, case_id, date(2026, 2, 27), "rpc")
    assert evaluate(engine, TODAY) == []
    assert evaluate(engine, date(2026, 3, 4)) == []  # no call since the RPC
    call(engine, case_id, date(2026, 3, 1), "no-answer")
    assert evaluate(engine, date(2026, 3, 3)) == []  # the RPC is four days old
    assert evaluate(engine, date(2026, 3, 4)) == [case_id]


def test_a_young_case_is_not_lost(engine: Engine, case_id: int) -> None:
    with transaction(engine) as s:
        case_of(s, case_id).opened_on = date(2026, 2, 26)
    call(engine, case_id, date(2026, 2, 27), "invalid-number")
    assert evaluate(engine, TODAY) == []
    assert evaluate(engine, date(2026, 3, 3)) == [case_id]


def test_a_known_number_not_yet_tried_keeps_the_case_reachable(
    engine: Engine, case_id: int
) -> None:
    repair(engine, case_id, date(2026, 2, 10))
    call(engine, case_id, date(2026, 2, 27), "switched-off")  # the number on file
    assert evaluate(engine, TODAY) == []
    call(engine, case_id, date(2026, 2, 28), "wrong-party", address=NEW_NUMBER)
    assert evaluate(engine, TODAY) == [case_id]


def test_a_number_found_invalid_stays_exhausted(engine: Engine, case_id: int) -> None:
    call(engine, case_id, date(2026, 1, 10), "invalid-number")  # the number on file, long ago
    repair(engine, case_id, date(2026, 1, 20))
    call(engine, case_id, date(2026, 2, 28), "no-answer", address=f"+86 {NEW_NUMBER}")
    assert evaluate(engine, TODAY) == [case_id]


def test_repair_makes_a_lost_case_reachable_for_another_five_days(
    engine: Engine, case_id: int
) -> None:
    call(engine, case_id, date(2026, 2, 27), "no-answer")
    assert evaluate(engine, TODAY) == [case_id]
    point = repair(
        engine, case_id, TODAY, kind="employer", value="某某科技有限公司", source="social"
    )
    assert contact(engine, case_id) == ("reachable", None)
    for day in range(1, 5):
        call(engine, case_id, TODAY + timedelta(days=day), "no-answer")
        assert evaluate(engine, TODAY + timedelta(days=day)) == []
    assert evaluate(engine, TODAY + timedelta(days=5)) == [case_id]
    with transaction(engine) as s:
        changes = s.scalars(select(CaseStatusChange).order_by(CaseStatusChange.id)).all()
        (stored,) = repairs_of(s, actor=LI, case_id=case_id)
    assert [(c.old_value, c.new_value) for c in changes] == [
        ("reachable", "lost"),
        ("lost", "reachable"),
        ("reachable", "lost"),
    ]
    assert "contact repair" in (changes[1].reason or "") and changes[1].actor == "li"
    assert stored.id == point.id and stored.detail == "某某科技有限公司" and stored.phone is None


def test_a_right_party_contact_ends_lost_contact(engine: Engine, case_id: int) -> None:
    call(engine, case_id, date(2026, 2, 27), "no-answer")
    evaluate(engine, TODAY)
    call(engine, case_id, TODAY, "callback-requested", direction="inbound")
    assert contact(engine, case_id) == ("reachable", None)
    with transaction(engine) as s:
        assert case_of(s, case_id).last_rpc_on == TODAY


def test_lost_contact_opens_third_party_messages_at_the_gate(engine: Engine, case_id: int) -> None:
    call(engine, case_id, date(2026, 3, 1), "no-answer")
    third = {"party": "third-party", "address": "13700000000"}
    with pytest.raises(ContactDenied, match="third-party"):
        call(engine, case_id, TODAY, "message-left", **third)
    assert evaluate(engine, TODAY) == [case_id]
    call(engine, case_id, TODAY, "message-left", **third)


def test_repairs_are_stored_encrypted_and_hashed_like_the_number_on_file(
    engine: Engine, case_id: int
) -> None:
    point = repair(engine, case_id, TODAY, value="138 0013 8000", verified=True)
    with transaction(engine) as s:
        raw = s.execute(text("SELECT phone FROM contact_points")).scalar_one()
        on_file = s.scalar(select(Customer.phone_hash).where(Customer.id == "C-L1"))
        entry = s.scalars(select(AuditRecord).where(AuditRecord.action == "contact.repair")).one()
    assert raw.startswith("enc:v1:") and "13800138000" not in raw
    assert point.phone_hash == on_file
    assert json.loads(entry.basis)["role"] == "collector-junior"
    for bad, message in (
        ({"value": "12"}, "fewer than 7 digits"),
        ({"source": "guess"}, "source"),
        ({"kind": "fax"}, "kind"),
    ):
        with pytest.raises(ValueError, match=message):
            repair(engine, case_id, TODAY, **bad)
    with pytest.raises(PermissionDenied), transaction(engine) as s:
        record_repair(
            s, actor=WANG, case_id=case_id, kind="phone", value=NEW_NUMBER, source="police"
        )


def test_calls_on_another_case_do_not_exhaust_this_cases_number(
    engine: Engine, tmp_path: Path
) -> None:
    ids = make_book(engine, tmp_path, {"A1": {}, "A2": {}})
    for case_id in ids.values():
        repair(engine, case_id, date(2026, 2, 10))  # the same new number on both cases
        call(engine, case_id, date(2026, 2, 27), "no-answer")  # each number on file
    call(engine, ids["A2"], date(2026, 2, 28), "no-answer", address=NEW_NUMBER)
    assert evaluate(engine, TODAY) == [ids["A2"]]
