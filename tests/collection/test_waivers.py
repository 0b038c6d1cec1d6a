"""Penalty waivers (减免罚息): each eligibility rule, the 20% cap to the fen, posting
that balances the ledger, and reversal — on SQLite and PostgreSQL.

Loan S1 (12,000 at 24%, 12 months from 15 Jan 2024) misses 15 Feb; on 11 Mar it is
24 days past due with 罚息 on 894.72 and 复利 on 240.00 at 0.1% a day.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_DOWN
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

from daihou.auth.permissions import PermissionDenied
from daihou.collection.approval_models import ApprovalRequest
from daihou.collection.approvals import ApprovalError
from daihou.collection.models import CollectionCase
from daihou.collection.waivers import decide_waiver, penalty_outstanding, request_waiver
from daihou.db.engine import transaction
from daihou.eod.models import LoanEvent
from daihou.ledger import accounts
from daihou.ledger.service import account_balance, loan_account_balances, trial_balance
from daihou.loans.models import Loan
from daihou.payments.models import Transaction
from daihou.payments.service import reverse_transaction
from tests.collection.plans_helpers import SENIOR, SUP, SUP2, D, installments, open_case
from tests.eod.helpers import eod
from tests.factories import add_loans, init_book
from tests.factories import loan_row as csv_row


@pytest.fixture
def book(engine: Engine, tmp_path: Path) -> Engine:
    init_book(engine, date(2024, 1, 15))
    add_loans(engine, tmp_path, [csv_row("S1")])
    eod(engine, date(2024, 3, 10))
    return engine


def _owed_penalty(engine: Engine) -> D:
    with transaction(engine) as s:
        return penalty_outstanding(s, "S1")


def _request(engine: Engine, amount: str) -> int:
    with transaction(engine) as s:
        return request_waiver(session=s, actor=SENIOR, loan_id="S1", amount=amount).id


def test_cap_is_twenty_percent_to_the_fen_and_posting_balances(book: Engine) -> None:
    open_case(book, "S1", rpc=date(2024, 3, 8))
    rows = installments(book, "S1")
    total = sum((r.penalty_due + r.compound_due for r in rows), D("0"))
    assert _owed_penalty(book) == total and total > D("20")
    cap = (total * D("0.20")).quantize(D("0.01"), rounding=ROUND_DOWN)
    over = str(cap + D("0.01"))
    with pytest.raises(ApprovalError, match=f"at most {cap}"):
        _request(book, over)
    req_id = _request(book, str(cap))
    with transaction(book) as s:
        decide_waiver(session=s, actor=SUP, request_id=req_id, reason="first overdue, called")
    assert _owed_penalty(book) == total - cap
    with transaction(book) as s:
        req = s.get(ApprovalRequest, req_id)
        assert req is not None and req.status == "approved" and req.transaction_id
        bal = loan_account_balances(s, "S1")
        assert bal[accounts.PENALTY_WAIVED] == cap
        # accruals are summary entries per date: the book's receivables (one loan here)
        pen = account_balance(s, accounts.PENALTY_RECEIVABLE) + account_balance(
            s, accounts.COMPOUND_RECEIVABLE
        )
        assert pen == total - cap  # receivables follow the schedule
        assert trial_balance(s).balanced
        txn_id = req.transaction_id
    # reversible like any transaction: the penalty is owed again, the ledger undone
    with transaction(book) as s:
        reverse_transaction(session=s, transaction_id=txn_id, reason="approved in error")
    assert _owed_penalty(book) == total
    with transaction(book) as s:
        assert accounts.PENALTY_WAIVED not in loan_account_balances(s, "S1")
        assert trial_balance(s).balanced
    # penalty keeps accruing correctly after the waiver (EOD twin of the replay)
    eod(book, date(2024, 3, 12))
    assert _owed_penalty(book) > total


def test_no_contact_no_waiver(book: Engine) -> None:
    open_case(book, "S1", rpc=None)
    with pytest.raises(ApprovalError, match="case: the customer has not been reached"):
        _request(book, "1.00")


def test_dpd_over_thirty_no_waiver(book: Engine) -> None:
    eod(book, date(2024, 3, 17))  # 31 days past due on 16 Mar end
    open_case(book, "S1", rpc=date(2024, 3, 16))
    with pytest.raises(ApprovalError, match="dpd: 31 days past due exceeds 30"):
        _request(book, "1.00")


def test_not_a_first_overdue(book: Engine) -> None:
    case_id = open_case(book, "S1", rpc=date(2024, 3, 8))
    with transaction(book) as s:  # an earlier episode, cured
        s.add(LoanEvent(business_date=date(2024, 2, 1), loan_id="S1", kind="cured"))
    with pytest.raises(ApprovalError, match="not a first overdue"):
        _request(book, "1.00")
    with transaction(book) as s:
        s.execute(update(LoanEvent).where(LoanEvent.kind == "cured").values(superseded=True))
        loan = s.get(Loan, "S1")
        assert loan is not None
        s.add(  # an earlier, closed case of the same loan
            CollectionCase(
                loan_id="S1",
                customer_id=loan.customer_id,
                opened_on=date(2024, 1, 20),
                status="closed",
            )
        )
    with pytest.raises(ApprovalError, match="not a first overdue"):
        _request(book, "1.00")
    del case_id


def test_waiver_needs_another_approver_and_bad_input_writes_nothing(book: Engine) -> None:
    open_case(book, "S1", rpc=date(2024, 3, 8))
    for bad in ("0", "-1", "abc", "1.001"):
        with pytest.raises(ValueError):
            _request(book, bad)
    with transaction(book) as s:
        assert s.scalars(select(ApprovalRequest)).all() == []
    with transaction(book) as s:
        req = request_waiver(session=s, actor=SUP, loan_id="S1", amount="1.00")
        req_id = req.id
    with transaction(book) as s, pytest.raises(PermissionDenied, match="maker–checker"):
        decide_waiver(session=s, actor=SUP, request_id=req_id, reason="own")
    with transaction(book) as s:
        decide_waiver(session=s, actor=SUP2, request_id=req_id, approve=False, reason="no")
    with transaction(book) as s:
        assert s.scalars(select(Transaction).where(Transaction.kind == "waiver")).all() == []
    with transaction(book) as s, pytest.raises(ApprovalError, match="is rejected"):
        decide_waiver(session=s, actor=SUP2, request_id=req_id, reason="again")
