"""Write-off (核销): eligibility, maker–checker, ledger to the fen, end of day skips
the loan, recoveries afterwards — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

from daihou.auth.permissions import PermissionDenied
from daihou.collection.approval_models import WriteOff
from daihou.collection.approvals import ApprovalError
from daihou.collection.writeoff import decide_writeoff, propose_writeoff, recoveries
from daihou.db.engine import transaction
from daihou.eod.models import Accrual
from daihou.ledger import accounts
from daihou.ledger.service import account_balance, loan_account_balances, trial_balance
from daihou.loans.models import Loan
from daihou.payments.errors import ServicingError
from daihou.payments.service import reverse_transaction
from tests.collection.plans_helpers import MANAGER, SENIOR, SUP, D, installments, open_case
from tests.eod.helpers import eod, loan_row, pay
from tests.factories import add_loans, init_book
from tests.factories import loan_row as csv_row


@pytest.fixture
def book(engine: Engine, tmp_path: Path) -> Engine:
    init_book(engine, date(2024, 1, 15))
    add_loans(engine, tmp_path, [csv_row("S1"), csv_row("S2")])
    eod(engine, date(2024, 3, 20))
    open_case(engine, "S1", rpc=None, owner="sv1")
    return engine


def _make_loss(engine: Engine) -> None:
    """Classed 损失 by an override (the EOD floor needs 361 days past due)."""
    with transaction(engine) as s:
        s.execute(update(Loan).where(Loan.id == "S1").values(risk_class="loss"))


def test_only_eligible_loans_and_only_supervisors_propose(book: Engine) -> None:
    with transaction(book) as s, pytest.raises(ApprovalError, match="needs class in"):
        propose_writeoff(session=s, actor=SUP, loan_id="S1", reason="hopeless")
    _make_loss(book)
    with transaction(book) as s, pytest.raises(PermissionDenied):
        propose_writeoff(session=s, actor=SENIOR, loan_id="S1", reason="hopeless")
    with transaction(book) as s, pytest.raises(ApprovalError, match="reason"):
        propose_writeoff(session=s, actor=SUP, loan_id="S1", reason=" ")


def test_writeoff_ledger_eod_and_recoveries(book: Engine) -> None:
    _make_loss(book)
    with transaction(book) as s:
        before = loan_account_balances(s, "S1")
        penalty_before = account_balance(s, accounts.PENALTY_RECEIVABLE)
        compound_before = account_balance(s, accounts.COMPOUND_RECEIVABLE)
        req = propose_writeoff(session=s, actor=SUP, loan_id="S1", reason="deceased, no estate")
        req_id = req.id
    with transaction(book) as s, pytest.raises(PermissionDenied):
        decide_writeoff(session=s, actor=SUP, request_id=req_id, reason="own")
    with transaction(book) as s:
        decide_writeoff(session=s, actor=MANAGER, request_id=req_id, reason="approved")
    loan = loan_row(book, "S1")
    assert loan.status == "written-off" and loan.written_off_on == date(2024, 3, 21)
    rows = installments(book, "S1")
    with transaction(book) as s:
        w = s.scalars(select(WriteOff)).one()
        assert w.principal == before[accounts.LOAN_PRINCIPAL] == D("12000.00")
        assert w.penalty == sum((r.penalty_due for r in rows), D("0")) > D("0")
        assert w.compound == sum((r.compound_due for r in rows), D("0")) > D("0")
        assert w.interest == sum(
            (r.interest_due - r.interest_paid for r in rows if r.status == "due"), D("0")
        )
        # the book's receivables now hold S2's 罚息/复利 only (S2 was as late as S1)
        assert account_balance(s, accounts.PENALTY_RECEIVABLE) == penalty_before - w.penalty
        assert account_balance(s, accounts.COMPOUND_RECEIVABLE) == compound_before - w.compound
        after = loan_account_balances(s, "S1")
        assert after[accounts.LOAN_LOSS_ALLOWANCE] == D("12000.00")
        assert accounts.LOAN_PRINCIPAL not in after
        assert trial_balance(s).balanced
    penalty_then = [r.penalty_due for r in rows]
    # end of day accrues nothing more on it (S2 keeps accruing)
    eod(book, date(2024, 3, 25))
    assert [r.penalty_due for r in installments(book, "S1")] == penalty_then
    with transaction(book) as s:
        dates = {a.business_date for a in s.scalars(select(Accrual).where(Accrual.loan_id == "S1"))}
        assert max(dates) == date(2024, 3, 20)
        assert max(a.business_date for a in s.scalars(select(Accrual))) == date(2024, 3, 25)
    # a payment now is a recovery to recovery income
    posting = pay(book, "S1", "300.00", "rec-1")
    assert posting.kind == "recovery"
    with pytest.raises(ServicingError, match="written off on 2024-03-21"):
        pay(book, "S1", "1.00", "rec-early", on=date(2024, 3, 20))
    with transaction(book) as s:
        bal = loan_account_balances(s, "S1")
        assert bal[accounts.RECOVERY_INCOME] == D("-300.00")
        assert bal[accounts.clearing("counter")] == D("300.00")
        assert accounts.LOAN_PRINCIPAL not in bal
        assert trial_balance(s).balanced
        (line,) = recoveries(s)
        assert (line.loan_id, line.recovered, line.payments) == ("S1", D("300.00"), 1)
        assert line.written_off == w_total(s)
        assert loan_row_status(s) == "written-off"
        reverse_transaction(session=s, transaction_id=posting.transaction_id, reason="bounced")
    with transaction(book) as s:
        (line,) = recoveries(s)
        assert line.recovered == D("0.00") and line.payments == 0
        assert trial_balance(s).balanced


def w_total(s: object) -> D:
    from sqlalchemy.orm import Session

    assert isinstance(s, Session)
    w = s.scalars(select(WriteOff)).one()
    return w.principal + w.interest + w.fee + w.penalty + w.compound


def loan_row_status(s: object) -> str:
    from sqlalchemy.orm import Session

    assert isinstance(s, Session)
    loan = s.get(Loan, "S1")
    assert loan is not None
    return loan.status
