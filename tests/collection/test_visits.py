"""Field visits: plan and record, photos with their hash (tamper detected), failed
visits and early placement, the home-visit requirement, the gate and scope."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from daihou.auth.permissions import PermissionDenied
from daihou.collection.contacts import ContactDenied
from daihou.collection.visits import (
    PhotoTampered,
    cases_missing_home_visit,
    early_placement_eligible,
    home_visit_required,
    plan_visit,
    read_photo,
    record_visit,
    visits_of,
)
from daihou.compliance.audit.models import AuditRecord
from daihou.compliance.gate.models import ContactAttempt, Hold
from daihou.db.engine import transaction
from tests.collection.contact_helpers import LI, TODAY, WANG, at, case_of, make_book

PHOTO = b"\xff\xd8\xff\xe0 a photo of the front door \xff\xd9"


@pytest.fixture
def cases(engine: Engine, tmp_path: Path) -> dict[str, int]:
    return make_book(engine, tmp_path, {"L1": {}, "BIG": {"principal": "600000.00"}})


def visit(engine: Engine, photo_dir: Path, case_id: int, result: str, **kw: object):
    args = {
        "actor": LI,
        "case_id": case_id,
        "at": at("2026-03-02T15:00:00"),
        "result": result,
        "kind": "home",
        "place": "上海市浦东新区某路1号",
        "photo_dir": photo_dir,
    } | kw
    with transaction(engine) as s:
        return record_visit(s, **args)  # type: ignore[arg-type]


def test_a_planned_visit_is_recorded_with_photos_whose_hash_is_kept(
    engine: Engine, cases: dict[str, int], tmp_path: Path
) -> None:
    photos = tmp_path / "photos"
    with transaction(engine) as s:
        planned = plan_visit(
            s,
            actor=LI,
            case_id=cases["L1"],
            kind="home",
            place="上海市某路1号",
            planned_on=TODAY,
            visitors=["li", "zhao"],
        )
    done = visit(
        engine,
        photos,
        cases["L1"],
        "met-borrower",
        visit_id=planned.id,
        kind=None,
        place=None,
        photos=[("door.JPG", PHOTO), ("street.png", b"another photo")],
    )
    sha = hashlib.sha256(PHOTO).hexdigest()
    first = done.photos[0]
    assert first.sha256 == sha and first.path == f"{sha[:2]}/{sha}.jpg"
    assert (photos / first.path).read_bytes() == PHOTO
    with transaction(engine) as s:
        assert read_photo(s, first.id, photo_dir=photos) == PHOTO
        (row,) = visits_of(s, actor=LI, case_id=cases["L1"])
        case = case_of(s, cases["L1"])
        entries = s.scalars(select(AuditRecord).where(AuditRecord.action == "visit.photo")).all()
        attempt = s.get(ContactAttempt, row.attempt_id)
    assert row.status == "done" and row.visitors == "li,zhao" and row.failed is False
    assert row.place == "上海市某路1号" and row.visit_date == TODAY
    assert case.last_rpc_on == TODAY and case.failed_visits == 0
    assert [e.document_hash for e in entries] == [p.sha256 for p in done.photos]
    assert attempt.channel == "visit" and attempt.outcome == "connected"
    with pytest.raises(ValueError, match="already done"):
        visit(engine, photos, cases["L1"], "met-borrower", visit_id=planned.id)


def test_a_changed_or_missing_photo_file_is_detected(
    engine: Engine, cases: dict[str, int], tmp_path: Path
) -> None:
    done = visit(engine, tmp_path, cases["L1"], "not-at-home", photos=[("door.jpg", PHOTO)])
    path = tmp_path / done.photos[0].path
    path.write_bytes(PHOTO.replace(b"front", b"back."))
    with pytest.raises(PhotoTampered, match="was changed"), transaction(engine) as s:
        read_photo(s, done.photos[0].id, photo_dir=tmp_path)
    path.unlink()
    with pytest.raises(PhotoTampered, match="missing"), transaction(engine) as s:
        read_photo(s, done.photos[0].id, photo_dir=tmp_path)


def test_two_failed_visits_make_the_case_eligible_for_early_placement(
    engine: Engine, cases: dict[str, int], tmp_path: Path
) -> None:
    case_id = cases["L1"]
    visit(engine, tmp_path, case_id, "not-at-home")
    with transaction(engine) as s:
        assert case_of(s, case_id).failed_visits == 1
        assert not early_placement_eligible(s, case_id)
    visit(engine, tmp_path, case_id, "moved", at=at("2026-03-03T10:00:00"))
    with transaction(engine) as s:
        case = case_of(s, case_id)
        attempts = s.scalars(select(ContactAttempt.outcome).order_by(ContactAttempt.id)).all()
        assert case.failed_visits == 2 and case.last_rpc_on is None
        assert early_placement_eligible(s, case_id)
    assert attempts == ["unanswered", "invalid-number"]


def test_results_that_met_the_borrower_change_the_case(
    engine: Engine, cases: dict[str, int], tmp_path: Path
) -> None:
    case_id = cases["L1"]
    visit(engine, tmp_path, case_id, "refused")
    with transaction(engine) as s:
        assert case_of(s, case_id).refused
    done = visit(
        engine,
        tmp_path,
        case_id,
        "promise",
        at=at("2026-03-02T16:00:00"),
        promise_amount="200.00",
        promise_date=date(2026, 3, 4),
    )
    with transaction(engine) as s:
        case = case_of(s, case_id)
        assert not case.refused and case.promise_until == date(2026, 3, 6)
    assert done.promise is not None and done.promise.visit_id == done.visit.id
    with pytest.raises(ValueError, match="promise amount and date"):
        visit(engine, tmp_path, case_id, "promise")


def test_a_dispute_at_the_door_places_a_hold(
    engine: Engine, cases: dict[str, int], tmp_path: Path
) -> None:
    visit(engine, tmp_path, cases["L1"], "dispute", note="客户称已结清，需核实")
    with transaction(engine) as s:
        (hold,) = s.scalars(select(Hold)).all()
    assert (hold.kind, hold.loan_id) == ("dispute", "L1")


def test_home_visit_required_above_fifty_thousand_until_visited_with_photos(
    engine: Engine, cases: dict[str, int], tmp_path: Path
) -> None:
    big, small = cases["BIG"], cases["L1"]
    with transaction(engine) as s:
        assert home_visit_required(s, case_of(s, big))
        assert not home_visit_required(s, case_of(s, small))
        missing = cases_missing_home_visit(s, TODAY)
    assert [(c, loan) for c, loan, _ in missing] == [(big, "BIG")]
    assert missing[0][2] > 50_000
    visit(engine, tmp_path, big, "not-at-home")  # no photo: not enough
    visit(engine, tmp_path, big, "met-borrower", kind="other", photos=[("a.jpg", PHOTO)])
    with transaction(engine) as s:
        assert [c for c, _, _ in cases_missing_home_visit(s, TODAY)] == [big]
    visit(engine, tmp_path, big, "not-at-home", kind="workplace", photos=[("b.jpg", b"x")])
    with transaction(engine) as s:
        assert cases_missing_home_visit(s, TODAY) == []


def test_visits_ask_the_gate_and_respect_scope(
    engine: Engine, cases: dict[str, int], tmp_path: Path
) -> None:
    with pytest.raises(ContactDenied, match="quiet-hours"):
        visit(engine, tmp_path, cases["L1"], "not-at-home", at=at("2026-03-02T22:15:00"))
    with pytest.raises(PermissionDenied), transaction(engine) as s:
        plan_visit(s, actor=WANG, case_id=cases["L1"], kind="home", place="x", planned_on=TODAY)
    with pytest.raises(PermissionDenied):
        visit(engine, tmp_path, cases["L1"], "not-at-home", actor=WANG)
    with transaction(engine) as s:
        assert case_of(s, cases["L1"]).failed_visits == 0
        actions = s.scalars(select(AuditRecord.action)).all()
    assert not [a for a in actions if a.startswith("visit.")]
    done = visit(engine, tmp_path, cases["L1"], "not-at-home")
    with transaction(engine) as s:
        entry = s.scalars(select(AuditRecord).where(AuditRecord.action == "visit.record")).one()
    assert entry.object_id == str(done.visit.id)
    basis = json.loads(entry.basis)
    assert basis["role"] == "collector-junior" and basis["rule_id"].endswith(":visit.record")
