"""Prepayment (提前还款): full payoff with penalty (违约金), partial in both modes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine

from daihou.db.engine import transaction
from daihou.ledger.service import trial_balance
from daihou.loans.service import loan_view
from daihou.payments.quote import payoff_quote
from daihou.payments.service import post_payment, prepay, reverse_transaction
from tests.factories import add_loans, init_book, loan_row
from tests.services.snapshots import loan_state

D = Decimal
TODAY = date(2024, 6, 30)


@pytest.fixture
def paid3(engine: Engine, tmp_path: Path) -> Engine:
    """A 12,000, 24%, 12-month consumer loan with its first three installments paid."""
    init_book(engine, TODAY)
    add_loans(engine, tmp_path, [loan_row("P1")])
    with transaction(engine) as s:
        plan = loan_view(s, "P1").installments
    for i in plan[:3]:
        with transaction(engine) as s:
            post_payment(
                session=s,
                loan_id="P1",
                amount=str(i.total_due),
                value_date=i.due_date,
                channel="bank-debit",
                reference=f"D{i.period}",
            )
    return engine


def test_full_payoff_quote_shows_the_calculation_and_closes_the_loan(paid3: Engine) -> None:
    with transaction(paid3) as s:
        remaining = loan_view(s, "P1").outstanding_principal
        quote = payoff_quote(s, "P1", on=date(2024, 4, 25))
    # interest 15 Apr → 25 Apr: 10 days at 24%/360; penalty 2% (consumer, age 3 months < 12)
    interest = (remaining * D("0.24") * 10 / 360).quantize(D("0.01"))
    penalty = (remaining * D("0.02")).quantize(D("0.01"))
    assert quote.by_component == {"principal": remaining, "interest": interest, "fee": penalty}
    assert quote.total == remaining + interest + penalty
    assert "违约金" in quote.explanation and "2%" in quote.explanation
    with transaction(paid3) as s:
        posting = prepay(
            session=s,
            loan_id="P1",
            amount=str(quote.total),
            value_date=date(2024, 4, 25),
            full=True,
        )
    assert posting.loan_status == "closed"
    with transaction(paid3) as s:
        view = loan_view(s, "P1")
        tb = {r.account: r.balance for r in trial_balance(s).rows}
    assert view.closed_on == date(2024, 4, 25) and view.outstanding_principal == 0
    assert view.installments[-1].period == 4 and view.installments[-1].due_date == date(2024, 4, 25)
    assert tb["fee_income"] == -penalty and tb.get("fee_receivable", 0) == 0


def test_full_prepayment_short_of_payoff_is_applied_as_partial(paid3: Engine) -> None:
    with transaction(paid3) as s:
        quote = payoff_quote(s, "P1", on=date(2024, 4, 25))
        posting = prepay(
            session=s,
            loan_id="P1",
            amount=str(quote.total - 100),
            value_date=date(2024, 4, 25),
            full=True,
        )
    assert posting.loan_status == "active"
    assert posting.note is not None and "insufficient" in posting.note


@pytest.mark.parametrize("mode", ["reduce-installment", "shorten-term"])
def test_partial_prepayment_reamortises_the_rest(paid3: Engine, mode: str) -> None:
    with transaction(paid3) as s:
        before = loan_view(s, "P1")
        posting = prepay(
            session=s, loan_id="P1", amount="5000.00", value_date=date(2024, 4, 15), mode=mode
        )
        after = loan_view(s, "P1")
        assert trial_balance(s).balanced
    old_tail = [i for i in before.installments if i.due_date > date(2024, 4, 15)]
    new_tail = [i for i in after.installments if i.due_date > date(2024, 4, 15)]
    # the prepayment takes the number of the period in course (4) and falls due that day
    prepaid = next(i for i in after.installments if i.period == 4)
    assert prepaid.due_date == date(2024, 4, 15) and prepaid.status == "paid"
    # on a due date nothing has accrued yet: 5000 = principal P + 2% of P
    assert prepaid.paid["interest"] == 0
    assert prepaid.paid["principal"] + prepaid.paid["fee"] == D("5000.00")
    assert prepaid.paid["fee"] == (prepaid.paid["principal"] * D("0.02")).quantize(D("0.01"))
    assert (
        sum(i.due["principal"] for i in new_tail)
        == before.outstanding_principal - prepaid.paid["principal"]
    )
    assert after.outstanding_principal == sum(i.due["principal"] for i in new_tail)
    old_payment, new_payment = old_tail[0].total_due, new_tail[0].total_due
    if mode == "reduce-installment":
        assert len(new_tail) == len(old_tail) and new_payment < old_payment
    else:
        assert len(new_tail) < len(old_tail) and new_payment <= old_payment
    assert "违约金" in (posting.note or "")


def test_reversing_a_prepayment_restores_the_schedule(paid3: Engine) -> None:
    with transaction(paid3) as s:
        before = loan_state(s, "P1")
        posting = prepay(
            session=s,
            loan_id="P1",
            amount="3000.00",
            value_date=date(2024, 5, 2),
            mode="shorten-term",
        )
    with transaction(paid3) as s:
        reverse_transaction(session=s, transaction_id=posting.transaction_id, reason="wrong loan")
    with transaction(paid3) as s:
        assert loan_state(s, "P1") == before


def test_no_penalty_after_the_last_tier(engine: Engine, tmp_path: Path) -> None:
    init_book(engine, date(2024, 6, 30))
    add_loans(
        engine,
        tmp_path,
        [
            loan_row(
                "M1",
                product="mortgage",
                principal="300000",
                annual_rate="4.2%",
                term_months=240,
                disbursed_on="2020-06-10",
            )
        ],
    )
    with transaction(engine) as s:
        quote = payoff_quote(s, "M1", on=date(2024, 6, 10))
    assert "fee" not in quote.by_component
    assert "no penalty" in quote.explanation
