"""The team board (``collection.board``): each figure counts exactly the rows it
should — other days' contacts and deferred work, cancelled or earlier promises, reversed
payments and cases closed before the day are left out — and only the collectors the
actor steers (active, in scope) appear."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select

from daihou.auth.actor import SYSTEM, Actor
from daihou.auth.permissions import PermissionDenied
from daihou.auth.service import create_user
from daihou.collection.assign import register_collector
from daihou.collection.board import steered_collectors, team_board
from daihou.collection.contact_models import ContactLog, PromiseToPay
from daihou.collection.models import CollectionCase
from daihou.collection.tables import CollectionTask, CollectionTreatment, Collector
from daihou.db.engine import transaction
from daihou.payments.models import Transaction
from daihou.payments.service import post_payment, reverse_transaction
from tests.collection.conftest import START

ON = START  # the business date of the book
SUP = Actor("boss", frozenset({"supervisor"}), "east")
COLLECTORS = {"ann": "east", "bob": "east", "cat": "west", "dan": "east"}  # dan leaves


@pytest.fixture
def board_book(book: Engine) -> dict[str, int]:
    now = datetime.now(UTC)
    with transaction(book) as s:
        for user, team in COLLECTORS.items():
            create_user(
                s,
                actor=SYSTEM,
                username=user,
                password="a-long-password-1",
                roles=["collector-junior"],
                now=now,
                team=team,
            )
            register_collector(s, user_id=user, tier="junior", actor=SYSTEM, team=team)
        owners = {"L1": "ann", "L2": "ann", "L3": "bob", "L4": "cat", "L5": "ann"}
        cases = {}
        for loan_id, owner in owners.items():
            case = CollectionCase(
                loan_id=loan_id,
                customer_id=f"C-{loan_id}",
                opened_on=ON - timedelta(days=30),
                owner_user_id=owner,
                team=COLLECTORS[owner],
            )
            if loan_id == "L5":  # closed the day before: its payment is not ann's
                case.status, case.closed_on = "closed", ON - timedelta(days=1)
            s.add(case)
            s.flush()
            cases[loan_id] = case.id
        for i, (user, status, day) in enumerate(
            [
                ("ann", "done", ON),
                ("ann", "queued", ON),
                ("ann", "done", ON - timedelta(days=1)),
                ("cat", "done", ON),
            ]
        ):
            s.add(
                CollectionTask(
                    business_date=day - timedelta(days=1),
                    work_date=day,
                    case_id=cases["L1"],
                    loan_id="L1",
                    customer_id="C-L1",
                    kind=f"call-{i}",
                    assignee_role="collector",
                    collector_user_id=user,
                    team=COLLECTORS[user],
                    slots=1,
                    priority=1,
                    status=status,
                )
            )
        # work beyond capacity is no task: its treatments carry the collector and rank.
        # ann: one item of two slots on ON, one the day before, one not planned; cat's
        # is outside the board's scope
        for user, day, rank, slot, status in [
            ("ann", ON, 7, 0, "planned"),
            ("ann", ON, 7, 1, "planned"),
            ("ann", ON - timedelta(days=1), 8, 0, "planned"),
            ("ann", ON, 9, 0, "denied-by-gate"),
            ("cat", ON, 3, 0, "planned"),
        ]:
            s.add(
                CollectionTreatment(
                    business_date=day - timedelta(days=1),
                    work_date=day,
                    case_id=cases["L1"],
                    loan_id="L1",
                    customer_id="C-L1",
                    rule_id=f"r-{user}-{rank}",
                    slot=slot,
                    action="call",
                    purpose="collection",
                    strategy="default",
                    arm="champion",
                    planned_at=datetime(day.year, day.month, day.day, 2),
                    status=status,
                    deferred_to=user,
                    deferred_rank=rank,
                    deferred_priority=100,
                )
            )
        at = datetime(ON.year, ON.month, ON.day, 2)
        for user, rpc, day in [
            ("ann", True, ON),
            ("ann", False, ON),
            ("ann", False, ON),
            ("ann", False, ON),
            ("ann", True, ON - timedelta(days=1)),
            ("bob", False, ON),
        ]:
            s.add(
                ContactLog(
                    case_id=cases["L1"],
                    customer_id="C-L1",
                    loan_id="L1",
                    channel="phone",
                    direction="outbound",
                    party="borrower",
                    outcome="answered" if rpc else "no-answer",
                    rpc=rpc,
                    collector=user,
                    organisation="lender",
                    at_utc=at,
                    contact_date=day,
                    basis={"rule": "tests"},
                )
            )
        for status, resolved in [
            ("kept", ON),
            ("kept", ON),
            ("broken", ON),
            ("cancelled", ON),
            ("broken", ON.replace(day=1) - timedelta(days=1)),  # last month
        ]:
            s.add(
                PromiseToPay(
                    case_id=cases["L2"],
                    loan_id="L2",
                    customer_id="C-L2",
                    amount=Decimal("100.00"),
                    made_on=ON - timedelta(days=40),
                    promised_on=resolved,
                    grace_days=0,
                    tolerance=Decimal("0.00"),
                    until=resolved,
                    status=status,
                    resolved_on=resolved,
                    collector="ann",
                )
            )
        s.flush()
        for loan_id, amount, ref in [
            ("L1", "300.00", "b1"),
            ("L2", "45.67", "b2"),
            ("L2", "999.00", "b3"),
            ("L5", "500.00", "b4"),
        ]:
            post_payment(
                session=s,
                loan_id=loan_id,
                amount=amount,
                value_date=ON,
                channel="counter",
                reference=ref,
            )
    with transaction(book) as s:
        txn = s.scalars(select(Transaction).where(Transaction.reference == "b3")).one()
        reverse_transaction(session=s, transaction_id=txn.id, reason="wrong loan")
        leaver = s.get(Collector, "dan")
        assert leaver is not None
        leaver.active = False
    return cases


def test_each_figure_counts_only_its_rows(book: Engine, board_book: dict[str, int]) -> None:
    with transaction(book) as s:
        board = team_board(s, actor=SUP, on=ON)
    assert board.since == ON.replace(day=1)
    rows = {r.collector: r for r in board.rows}
    assert set(rows) == {"ann", "bob"}  # cat: team west; dan: inactive
    ann = rows["ann"]
    assert (ann.tasks_done, ann.tasks_pending, ann.tasks_deferred) == (1, 1, 1)
    assert (ann.contacts, ann.rpc, ann.rpc_rate) == (4, 1, Decimal("25.00"))
    assert (ann.promises_kept, ann.promises_broken) == (2, 1)
    assert ann.promise_kept_rate == Decimal("66.67")
    assert ann.recovered == Decimal("345.67")  # L1 + L2, not the reversal, not closed L5
    bob = rows["bob"]
    assert (bob.tasks_done, bob.contacts, bob.rpc_rate) == (0, 1, Decimal("0.00"))
    assert bob.promise_kept_rate is None and bob.recovered == Decimal("0.00")
    total = board.total()
    assert (total.contacts, total.rpc, total.recovered) == (5, 1, Decimal("345.67"))


def test_scope_and_refusals(book: Engine, board_book: dict[str, int]) -> None:
    west = Actor("west-boss", frozenset({"supervisor"}), "west")
    manager = Actor("mg", frozenset({"manager"}))
    with transaction(book) as s:
        assert [r.collector for r in team_board(s, actor=west, on=ON).rows] == ["cat"]
        everyone = {r.collector for r in team_board(s, actor=manager, on=ON).rows}
        assert everyone == {"ann", "bob", "cat"}
        assert {c.user_id for c in steered_collectors(s, actor=SUP)} == {"ann", "bob"}
        with pytest.raises(PermissionDenied):
            team_board(s, actor=Actor("ann", frozenset({"collector-junior"}), "east"), on=ON)
        with pytest.raises(ValueError, match="since"):
            team_board(s, actor=SUP, on=ON, since=ON + timedelta(days=1))
        empty = team_board(s, actor=SUP, on=ON + timedelta(days=5), since=ON + timedelta(days=5))
        assert all(r.contacts == 0 and r.recovered == 0 for r in empty.rows)
