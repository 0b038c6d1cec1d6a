"""Assignment (capacity, balance, stickiness, tiers), transfer, reassignment, scopes,
task lists and the no-feedback report."""

from __future__ import annotations

from collections import Counter
from datetime import date as date_
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select, update

from daihou.auth.actor import SYSTEM, Actor
from daihou.auth.permissions import PermissionDenied
from daihou.collection.assign import assign_cases, reassign_case, transfer_cases
from daihou.collection.cases import case_view, list_cases, sync_cases
from daihou.collection.models import CaseStatusChange, CollectionCase
from daihou.collection.run import run_collections
from daihou.collection.tables import CollectionTask, CollectionTreatment, Collector
from daihou.collection.tasks import (
    deferred_work,
    mark_task_feedback,
    mark_tasks_feedback,
    no_feedback,
    priority,
    task_list,
)
from daihou.compliance.audit.models import AuditRecord
from daihou.db.engine import session_factory, transaction
from daihou.eod.runner import run_eod
from daihou.policy.loader import load_pack
from tests.collection.conftest import FIRST_DUE, START
from tests.collection.helpers import add_collector, close_and_run
from tests.factories import add_loans, loan_row

D = FIRST_DUE + timedelta(days=5)  # T+5: call, contacts, repair, visit for every case
SUP1 = Actor(user_id="sup1", roles=frozenset({"supervisor"}), team="T1")
SUP2 = Actor(user_id="sup2", roles=frozenset({"supervisor"}), team="T2")
SHANGHAI = ZoneInfo("Asia/Shanghai")


def owners(engine: Engine) -> dict[str, str | None]:
    with transaction(engine) as s:
        return dict(
            s.execute(
                select(CollectionCase.loan_id, CollectionCase.owner_user_id).where(
                    CollectionCase.status == "open"
                )
            ).all()
        )


def tasks_of(engine: Engine, user: str) -> list[CollectionTask]:
    with transaction(engine) as s:
        rows = list(
            s.scalars(
                select(CollectionTask)
                .where(CollectionTask.collector_user_id == user)
                .order_by(CollectionTask.business_date, CollectionTask.rank)
            )
        )
        for r in rows:
            s.expunge(r)
        return rows


def test_balance_capacity_priority_and_stickiness(book: Engine) -> None:
    add_collector(book, "desk-a", "desk", capacity=6)
    add_collector(book, "desk-b", "desk", capacity=6)
    add_collector(book, "junior-a", "junior", capacity=6)
    run_eod(book, through=D)
    run_collections(book, D)
    first = owners(book)
    assert len(first) == 7 and set(first.values()) == {"desk-a", "desk-b"}  # stage early
    loads = Counter(first.values())
    assert abs(loads["desk-a"] - loads["desk-b"]) <= 1
    work = D + timedelta(days=1)
    for user in ("desk-a", "desk-b"):
        tasks = [t for t in tasks_of(book, user) if t.business_date == D]
        # within capacity: six task rows; beyond it no task, the treatments carry it
        assert len(tasks) == 6 and {t.status for t in tasks} == {"queued"}
        with transaction(book) as s:
            later = deferred_work(s, actor=SYSTEM, work_date=work, collector=user)
            carried = s.scalar(
                select(func.count()).where(
                    CollectionTreatment.deferred_to == user,
                    CollectionTreatment.status == "planned",
                )
            )
        assert len(tasks) + len(later) == 4 * loads[user]  # 4 kinds a case
        assert {w.collector_user_id for w in later} == {user}
        # the deferred work continues the list's ranking: ranks 7 …, priority descending
        assert [t.rank for t in tasks] + [w.rank for w in later] == list(
            range(1, 4 * loads[user] + 1)
        )
        prios = [t.priority for t in tasks] + [w.priority for w in later]
        assert prios == sorted(prios, reverse=True)
        assert sum(w.slots for w in later) == carried  # every planned slot of that work
        assert not {(t.loan_id, t.kind) for t in tasks} & {(w.loan_id, w.kind) for w in later}
    # priority = overdue × risk × DPD: L6 (72,000) outranks L1 (12,000), whether the
    # call is a task or beyond capacity
    with transaction(book) as s:
        prio = dict(
            s.execute(
                select(CollectionTask.loan_id, CollectionTask.priority).where(
                    CollectionTask.kind == "call", CollectionTask.business_date == D
                )
            ).all()
        )
        later = deferred_work(s, actor=SYSTEM, work_date=work)
    prio.update({w.loan_id: w.priority for w in later if w.kind == "call"})
    assert len(prio) == 7
    assert prio["L6"] > prio["L5"] > prio["L1"]
    # a new collector the next day takes nothing away (stickiness within a stage)
    add_collector(book, "desk-c", "desk", capacity=6)
    close_and_run(book, D + timedelta(days=1))
    assert owners(book) == first


