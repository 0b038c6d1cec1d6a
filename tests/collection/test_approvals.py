"""Approvals: every approval action × every role through ``decide`` (the permission
table of tests/auth/test_permissions.py together with the pack's amount limits),
amount limits, maker–checker, cancel/expire, and the scope-filtered inbox."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from daihou.auth.actor import ROLES, Actor
from daihou.auth.permissions import PermissionDenied
from daihou.collection import approvals
from daihou.collection.approval_models import ApprovalRequest
from daihou.collection.approvals import ApprovalError
from daihou.collection.models import CollectionCase
from daihou.db.engine import transaction
from daihou.policy import load_pack
from tests.auth.test_permissions import TABLE
from tests.collection.plans_helpers import (
    MANAGER,
    SENIOR,
    SUP,
    SUP2,
    SUP_OTHER_TEAM,
    actor,
    open_case,
)
from tests.factories import add_loans, init_book
from tests.factories import loan_row as csv_row

D = Decimal
KINDS = {"plan": "plan.approve", "waiver": "waiver.approve", "writeoff": "writeoff.approve"}
MAKER = {"plan": SENIOR, "waiver": SENIOR, "writeoff": SUP}


@pytest.fixture
def book(engine: Engine, tmp_path: Path) -> tuple[Engine, int]:
    init_book(engine, date(2024, 3, 1))
    add_loans(engine, tmp_path, [csv_row("S1")])
    return engine, open_case(engine, "S1")


def _ask(s: Session, case_id: int, kind: str, amount: str, maker: Actor | None = None) -> int:
    case = s.get(CollectionCase, case_id)
    req, basis = approvals.request(
        s,
        actor=maker or MAKER[kind],
        kind=kind,
        loan_id="S1",
        case=case,
        amount=D(amount),
        payload={"test": True},
    )
    assert req.requested_basis == basis.as_dict()
    return req.id


def _decide(
    s: Session, req_id: int, who: Actor, *, approve: bool = True, pack: object = None
) -> None:
    req = approvals.load_pending(s, req_id)
    approvals.decide(s, actor=who, req=req, approve=approve, reason="checked", pack=pack)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_role_for_every_approval(book: tuple[Engine, int], kind: str) -> None:
    engine, case_id = book
    limits = load_pack().approvals.limits[kind]
    with transaction(engine) as s:
        req_id = _ask(s, case_id, kind, "100.00")
        for role in ROLES:
            who = actor(f"checker-{role}", role)
            expected = TABLE[(KINDS[kind], role)] and role in limits
            nested = s.begin_nested()
            try:
                _decide(s, req_id, who)
                allowed = True
                stored = s.get(ApprovalRequest, req_id)
                assert stored is not None and stored.decided_basis is not None
                assert stored.decided_basis["role"] == role
                assert stored.decided_basis["limit_rule"] == f"approvals.limits.{kind}.{role}"
            except PermissionDenied:
                allowed = False
            nested.rollback()
            assert allowed == expected, (kind, role)


@pytest.mark.parametrize(
    ("kind", "amount", "supervisor_may"),
    [
        ("plan", "50000.00", True),
        ("plan", "50000.01", False),
        ("waiver", "2000.00", True),
        ("waiver", "2000.01", False),
    ],
)
def test_amount_limits(
    book: tuple[Engine, int], kind: str, amount: str, supervisor_may: bool
) -> None:
    engine, case_id = book
    with transaction(engine) as s:
        req_id = _ask(s, case_id, kind, amount)
    if supervisor_may:
        with transaction(engine) as s:
            _decide(s, req_id, SUP)
        return
    with transaction(engine) as s, pytest.raises(PermissionDenied, match="above their limit"):
        _decide(s, req_id, SUP)
    with transaction(engine) as s:  # rejecting needs no limit
        nested = s.begin_nested()
        _decide(s, req_id, SUP, approve=False)
        nested.rollback()
    with transaction(engine) as s:
        _decide(s, req_id, MANAGER)
        req = s.get(ApprovalRequest, req_id)
        assert req is not None and req.status == "approved"
        assert req.decided_basis is not None and req.decided_basis["limit"] is None


def test_limits_come_from_the_pack(book: tuple[Engine, int]) -> None:
    engine, case_id = book
    base = load_pack()
    custom = base.model_copy(
        update={
            "approvals": base.approvals.model_copy(
                update={"limits": {"plan": {"supervisor": D("100.00")}}}
            )
        }
    )
    with transaction(engine) as s:
        req_id = _ask(s, case_id, "plan", "100.01")
    with transaction(engine) as s, pytest.raises(PermissionDenied, match=r"up to 100\.00"):
        _decide(s, req_id, SUP, pack=custom)
    with transaction(engine) as s, pytest.raises(PermissionDenied):
        _decide(s, req_id, MANAGER, pack=custom)  # no limit configured: may not approve


def test_maker_checker_cancel_and_expiry(book: tuple[Engine, int]) -> None:
    engine, case_id = book
    with transaction(engine) as s:
        mine = _ask(s, case_id, "plan", "10.00", maker=SUP)
    with transaction(engine) as s, pytest.raises(PermissionDenied, match="maker–checker"):
        _decide(s, mine, SUP)
    with transaction(engine) as s, pytest.raises(PermissionDenied, match="only its requester"):
        approvals.cancel(s, actor=SUP2, req=approvals.load_pending(s, mine), reason="x")
    with transaction(engine) as s:
        approvals.cancel(s, actor=SUP, req=approvals.load_pending(s, mine), reason="withdrawn")
    with transaction(engine) as s, pytest.raises(ApprovalError, match="is cancelled"):
        _decide(s, mine, SUP2)
    with transaction(engine) as s, pytest.raises(ApprovalError, match="reason"):
        req_id = _ask(s, case_id, "plan", "10.00")
        approvals.decide(
            s, actor=SUP, req=approvals.load_pending(s, req_id), approve=True, reason=""
        )
    with transaction(engine) as s:
        old = _ask(s, case_id, "plan", "10.00")
        req = s.get(ApprovalRequest, old)
        assert req is not None
        req.expires_on = date(2024, 3, 1) - timedelta(days=1)
    with transaction(engine) as s:
        assert approvals.expire(s, today=date(2024, 3, 1)) == 1
    with transaction(engine) as s, pytest.raises(ApprovalError, match="is expired"):
        _decide(s, old, SUP2)


def test_inbox_is_what_the_actor_may_decide(book: tuple[Engine, int]) -> None:
    engine, case_id = book
    other_case = open_case(engine, "S1", owner="sr9")
    with transaction(engine) as s:
        s.get(CollectionCase, other_case).team = "team-z"  # type: ignore[union-attr]
        small = _ask(s, case_id, "plan", "100.00")
        big = _ask(s, case_id, "plan", "90000.00")
        waiver = _ask(s, case_id, "waiver", "50.00")
        own = _ask(s, case_id, "plan", "10.00", maker=SUP)
        elsewhere = _ask(s, other_case, "plan", "100.00", maker=actor("sr9", "collector-senior"))
        writeoff = _ask(s, case_id, "writeoff", "1000.00")
    with transaction(engine) as s:
        assert [r.id for r in approvals.inbox(s, actor=SUP)] == [small, waiver]
        assert [r.id for r in approvals.inbox(s, actor=SUP2)] == [small, waiver, own]
        assert approvals.inbox(s, actor=SUP_OTHER_TEAM) == []
        assert [r.id for r in approvals.inbox(s, actor=MANAGER)] == [
            small,
            big,
            waiver,
            own,
            elsewhere,
            writeoff,
        ]
        assert approvals.inbox(s, actor=SENIOR) == []


def test_without_a_case_only_an_unrestricted_scope_may_act(book: tuple[Engine, int]) -> None:
    engine, _ = book
    for who, kind in ((SUP, "writeoff"), (SENIOR, "plan")):
        with transaction(engine) as s, pytest.raises(PermissionDenied, match="without an open"):
            approvals.request(
                s, actor=who, kind=kind, loan_id="S1", case=None, amount=D("1"), payload={}
            )
    with transaction(engine) as s:  # e.g. made before cases existed
        req = ApprovalRequest(
            kind="plan",
            loan_id="S1",
            amount=D("1.00"),
            payload={},
            requested_by="someone",
            requested_basis={},
            requested_on=date(2024, 3, 1),
            expires_on=date(2024, 3, 30),
        )
        s.add(req)
        s.flush()
        req_id = req.id
    with transaction(engine) as s, pytest.raises(PermissionDenied, match="without an open"):
        _decide(s, req_id, SUP)
    with transaction(engine) as s:
        assert [r.id for r in approvals.inbox(s, actor=SUP)] == []
        assert [r.id for r in approvals.inbox(s, actor=MANAGER)] == [req_id]
        _decide(s, req_id, MANAGER)  # a manager without territory sees every loan


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_role_for_every_request(book: tuple[Engine, int], kind: str) -> None:
    engine, case_id = book
    with transaction(engine) as s:
        case = s.get(CollectionCase, case_id)
        for role in ROLES:
            who = actor("sr1", role)  # the case owner, so own-scope roles are in scope
            expected = TABLE[(approvals.REQUEST_ACTION[kind], role)]
            nested = s.begin_nested()
            try:
                req, basis = approvals.request(
                    s, actor=who, kind=kind, loan_id="S1", case=case, amount=D("1"), payload={}
                )
                allowed = True
                assert req.requested_basis["role"] == role == basis.role
            except PermissionDenied:
                allowed = False
            nested.rollback()
            assert allowed == expected, (kind, role)
