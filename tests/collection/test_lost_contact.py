"""Lost contact (失联) after five days and contact repair (信息修复).

One rule (``collection.lost_contact``) for the daily run's case sync and ``daihou contact
evaluate``: no right-party contact for N days counted from the last of T+0 (the missed
due date, D − DPD), the last right-party contact and the last contact repair."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text, update

from daihou.auth.permissions import PermissionDenied
from daihou.collection.cases import sync_cases
from daihou.collection.contact_models import ContactPoint
from daihou.collection.contacts import ContactDenied, log_contact
from daihou.collection.lost_contact import RULE
from daihou.collection.models import CaseStatusChange, CollectionCase
from daihou.collection.repair import evaluate_contact_status, record_repair, repairs_of
from daihou.compliance.audit.models import AuditRecord
from daihou.db.engine import transaction
from daihou.loans.models import Customer, Loan
from daihou.policy.loader import load_pack
from tests.collection.contact_helpers import LI, TODAY, WANG, at, case_of, make_book

NEW_NUMBER = "13912345678"


def set_dpd(engine: Engine, dpd: dict[str, int]) -> None:
    """The loans' DPD as end of day would have closed them."""
    with transaction(engine) as s:
        for loan_id, days in dpd.items():
            s.execute(update(Loan).where(Loan.id == loan_id).values(dpd=days))


@pytest.fixture
def case_id(engine: Engine, tmp_path: Path) -> int:
    case = make_book(engine, tmp_path)["L1"]
    set_dpd(engine, {"L1": 77})  # first unpaid installment due 2025-12-15
    return case


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
    assert json.loads(entry.basis)["rule"] == RULE == "collections.lost_contact_after_days"


def test_days_count_from_the_missed_due_date(engine: Engine, case_id: int) -> None:
    """T+0 starts the clock: nobody need have called (POLICY.md §5: T+5 unreachable)."""
    set_dpd(engine, {"L1": 4})
    assert evaluate(engine, TODAY) == []  # T+4
    set_dpd(engine, {"L1": 5})
    assert evaluate(engine, TODAY) == [case_id]  # T+5


def test_unanswered_calls_reach_nobody(engine: Engine, case_id: int) -> None:
    for day in (26, 27, 28):
        call(engine, case_id, date(2026, 2, day), "no-answer")
    call(engine, case_id, date(2026, 3, 1), "wrong-party")
    assert evaluate(engine, TODAY) == [case_id]


def test_a_repair_gives_another_five_days(engine: Engine, case_id: int) -> None:
    repair(engine, case_id, date(2026, 2, 28))  # found before the case was lost
    assert contact(engine, case_id) == ("reachable", None)
    assert evaluate(engine, TODAY) == []
    assert evaluate(engine, date(2026, 3, 4)) == []
    assert evaluate(engine, date(2026, 3, 5)) == [case_id]  # five days after the repair


def test_the_daily_run_and_contact_evaluate_apply_the_same_rule(
    engine: Engine, tmp_path: Path
) -> None:
    """The case sync of the daily run and ``evaluate_contact_status`` mark the same cases:
    both call ``collection.lost_contact.mark_lost``."""
    ids = make_book(engine, tmp_path, {"A1": {}, "A2": {}, "A3": {}, "A4": {}})
    set_dpd(engine, {"A1": 77, "A2": 77, "A3": 77, "A4": 4})
    call(engine, ids["A1"], date(2026, 2, 27), "rpc")  # reached four days ago
    repair(engine, ids["A2"], date(2026, 2, 28))  # repaired three days ago
    # A3: nothing for five days and more; A4: only T+4
    with transaction(engine) as s:
        expected = evaluate_contact_status(s, TODAY).lost
        s.rollback()
    assert expected == [ids["A3"]]
    with transaction(engine) as s:
        synced = sync_cases(s, business_date=TODAY, settings=load_pack().collections)
    assert synced.lost_contact == 1
    with transaction(engine) as s:
        lost = s.scalars(select(CollectionCase.id).where(CollectionCase.contact_status == "lost"))
        changes = s.scalars(select(CaseStatusChange).where(CaseStatusChange.field == "contact"))
        assert list(lost) == expected
        assert [(c.case_id, c.new_value, c.actor) for c in changes] == [
            (ids["A3"], "lost", "system")
        ]
    assert evaluate(engine, TODAY) == []  # the run marked it already


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
