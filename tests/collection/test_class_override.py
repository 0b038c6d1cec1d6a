"""Five-tier class overrides through the approvals inbox: a risk analyst asks, a
manager who is not the requester approves, and only then is the class raised (history,
event, and the next end of day keeps it) — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update
from typer.testing import CliRunner, Result

from daihou.auth.actor import Actor
from daihou.auth.models import User, UserRole
from daihou.auth.permissions import PermissionDenied
from daihou.cli import app
from daihou.collection.approval_actions import decide_request, inbox
from daihou.collection.approval_models import ApprovalRequest
from daihou.collection.approvals import ApprovalError
from daihou.collection.class_override import decide_class_override, request_class_override
from daihou.db.engine import transaction
from daihou.eod.models import ClassChange, LoanEvent
from daihou.loans.models import Loan
from daihou.payments.errors import NotFound
from tests.collection.plans_helpers import MANAGER, MANAGER2, SENIOR, SUP, actor, open_case
from tests.eod.helpers import eod, loan_row
from tests.factories import add_loans, init_book
from tests.factories import loan_row as csv_row

RISK = actor("rk1", "risk-analyst")


@pytest.fixture
def book(engine: Engine, tmp_path: Path) -> Engine:
    init_book(engine, date(2024, 1, 15))
    add_loans(engine, tmp_path, [csv_row("S1"), csv_row("S2")])
    eod(engine, date(2024, 3, 20))
    open_case(engine, "S1", rpc=None, owner="sv1")
    return engine


def _ask(engine: Engine, risk_class: str = "doubtful", who: Actor = RISK) -> int:
    with transaction(engine) as s:
        return request_class_override(
            session=s, actor=who, loan_id="S1", risk_class=risk_class, reason="borrower fled"
        ).id


def test_request_changes_nothing_until_a_manager_approves(book: Engine) -> None:
    before = loan_row(book, "S1").risk_class
    assert before == "special-mention"  # overdue, under 90 days: the floor
    req_id = _ask(book)
    assert loan_row(book, "S1").risk_class == before
    with transaction(book) as s:
        assert [r.id for r in inbox(s, actor=MANAGER)] == [req_id]
        assert all(r.kind != "classification" for r in inbox(s, actor=SUP))
    with transaction(book) as s:
        decide_request(s, actor=MANAGER, request_id=req_id, approve=True, reason="agreed")
    loan = loan_row(book, "S1")
    assert loan.risk_class == "doubtful"
    with transaction(book) as s:
        change = s.scalars(
            select(ClassChange).where(ClassChange.loan_id == "S1", ClassChange.source == "override")
        ).one()
        assert (change.old_class, change.new_class) == ("special-mention", "doubtful")
        assert "mg1" in (change.reason or "")
        assert s.scalars(
            select(LoanEvent).where(LoanEvent.loan_id == "S1", LoanEvent.to_value == "doubtful")
        ).all()
        req = s.get(ApprovalRequest, req_id)
        assert req is not None and req.status == "approved" and req.decided_by == "mg1"
        assert req.decided_basis is not None and req.decided_basis["role"] == "manager"
    # the next end of day keeps the override (the floor is lower)
    eod(book, date(2024, 3, 21))
    assert loan_row(book, "S1").risk_class == "doubtful"


def test_maker_checker_and_who_may_ask(book: Engine) -> None:
    req_id = _ask(book, who=MANAGER)
    with transaction(book) as s, pytest.raises(PermissionDenied):
        decide_class_override(session=s, actor=MANAGER, request_id=req_id, reason="own")
    with transaction(book) as s, pytest.raises(PermissionDenied):
        decide_class_override(session=s, actor=RISK, request_id=req_id, reason="not a manager")
    with transaction(book) as s:
        decide_class_override(session=s, actor=MANAGER2, request_id=req_id, reason="ok")
    assert loan_row(book, "S1").risk_class == "doubtful"
    for who in (SENIOR, SUP):
        with transaction(book) as s, pytest.raises(PermissionDenied):
            request_class_override(
                session=s, actor=who, loan_id="S2", risk_class="loss", reason="r"
            )


def test_bad_requests_name_the_field_and_write_nothing(book: Engine) -> None:
    cases = [
        ({"risk_class": "terrible"}, ApprovalError, "class"),
        ({"risk_class": "normal"}, ApprovalError, "class"),
        ({"risk_class": "special-mention"}, ApprovalError, "only raise"),
        ({"reason": "  "}, ApprovalError, "reason"),
        ({"loan_id": "NOPE"}, NotFound, "NOPE"),
    ]
    for change, error, words in cases:
        args = {"loan_id": "S1", "risk_class": "loss", "reason": "r"} | change
        with transaction(book) as s, pytest.raises(error, match=words):
            request_class_override(session=s, actor=RISK, **args)
    _ask(book)
    with transaction(book) as s, pytest.raises(ApprovalError, match="pending class override"):
        request_class_override(session=s, actor=RISK, loan_id="S1", risk_class="loss", reason="r")
    with transaction(book) as s:
        assert len(s.scalars(select(ApprovalRequest)).all()) == 1


def test_approval_is_refused_when_the_class_has_risen_meanwhile(book: Engine) -> None:
    req_id = _ask(book, risk_class="substandard")
    with transaction(book) as s:
        s.execute(update(Loan).where(Loan.id == "S1").values(risk_class="doubtful"))
    with transaction(book) as s, pytest.raises(ApprovalError, match="only raise"):
        decide_class_override(session=s, actor=MANAGER, request_id=req_id, reason="late")
    with transaction(book) as s:  # rejecting it is still possible
        decide_class_override(
            session=s, actor=MANAGER, request_id=req_id, approve=False, reason="moot"
        )
        assert s.get(ApprovalRequest, req_id).status == "rejected"  # type: ignore[union-attr]
    assert loan_row(book, "S1").risk_class == "doubtful"


def test_cli_request_and_approve(book: Engine, db_url: str) -> None:
    with transaction(book) as s:
        for name, role in (("rk1", "risk-analyst"), ("mg1", "manager")):
            s.add(User(username=name, password_hash="x", role_rows=[UserRole(role=role)]))
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(app, [*args, "--db", db_url])

    asked = run("loan", "classify", "S1", "--class", "loss", "--reason", "fraud", "--by", "rk1")
    assert asked.exit_code == 0, asked.output
    assert loan_row(book, "S1").risk_class == "special-mention"
    with transaction(book) as s:
        req_id = str(s.scalars(select(ApprovalRequest.id)).one())
    refused = run("loan", "classify-approve", req_id, "--reason", "ok", "--by", "rk1")
    assert refused.exit_code != 0
    assert loan_row(book, "S1").risk_class == "special-mention"
    done = run("loan", "classify-approve", req_id, "--reason", "ok", "--by", "mg1")
    assert done.exit_code == 0, done.output
    assert "special-mention → loss" in done.output
    assert loan_row(book, "S1").risk_class == "loss"