def test_priority_formula() -> None:
    assert priority(1_000_000, None, 10, 500) == 100_000  # 10,000 CNY × 1 × 10
    assert priority(1_000_000, 500, 10, 500) == 200_000  # risk factor 2
    assert priority(0, 900, 40, 500) == 0


def test_high_risk_goes_to_senior_and_territory_first(book: Engine) -> None:
    add_collector(book, "desk-a", "desk")
    add_collector(book, "senior-n", "senior", territory="north")
    add_collector(book, "senior-s", "senior", territory="south")
    # the high-risk override applies from T+30 by default; here from T+1
    pack = load_pack()
    pack = pack.model_copy(
        update={"collections": pack.collections.model_copy(update={"high_risk_from_dpd": 1})}
    )
    run_eod(book, through=D)
    run_collections(book, D, pack)
    with transaction(book) as s:
        s.execute(
            update(CollectionCase)
            .where(CollectionCase.loan_id.in_(["L2", "L3"]))
            .values(risk_score=800, territory="south")
        )
    close_and_run(book, D + timedelta(days=1), pack)
    now = owners(book)
    assert now["L2"] == now["L3"] == "senior-s"
    assert now["L4"] == "desk-a"
    with transaction(book) as s:
        moves = s.execute(
            select(CaseStatusChange.old_value, CaseStatusChange.new_value).where(
                CaseStatusChange.field == "owner",
                CaseStatusChange.business_date == D + timedelta(days=1),
            )
        ).all()
    assert sorted(moves) == [("desk-a", "senior-s"), ("desk-a", "senior-s")]


def test_transfer_keeps_history_and_the_leaver_gets_nothing_new(book: Engine) -> None:
    add_collector(book, "desk-a", "desk")
    add_collector(book, "desk-b", "desk")
    run_eod(book, through=D)
    run_collections(book, D)
    before = owners(book)
    mine = sorted(k for k, v in before.items() if v == "desk-a")
    with transaction(book) as s, pytest.raises(PermissionDenied):
        transfer_cases(s, from_user_id="desk-a", to_user_id="desk-b", reason="x", actor=SUP2)
    with transaction(book) as s:
        ids = transfer_cases(
            s, from_user_id="desk-a", to_user_id="desk-b", reason="离职", actor=SUP1
        )
        assert len(ids) == len(mine)
        leaver = s.get(Collector, "desk-a")
        assert leaver is not None and not leaver.active
        rows = s.execute(
            select(CaseStatusChange.old_value, CaseStatusChange.new_value, CaseStatusChange.actor)
            .where(CaseStatusChange.field == "owner", CaseStatusChange.case_id.in_(ids))
            .order_by(CaseStatusChange.id)
        ).all()
        assert set(rows) == {(None, "desk-a", "system"), ("desk-a", "desk-b", "sup1")}
        audit = s.scalars(select(AuditRecord).where(AuditRecord.action == "case.transfer")).one()
        assert "supervisor" in str(audit.basis)
    close_and_run(book, D + timedelta(days=1))
    assert set(owners(book).values()) == {"desk-b"}


def test_reassign_needs_scope_and_is_audited(book: Engine) -> None:
    add_collector(book, "desk-a", "desk")
    add_collector(book, "desk-b", "desk", team="T2")
    run_eod(book, through=D)
    run_collections(book, D)
    case = next(c for c in _cases(book) if c.owner_user_id == "desk-a")
    with transaction(book) as s, pytest.raises(PermissionDenied):
        reassign_case(s, case_id=case.id, to_user_id="desk-b", reason="x", actor=SUP2)
    with transaction(book) as s:
        reassign_case(s, case_id=case.id, to_user_id="desk-b", reason="language", actor=SUP1)
        moved = s.get(CollectionCase, case.id)
        assert moved is not None and (moved.owner_user_id, moved.team) == ("desk-b", "T2")
        assert s.scalars(select(AuditRecord).where(AuditRecord.action == "case.assign")).one()


