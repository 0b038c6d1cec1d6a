"""build_tasks: grouping slots into tasks, priority ranking, capacity, the call desk.

The planned treatments are built by hand (no case rows: ``case_id`` None), so each rule
of the grouping and ranking is seen on its own: two slots of one rule are one task,
collectors' lists are ranked by priority then loan, work beyond a collector's capacity
is deferred (no task row: its treatments carry it), review work goes to the team's
supervisor list uncapped, and reminder calls (no case owner) go to the call desk,
highest priority first, to whoever has fewest tasks.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Engine, select

from daihou.collection.facts import Fact
from daihou.collection.strategy import Planned
from daihou.collection.tables import CollectionTask
from daihou.collection.tasks import build_tasks
from daihou.db.engine import transaction
from daihou.policy import load_pack
from tests.collection.helpers import add_collector

D = date(2026, 3, 31)
AT = datetime(2026, 4, 1, 2, 0, tzinfo=UTC)


def _fact(loan: str, *, dpd: int | None, overdue_fen: int, owner: str | None = None) -> Fact:
    return Fact(loan, f"C-{loan}", "p", dpd, overdue_fen, 0, "champion", owner=owner, team="T1")


def test_tasks_are_grouped_ranked_capped_and_reminder_calls_go_to_the_desk(
    engine: Engine,
) -> None:
    add_collector(engine, "desk-a", "desk", capacity=2)
    add_collector(engine, "desk-b", "desk", capacity=2)
    settings = load_pack().collections
    rules = {r.id: r for r in settings.champion.rules}
    calls, reminder = rules["m1-calls-early"], rules["due-1-call"]
    placement, sms = rules["agency-placement"], rules["t0-sms"]
    owned = [
        _fact("A1", dpd=2, overdue_fen=50_000, owner="desk-a"),
        _fact("A2", dpd=2, overdue_fen=90_000, owner="desk-a"),
    ]
    reminders = [_fact(f"R{i}", dpd=None, overdue_fen=0) for i in (3, 1, 2)]
    planned = [Planned(f, calls, "champion", slot, AT) for f in owned for slot in (0, 1)]
    planned += [Planned(f, sms, "champion", 0, AT) for f in owned]  # no task
    planned.append(Planned(owned[0], calls, "champion", 2, AT, status="denied-by-gate"))
    planned += [Planned(f, reminder, "champion", 0, AT) for f in reminders]
    planned += [Planned(f, placement, "champion", 0, AT) for f in owned]
    with transaction(engine) as s:
        result = build_tasks(s, business_date=D, settings=settings, planned=planned)
    assert (result.tasks, result.inserted, result.deferred, result.unowned) == (7, 6, 1, 0)
    # beyond capacity: no task row; the collector, rank and priority its treatments carry
    assert {(p.fact.loan_id, p.deferred) for p in planned if p.deferred} == {
        ("R3", ("desk-a", 3, 0))
    }
    assert all(p.task is None for p in planned if p.status != "planned" or p.rule is sms)
    with transaction(engine) as s:
        rows = s.execute(
            select(
                CollectionTask.loan_id,
                CollectionTask.kind,
                CollectionTask.assignee_role,
                CollectionTask.collector_user_id,
                CollectionTask.team,
                CollectionTask.slots,
                CollectionTask.priority,
                CollectionTask.rank,
                CollectionTask.status,
            ).order_by(CollectionTask.loan_id, CollectionTask.kind)
        ).all()
    assert [tuple(r) for r in rows] == [
        # priority = overdue CNY × DPD: A2 (1,800) before A1; two slots of a rule, one task
        ("A1", "agency-placement", "supervisor", None, "T1", 1, 1000, 2, "queued"),
        ("A1", "call", "collector", "desk-a", "T1", 2, 1000, 2, "queued"),
        ("A2", "agency-placement", "supervisor", None, "T1", 1, 1800, 1, "queued"),
        ("A2", "call", "collector", "desk-a", "T1", 2, 1800, 1, "queued"),
        # reminders by loan (equal priority): R1, R2 to desk-b (no tasks yet), then
        # R3 to desk-a (both at two; by name), beyond desk-a's capacity of two: no row
        ("R1", "call", "collector", "desk-b", "T1", 1, 0, 1, "queued"),
        ("R2", "call", "collector", "desk-b", "T1", 1, 0, 2, "queued"),
    ]  # fmt: skip
    with transaction(engine) as s:
        assert set(s.scalars(select(CollectionTask.work_date))) == {date(2026, 4, 1)}
    with transaction(engine) as s:  # the same day again writes nothing new
        again = build_tasks(s, business_date=D, settings=settings, planned=planned)
    assert (again.tasks, again.inserted, again.deferred) == (7, 0, 1)
