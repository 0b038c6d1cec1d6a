"""The one door to approvals used by the web inbox: who may see a request, whether
someone may decide it and why not, and a decision reaching the kind's own service
(a waiver approved through ``decide_request`` is posted as ``decide_waiver`` posts it,
a write-off approved through it writes the loan off as ``decide_writeoff`` does)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

from daihou.auth.permissions import PermissionDenied
from daihou.collection.approval_actions import decide_request, get_request, inbox, may_decide
from daihou.collection.approval_models import WriteOff
from daihou.collection.approvals import ApprovalError
from daihou.collection.waivers import request_waiver
from daihou.collection.writeoff import propose_writeoff
from daihou.db.engine import transaction
from daihou.loans.models import Loan
from daihou.payments.errors import NotFound
from daihou.payments.models import Transaction
from tests.collection.plans_helpers import (
    JUNIOR,
    MANAGER,
    SENIOR,
    SUP,
    SUP2,
    SUP_OTHER_TEAM,
    D,
    open_case,
)
from tests.eod.helpers import eod
from tests.factories import add_loans, init_book
from tests.factories import loan_row as csv_row


@pytest.fixture
def waiver(engine: Engine, tmp_path: Path) -> tuple[Engine, int]:
    init_book(engine, date(2024, 1, 15))
    add_loans(engine, tmp_path, [csv_row("S1")])
    eod(engine, date(2024, 3, 10))
    open_case(engine, "S1", rpc=date(2024, 3, 8))
    with transaction(engine) as s:
        return engine, request_waiver(session=s, actor=SENIOR, loan_id="S1", amount="1.00").id


def test_who_sees_and_who_may_decide(waiver: tuple[Engine, int]) -> None:
    engine, req_id = waiver
    with transaction(engine) as s:
        assert get_request(s, actor=SENIOR, request_id=req_id).id == req_id  # the maker
        req = get_request(s, actor=SUP, request_id=req_id)
        assert may_decide(s, actor=SUP, req=req).allowed
        assert req_id in {r.id for r in inbox(s, actor=SUP, kind="waiver")}
        assert inbox(s, actor=SUP, kind="plan") == []
        own = may_decide(s, actor=SENIOR, req=req)
        assert not own.allowed and own.reason is not None
        for outsider in (JUNIOR, SUP_OTHER_TEAM):
            with pytest.raises(PermissionDenied):
                get_request(s, actor=outsider, request_id=req_id)
        with pytest.raises(PermissionDenied, match="may approve no kind"):
            inbox(s, actor=JUNIOR)
        with pytest.raises(ApprovalError, match="kind"):
            inbox(s, actor=SUP, kind="bribe")
        with pytest.raises(NotFound):
            get_request(s, actor=SUP, request_id=req_id + 1000)


def test_decision_goes_through_the_kinds_service(waiver: tuple[Engine, int]) -> None:
    engine, req_id = waiver
    with transaction(engine) as s:
        req = get_request(s, actor=SUP, request_id=req_id)
        req.amount = D("2500.00")  # above the supervisor's waiver limit (2000.00)
        limited = may_decide(s, actor=SUP, req=req)
        assert not limited.allowed and "limit" in (limited.reason or "")
        s.rollback()
    with transaction(engine) as s, pytest.raises(PermissionDenied, match=r"waiver\.approve"):
        decide_request(s, actor=SENIOR, request_id=req_id, approve=True, reason="mine")
    with transaction(engine) as s:
        done = decide_request(s, actor=SUP2, request_id=req_id, approve=True, reason="first time")
        assert (done.status, done.decided_by) == ("approved", "sv2")
        posted = s.scalars(select(Transaction).where(Transaction.kind == "waiver")).one()
        assert posted.amount == D("1.00") and done.transaction_id == posted.id
        assert not may_decide(s, actor=MANAGER, req=done).allowed
    with transaction(engine) as s, pytest.raises(ApprovalError, match="is approved"):
        decide_request(s, actor=MANAGER, request_id=req_id, approve=False, reason="late")


def test_writeoff_decision_goes_through_its_service(engine: Engine, tmp_path: Path) -> None:
    init_book(engine, date(2024, 1, 15))
    add_loans(engine, tmp_path, [csv_row("S1")])
    eod(engine, date(2024, 3, 20))
    open_case(engine, "S1", rpc=None, owner="sv1")
    with transaction(engine) as s:
        s.execute(update(Loan).where(Loan.id == "S1").values(risk_class="loss"))
        req_id = propose_writeoff(session=s, actor=SUP, loan_id="S1", reason="deceased").id
    with transaction(engine) as s, pytest.raises(PermissionDenied):
        decide_request(s, actor=SUP, request_id=req_id, approve=True, reason="own")
    with transaction(engine) as s:
        done = decide_request(s, actor=MANAGER, request_id=req_id, approve=True, reason="ok")
        assert (done.status, done.decided_by) == ("approved", MANAGER.user_id)
        loan = s.get(Loan, "S1")
        assert loan is not None and loan.status == "written-off"
        assert s.scalars(select(WriteOff)).one().loan_id == "S1"