def _cases(engine: Engine) -> list[CollectionCase]:
    with transaction(engine) as s:
        rows = list(s.scalars(select(CollectionCase).order_by(CollectionCase.id)))
        for r in rows:
            s.expunge(r)
        return rows


def test_lists_never_show_what_a_lookup_refuses(book: Engine) -> None:
    # capacity 3: each list has tasks and work beyond them (deferred, no task rows)
    add_collector(book, "desk-a", "desk", capacity=3)
    add_collector(book, "desk-b", "desk", team="T2", capacity=3)
    run_eod(book, through=D)
    run_collections(book, D)
    a = Actor(user_id="desk-a", roles=frozenset({"collector-junior"}), team="T1")
    cases = _cases(book)
    with transaction(book) as s:
        visible = {c.id for c in list_cases(s, actor=a)}
        for case in cases:
            if case.id in visible:
                assert case.owner_user_id == "desk-a"
                case_view(s, case_id=case.id, actor=a)
            else:
                with pytest.raises(PermissionDenied):
                    case_view(s, case_id=case.id, actor=a)
        assert visible
        tasks = task_list(s, actor=a, work_date=D + timedelta(days=1))
        assert tasks and {t.collector_user_id for t in tasks} == {"desk-a"}
        later = deferred_work(s, actor=a, work_date=D + timedelta(days=1))
        assert later and {w.collector_user_id for w in later} == {"desk-a"}
        sup = task_list(s, actor=SUP2, work_date=D + timedelta(days=1))
        assert sup and {t.team for t in sup} == {"T2"}
        sup_later = deferred_work(s, actor=SUP2, work_date=D + timedelta(days=1))
        assert sup_later and {w.team for w in sup_later} == {"T2"}
        everyone = deferred_work(s, actor=SYSTEM, work_date=D + timedelta(days=1))
        assert {w.collector_user_id for w in everyone} == {"desk-a", "desk-b"}


def test_no_feedback_report_at_17(book: Engine) -> None:
    add_collector(book, "desk-a", "desk", capacity=100)
    run_eod(book, through=D)
    run_collections(book, D)
    work = D + timedelta(days=1)
    settings = load_pack().collections
    with transaction(book) as s:
        all_tasks = task_list(s, actor=SUP1, work_date=work)
        assert len(all_tasks) == 28  # 7 cases × call, contacts, repair, visit
        on_time, late = all_tasks[0], all_tasks[1]
        # another team's supervisor, and a collector whose list it is not, are refused
        # without being told whose case it is
        owner = s.get(CollectionCase, on_time.case_id)
        assert owner is not None and owner.owner_user_id is not None
        stranger = Actor("stranger", frozenset({"collector-junior"}), "T1")
        for outsider in (SUP2, stranger):
            with pytest.raises(PermissionDenied) as refused:
                mark_task_feedback(
                    s, on_time.id, datetime(2026, 2, 21, 9, tzinfo=SHANGHAI), actor=outsider
                )
            assert owner.owner_user_id not in str(refused.value)
            assert "T1" not in str(refused.value)
        assert s.get(CollectionTask, on_time.id).feedback_at is None  # type: ignore[union-attr]
        with pytest.raises(LookupError):
            mark_task_feedback(s, 10**9, datetime(2026, 2, 21, 9, tzinfo=SHANGHAI), actor=SUP1)
        at = datetime(2026, 2, 21, 16, 59, tzinfo=SHANGHAI)
        mark_task_feedback(s, on_time.id, at, actor=SUP1)
        mark_task_feedback(s, late.id, datetime(2026, 2, 21, 17, 30, tzinfo=SHANGHAI), actor=SUP1)
        # a second feedback keeps the first time
        mark_task_feedback(s, on_time.id, datetime(2026, 2, 21, 18, 0, tzinfo=SHANGHAI), actor=SUP1)
        missing = no_feedback(s, actor=SUP1, work_date=work, settings=settings)
        ids = {t.id for t in missing}
        assert on_time.id not in ids and late.id in ids and len(ids) == 27
        first = s.get(CollectionTask, on_time.id)
        assert first is not None and first.feedback_at == datetime(2026, 2, 21, 8, 59)  # UTC
        with pytest.raises(ValueError, match="timezone"):
            mark_task_feedback(s, late.id, datetime(2026, 2, 21, 9, 0), actor=SUP1)


