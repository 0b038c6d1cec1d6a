"""Placement batches on a real database: eligibility, allocation, history, recall."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from daihou.auth.permissions import PermissionDenied
from daihou.collection.agencies.models import Placement
from daihou.collection.agencies.placement import place_batch, place_case
from daihou.collection.agencies.recall import expire_placements, recall_case
from daihou.collection.agencies.registry import set_status
from daihou.collection.legal.models import LegalFile
from daihou.collection.models import CaseStatusChange, CollectionCase
from daihou.compliance.audit.models import AuditRecord
from daihou.compliance.gate.holds import place_hold
from daihou.db.engine import transaction
from tests.collection_agencies.helpers import (
    MANAGER,
    START,
    SUPERVISOR,
    add_test_agency,
    build_book,
    make_case,
    overdue_of,
)


def _active(session, case_id):  # type: ignore[no-untyped-def]
    return session.execute(
        select(Placement).where(Placement.case_id == case_id, Placement.status == "active")
    ).scalar_one_or_none()


def test_batch_places_only_eligible_cases(engine: Engine, tmp_path: Path) -> None:
    build_book(engine, tmp_path, {f"L{i}": {} for i in range(1, 9)})
    with transaction(engine) as s:
        add_test_agency(s, "A1")
        ok = make_case(s, "L1", dpd=31, bucket="M2").id
        early = make_case(s, "L2", dpd=12, bucket="M1", failed_visits=2).id
        young = make_case(s, "L3", dpd=30, bucket="M1", failed_visits=1).id
        held = make_case(s, "L4", dpd=45, bucket="M2").id
        legal = make_case(s, "L5", dpd=95, bucket="M4", stage="legal").id
        closed = make_case(s, "L6", dpd=40, bucket="M2", status="closed").id
        other_team = make_case(s, "L7", dpd=40, bucket="M2", team="t2").id
        referred = make_case(s, "L8", dpd=95, bucket="M4").id
        s.add(
            LegalFile(
                case_id=referred, loan_id="L8", opened_on=START, referred_on=START, stage="filed"
            )
        )
        place_hold(
            s, customer_id="C-L4", loan_id=None, kind="dispute", reason="disputes", actor=MANAGER
        )
    with transaction(engine) as s:
        batch = place_batch(s, actor=SUPERVISOR, business_date=START)
        assert batch.cases == 2
    with transaction(engine) as s:
        placed = {p.case_id: p for p in s.execute(select(Placement)).scalars()}
        assert set(placed) == {ok, early}
        for case_id in (young, held, legal, closed, other_team, referred):
            assert s.get(CollectionCase, case_id).agency_id is None  # type: ignore[union-attr]
        case = s.get(CollectionCase, ok)
        assert case is not None and case.agency_id == "A1" and case.stage == "agency"
        p = placed[ok]
        assert p.bucket == "M2" and p.dpd == 31 and p.stage_before == "junior"
        assert p.overdue_amount == overdue_of(s, "L1") > 0
        assert p.due_back_on == START + timedelta(days=90)
        assert str(p.commission_rate) == "0.15"
        changes = s.execute(
            select(CaseStatusChange.field, CaseStatusChange.old_value, CaseStatusChange.new_value)
            .where(CaseStatusChange.case_id == ok)
            .order_by(CaseStatusChange.id)
        ).all()
        assert [tuple(c) for c in changes] == [
            ("agency", None, "A1"),
            ("stage", "junior", "agency"),
        ]
        actions = s.execute(select(AuditRecord.action)).scalars().all()
        assert "placement.batch" in actions
    with transaction(engine) as s:  # nothing left to place: an empty batch
        assert place_batch(s, actor=SUPERVISOR, business_date=START).cases == 0


def test_collector_may_not_place(engine: Engine, tmp_path: Path) -> None:
    from daihou.auth.actor import Actor

    build_book(engine, tmp_path, {"L1": {}})
    collector = Actor(user_id="c1", roles=frozenset({"collector-junior"}))
    with transaction(engine) as s, pytest.raises(PermissionDenied):
        place_batch(s, actor=collector, business_date=START)


def test_capacity_scope_and_one_active_placement(engine: Engine, tmp_path: Path) -> None:
    build_book(engine, tmp_path, {f"L{i}": {} for i in range(1, 7)})
    with transaction(engine) as s:
        add_test_agency(s, "A1", max_cases=2)
        add_test_agency(s, "A2", max_cases=10, buckets=["M3"])
        ids = [make_case(s, f"L{i}", dpd=40, bucket="M2").id for i in range(1, 5)]
        m3 = make_case(s, "L5", dpd=70, bucket="M3").id
    with transaction(engine) as s:
        batch = place_batch(s, actor=SUPERVISOR, business_date=START)
        assert batch.allocation["A1"]["placed"] == 2
        assert batch.allocation["A2"]["placed"] == 1
    with transaction(engine) as s:
        by_case = {p.case_id: p.agency_id for p in s.execute(select(Placement)).scalars()}
        assert by_case[m3] == "A2"  # only A2 takes M3 … and only M3
        assert sum(1 for c in ids if by_case.get(c) == "A1") == 2
        assert all(by_case.get(c) != "A2" for c in ids)
    with pytest.raises(IntegrityError), transaction(engine) as s:
        first = _active(s, m3)
        s.add(
            Placement(
                case_id=m3,
                loan_id="L5",
                agency_id="A1",
                placed_on=START,
                due_back_on=START,
                bucket="M3",
                dpd=70,
                overdue_amount=first.overdue_amount,
                commission_rate=first.commission_rate,
                stage_before="junior",
                placed_by="x",
            )
        )
        s.flush()


def test_expiry_recall_on_demand_and_replacement(engine: Engine, tmp_path: Path) -> None:
    build_book(engine, tmp_path, {"L1": {}, "L2": {}})
    with transaction(engine) as s:
        add_test_agency(s, "A1")
        add_test_agency(s, "A2")
        c1 = make_case(s, "L1", dpd=40, bucket="M2").id
        c2 = make_case(s, "L2", dpd=40, bucket="M2").id
    with transaction(engine) as s:
        place_batch(s, actor=SUPERVISOR, business_date=START)
    due_back = START + timedelta(days=90)
    with transaction(engine) as s:
        first = {c: _active(s, c).agency_id for c in (c1, c2)}  # type: ignore[union-attr]
        assert expire_placements(s, due_back - timedelta(days=1)) == 0
    with transaction(engine) as s:
        recall_case(s, actor=SUPERVISOR, case_id=c2, reason="customer asked")
        recalled = s.execute(select(Placement).where(Placement.case_id == c2)).scalar_one()
        assert (recalled.status, recalled.recall_reason) == ("recalled", "on-demand")
        assert recalled.ended_on == START  # the business date of the recall
        with pytest.raises(ValueError, match="not placed"):
            recall_case(s, actor=SUPERVISOR, case_id=c2, reason="again")
    with transaction(engine) as s:  # a catch-up run long after: ends on the due-back date
        assert expire_placements(s, due_back + timedelta(days=5)) == 1
        assert expire_placements(s, due_back + timedelta(days=5)) == 0
        p = s.execute(select(Placement).where(Placement.case_id == c1)).scalar_one()
        assert (p.status, p.recall_reason, p.ended_on) == ("recalled", "expired", due_back)
        case = s.get(CollectionCase, c1)
        assert case is not None and case.agency_id is None and case.stage == "junior"
    with transaction(engine) as s:  # re-placed: with the other agency
        place_batch(s, actor=SUPERVISOR, business_date=due_back + timedelta(days=6))
        for c in (c1, c2):
            assert _active(s, c).agency_id != first[c]  # type: ignore[union-attr]


def test_suspension_recalls_and_blocks(engine: Engine, tmp_path: Path) -> None:
    build_book(engine, tmp_path, {"L1": {}, "L2": {}})
    with transaction(engine) as s:
        add_test_agency(s, "A1")
        c1 = make_case(s, "L1", dpd=40, bucket="M2").id
        c2 = make_case(s, "L2", dpd=40, bucket="M2").id
        place_case(
            s, actor=SUPERVISOR, case_id=c1, agency_id="A1", business_date=START, reason="big"
        )
    with transaction(engine) as s:
        _, recalled = set_status(
            s, actor=MANAGER, agency_id="A1", status="suspended", reason="inspection failed"
        )
        assert recalled == 1
        assert _active(s, c1) is None
        with pytest.raises(ValueError, match="status suspended"):
            place_case(
                s, actor=SUPERVISOR, case_id=c2, agency_id="A1", business_date=START, reason="x"
            )
    with transaction(engine) as s:
        assert place_batch(s, actor=SUPERVISOR, business_date=START).cases == 0
        set_status(s, actor=MANAGER, agency_id="A1", status="whitelisted", reason="fixed")
        assert place_batch(s, actor=SUPERVISOR, business_date=START).cases == 2


def test_closed_case_is_recalled_the_day_after_closing(engine: Engine, tmp_path: Path) -> None:
    build_book(engine, tmp_path, {"L1": {}})
    with transaction(engine) as s:
        add_test_agency(s, "A1")
        c1 = make_case(s, "L1", dpd=40, bucket="M2").id
        place_batch(s, actor=SUPERVISOR, business_date=START)
    with transaction(engine) as s:
        case = s.get(CollectionCase, c1)
        assert case is not None
        case.status, case.closed_on = "closed", date(2026, 10, 20)
    with transaction(engine) as s:
        assert expire_placements(s, date(2026, 10, 21)) == 1
        p = s.execute(select(Placement)).scalar_one()
        assert (p.recall_reason, p.ended_on) == ("case-closed", date(2026, 10, 21))


def test_lapsed_licence_recalls_in_the_daily_run(engine: Engine, tmp_path: Path) -> None:
    build_book(engine, tmp_path, {"L1": {}, "L2": {}})
    with transaction(engine) as s:
        add_test_agency(s, "A1", licence_expires_on=date(2026, 10, 15))
        add_test_agency(s, "A2")
        c1 = make_case(s, "L1", dpd=40, bucket="M2").id
        c2 = make_case(s, "L2", dpd=40, bucket="M2").id
        for case_id, agency in ((c1, "A1"), (c2, "A2")):
            place_case(
                s, actor=SUPERVISOR, case_id=case_id, agency_id=agency, business_date=START,
                reason="t",
            )  # fmt: skip
    with transaction(engine) as s:
        assert expire_placements(s, date(2026, 10, 15)) == 0  # valid through the 15th
        assert expire_placements(s, date(2026, 10, 16)) == 1
        p = s.execute(select(Placement).where(Placement.case_id == c1)).scalar_one()
        assert (p.recall_reason, p.ended_on) == ("agency-status", date(2026, 10, 16))
        assert _active(s, c2) is not None


def test_two_batches_at_once_place_each_case_once(engine: Engine, tmp_path: Path) -> None:
    import threading

    build_book(engine, tmp_path, {f"L{i}": {} for i in range(1, 9)})
    with transaction(engine) as s:
        add_test_agency(s, "A1", max_cases=3)
        add_test_agency(s, "A2", max_cases=3)
        for i in range(1, 9):
            make_case(s, f"L{i}", dpd=40, bucket="M2")
    barrier = threading.Barrier(2)
    placed: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            with transaction(engine) as s:
                placed.append(place_batch(s, actor=SUPERVISOR, business_date=START).cases)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert sorted(placed) == [0, 6]  # capacity 3 + 3; the second batch finds nothing
    with transaction(engine) as s:
        active = s.execute(select(Placement).where(Placement.status == "active")).scalars().all()
        assert len(active) == len({p.case_id for p in active}) == 6