def test_a_worked_list_is_marked_in_one_call_as_one_by_one(book: Engine) -> None:
    add_collector(book, "desk-a", "desk", capacity=100)
    run_eod(book, through=D)
    run_collections(book, D)
    work = D + timedelta(days=1)
    settings = load_pack().collections
    at = datetime(2026, 2, 21, 16, 59, tzinfo=SHANGHAI)
    with transaction(book) as s:
        tasks = task_list(s, actor=SUP1, work_date=work)
        first, second, third = tasks[0].id, tasks[1].id, tasks[2].id
        mark_task_feedback(s, first, at, actor=SUP1)  # fed back before: keeps its time
    with transaction(book) as s:
        with pytest.raises(LookupError, match="no task 999999"):
            mark_tasks_feedback(s, [(second, at), (999999, at)])
        with pytest.raises(ValueError, match=f"task {second}: .*timezone"):
            mark_tasks_feedback(s, [(second, datetime(2026, 2, 21, 9, 0))])
        later = datetime(2026, 2, 21, 17, 30, tzinfo=SHANGHAI)
        mark_tasks_feedback(s, [(first, later), (second, at), (third, later), (second, later)])
    with transaction(book) as s:
        rows = {
            t.id: (t.status, t.feedback_at)
            for t in s.scalars(
                select(CollectionTask).where(CollectionTask.id.in_([first, second, third]))
            )
        }
        assert rows == {
            first: ("done", datetime(2026, 2, 21, 8, 59)),
            second: ("done", datetime(2026, 2, 21, 8, 59)),  # the first of its two times
            third: ("done", datetime(2026, 2, 21, 9, 30)),
        }
        missing = {t.id for t in no_feedback(s, actor=SUP1, work_date=work, settings=settings)}
        assert first not in missing and second not in missing and third in missing


def test_reassign_to_the_same_collector_is_refused(book: Engine) -> None:
    add_collector(book, "desk-a", "desk")
    run_eod(book, through=D)
    run_collections(book, D)
    case = _cases(book)[0]
    with transaction(book) as s, pytest.raises(ValueError, match="already worked"):
        reassign_case(s, case_id=case.id, to_user_id="desk-a", reason="x", actor=SUP1)


def test_reminder_calls_before_a_due_date_go_to_the_call_desk(book: Engine) -> None:
    """A call the day before a due date has no case yet, so no case owner: the call desk
    takes it, shared by load, and no collector task is left without an owner."""
    add_collector(book, "desk1", "desk")
    add_collector(book, "desk2", "desk")
    add_collector(book, "jun1", "junior")
    eve = FIRST_DUE - timedelta(days=2)  # the run for this date plans the due-1 calls
    run_eod(book, through=eve)
    run_collections(book, eve)
    with transaction(book) as s:
        calls = s.execute(
            select(CollectionTask.collector_user_id, CollectionTask.case_id).where(
                CollectionTask.business_date == eve, CollectionTask.kind == "call"
            )
        ).all()
    assert len(calls) == 7 and all(case is None for _, case in calls)
    assert Counter(owner for owner, _ in calls) == {"desk1": 4, "desk2": 3}


def test_the_daily_run_gives_a_repaired_case_five_more_days(book: Engine) -> None:
    """Lost at T+5 by the daily run; a contact repair recorded the next day makes it
    reachable, and the run marks it lost again only 5 days after the repair."""
    from daihou.collection.repair import record_repair

    add_collector(book, "desk1", "desk")
    t = FIRST_DUE
    run_eod(book, through=t - timedelta(days=1))
    for n in range(0, 6):
        close_and_run(book, t + timedelta(days=n))
    with transaction(book) as s:
        case = s.scalars(select(CollectionCase).where(CollectionCase.loan_id == "L1")).one()
        assert (case.contact_status, case.lost_contact_since) == ("lost", t + timedelta(days=5))
        record_repair(
            s,
            actor=SUP1,
            case_id=case.id,
            kind="phone",
            value="13912345678",
            source="carrier",
            found_on=t + timedelta(days=6),
        )
    states = {}
    for n in range(6, 12):
        close_and_run(book, t + timedelta(days=n))
        with transaction(book) as s:
            states[n] = s.scalars(
                select(CollectionCase.contact_status).where(CollectionCase.loan_id == "L1")
            ).one()
    assert states == {6: "reachable", 7: "reachable", 8: "reachable", 9: "reachable",
                      10: "reachable", 11: "lost"}  # fmt: skip


def _day_of(engine: Engine, d: date_, *, inside: bool) -> tuple[Any, ...]:
    """The case sync and assignment of ``d``, rolled back: inside the sync (as the run
    does it) or, as before, ``assign_cases`` after the sync. Cases and history by loan,
    history in id order (case ids differ between the two on PostgreSQL, whose sequences
    do not roll back)."""
    settings = load_pack().collections
    c, h = CollectionCase, CaseStatusChange
    with session_factory(engine)() as s:
        start = s.scalar(select(func.coalesce(func.max(h.id), 0)))
        if inside:
            synced = sync_cases(s, business_date=d, settings=settings, assign=True)
            result = synced.assignment
        else:
            synced = sync_cases(s, business_date=d, settings=settings)
            result = assign_cases(s, business_date=d, settings=settings)
        loan_of = dict(s.execute(select(c.id, c.loan_id)).all())
        cases = sorted(
            s.execute(
                select(c.loan_id, c.status, c.stage, c.owner_user_id, c.team, c.territory)
            ).all()
        )
        history = [
            (loan_of[r.case_id], r.business_date, r.field, r.old_value, r.new_value, r.reason)
            for r in s.scalars(select(h).where(h.id > start).order_by(h.id))
        ]
        s.rollback()
    return result, synced.opened, synced.stage_changes, cases, history


def test_assignment_inside_the_sync_is_the_assignment_after_it(
    book: Engine, tmp_path: Path
) -> None:
    """A new case inserted with its owner, and the open cases reassigned before it, give
    the same owners, teams, territories, counts and history rows (in the same order) as
    assigning every open case after the sync did: stage changes, a high-risk case going
    senior, a territory's collector first, the new case after the load the others freed."""
    add_collector(book, "desk-a", "desk", capacity=3)
    add_collector(book, "desk-b", "desk", capacity=5)
    add_collector(book, "junior-a", "junior", capacity=4)
    add_collector(book, "junior-sh", "junior", team="T2", territory="SH", capacity=2)
    add_collector(book, "senior-a", "senior", capacity=4)
    # a loan first due on day one: past due, with its case to open, on day two
    add_loans(
        book,
        tmp_path,
        [loan_row("L8", principal="9000.00", disbursed_on=START, first_due_on="2026-03-15")],
    )
    day1, day2 = FIRST_DUE + timedelta(days=28), FIRST_DUE + timedelta(days=30)
    run_eod(book, through=day1)
    run_collections(book, day1)
    with transaction(book) as s:
        c = CollectionCase
        s.execute(update(c).where(c.loan_id == "L2").values(risk_score=850))  # senior
        s.execute(update(c).where(c.loan_id.in_(["L3", "L4"])).values(territory="SH"))
        s.execute(update(c).where(c.loan_id == "L5").values(stage="senior"))  # moves back
    run_eod(book, through=day2)
    before = _day_of(book, day2, inside=False)
    after = _day_of(book, day2, inside=True)
    assert after == before
    result, opened, stage_changes, cases, history = after
    assert opened == 1 and stage_changes == 7 and result.assigned >= 8
    owner = {row[0]: row[3] for row in cases if row[1] == "open"}
    assert owner["L8"] in {"desk-a", "desk-b"} and owner["L2"] == "senior-a"
    assert {owner["L3"], owner["L4"]} <= {"junior-sh", "junior-a"}
    assert "junior-sh" in {owner["L3"], owner["L4"]}
    assert [f for _, _, f, *_ in history][-result.assigned :] == ["owner"] * result.assigned
