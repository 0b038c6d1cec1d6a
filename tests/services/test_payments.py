"""Repayment posting, idempotency, backdating, reversal, credit, refunds and fees."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from daihou.db.engine import transaction
from daihou.ledger.service import trial_balance
from daihou.loans.service import loan_view
from daihou.payments.errors import NotFound, ReferenceConflict, ServicingError
from daihou.payments.models import Allocation, Transaction
from daihou.payments.service import (
    charge_fee,
    post_payment,
    refund_credit,
    reverse_transaction,
)
from tests.factories import add_loans, init_book, loan_row
from tests.services.snapshots import loan_state

TODAY = date(2024, 6, 30)
D = Decimal


@pytest.fixture
def book(engine: Engine, tmp_path: Path) -> Engine:
    init_book(engine, TODAY)
    return engine


def pay(engine: Engine, loan_id: str, amount: str, on: date, ref: str, channel: str = "counter"):
    with transaction(engine) as s:
        return post_payment(
            session=s, loan_id=loan_id, amount=amount, value_date=on, channel=channel, reference=ref
        )


def test_published_four_month_loan_paid_on_time_closes_to_the_fen(
    book: Engine, tmp_path: Path
) -> None:
    # 12,000 at 2% a month over 4 months: 3,151.49 a month, interest 240.00 / 181.77 /
    # 122.38 / 61.79; the last installment (3,151.47) absorbs the rounding.
    add_loans(book, tmp_path, [loan_row("L4", term_months=4, disbursed_on="2024-01-15")])
    with transaction(book) as s:
        plan = loan_view(s, "L4").installments
    assert [i.due["interest"] for i in plan] == [D("240.00"), D("181.77"), D("122.38"), D("61.79")]
    assert [i.total_due for i in plan] == [D("3151.49")] * 3 + [D("3151.47")]
    for n, inst in enumerate(plan, 1):
        posting = pay(book, "L4", str(inst.total_due), inst.due_date, f"P{n}")
        assert sum(a.amount for a in posting.allocation) == inst.total_due
        assert [a.component for a in posting.allocation] == ["interest", "principal"]
    with transaction(book) as s:
        view = loan_view(s, "L4")
        tb = trial_balance(s)
    assert view.status == "closed" and view.closed_on == date(2024, 5, 15)
    assert view.outstanding_principal == D("0.00") and view.credit_balance == D("0.00")
    assert tb.balanced
    balances = {r.account: r.balance for r in tb.rows}
    assert balances["interest_income"] == -D("605.94")
    assert balances.get("loan_principal", D(0)) == D("0.00")
    assert balances["clearing:counter"] == D("12605.94")


def test_same_reference_returns_the_original_and_changes_nothing(
    book: Engine, tmp_path: Path
) -> None:
    add_loans(book, tmp_path, [loan_row("L1")])
    first = pay(book, "L1", "1500.00", date(2024, 2, 15), "BANK-1", "bank-debit")
    with transaction(book) as s:
        before = loan_state(s, "L1")
        counts = [s.scalar(select(func.count()).select_from(t)) for t in (Transaction, Allocation)]
    again = pay(book, "L1", "1500.00", date(2024, 2, 15), "BANK-1", "bank-debit")
    assert again.transaction_id == first.transaction_id and not again.created and first.created
    assert again.allocation == first.allocation
    with transaction(book) as s:
        assert loan_state(s, "L1") == before
        assert [
            s.scalar(select(func.count()).select_from(t)) for t in (Transaction, Allocation)
        ] == counts
    with pytest.raises(ReferenceConflict, match="BANK-1"):
        pay(book, "L1", "1600.00", date(2024, 2, 15), "BANK-1", "bank-debit")
    # the same reference on another channel is another payment
    other = pay(book, "L1", "10.00", date(2024, 2, 15), "BANK-1", "online")
    assert other.created and other.transaction_id != first.transaction_id


def test_bad_input_is_refused_naming_the_field(book: Engine, tmp_path: Path) -> None:
    add_loans(book, tmp_path, [loan_row("L1")])
    cases = [
        ({"amount": "-5"}, "amount"),
        ({"amount": "0"}, "amount"),
        ({"amount": "1.005"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"channel": "cash"}, "channel"),
        ({"reference": " "}, "reference"),
        ({"value_date": TODAY + timedelta(days=1)}, "on"),
        ({"value_date": date(2024, 1, 1)}, "on"),
    ]
    for override, field in cases:
        args = {"amount": "100", "value_date": TODAY, "channel": "counter", "reference": "X"}
        args.update(override)
        with pytest.raises(ValueError, match=field), transaction(book) as s:
            post_payment(session=s, loan_id="L1", **args)  # type: ignore[arg-type]
    with pytest.raises(NotFound, match="loan_id"), transaction(book) as s:
        post_payment(
            session=s,
            loan_id="NOPE",
            amount="1",
            value_date=TODAY,
            channel="counter",
            reference="Y",
        )
    with transaction(book) as s:
        assert (
            s.scalar(
                select(func.count())
                .select_from(Transaction)
                .where(Transaction.kind != "disbursement")
            )
            == 0
        )


def test_overpayment_is_credit_applied_to_the_next_due_then_refunded(
    book: Engine, tmp_path: Path
) -> None:
    add_loans(book, tmp_path, [loan_row("L1")])
    with transaction(book) as s:
        first = loan_view(s, "L1").installments[0]
    posting = pay(book, "L1", str(first.total_due + D("500.00")), first.due_date, "OVER")
    # the 500 waited as credit (溢缴款) and paid part of installment 2 when it fell due
    by_period: dict[int | None, Decimal] = {}
    for a in posting.allocation:
        by_period[a.period] = by_period.get(a.period, D(0)) + a.amount
    assert by_period == {1: first.total_due, 2: D("500.00")}
    pay(book, "L1", "6000.00", TODAY, "BIG")
    with transaction(book) as s:
        view = loan_view(s, "L1")
        owed_due = sum(
            (i.total_due - i.total_paid for i in view.installments if i.due_date <= TODAY), D(0)
        )
        assert owed_due == D("0.00")
        credit = view.credit_balance
        assert credit > 0
    with transaction(book) as s:
        refund = refund_credit(session=s, loan_id="L1")
    assert refund.amount == credit
    with transaction(book) as s:
        assert loan_view(s, "L1").credit_balance == D("0.00")
        assert trial_balance(s).balanced
    with pytest.raises(ServicingError, match="credit"), transaction(book) as s:
        refund_credit(session=s, loan_id="L1", amount="1.00")
    # the payment that made the credit cannot be reversed while its credit is refunded
    big = next(t for t in loan_view_transactions(book, "L1") if t.reference == "BIG")
    with pytest.raises(ServicingError, match="refund"), transaction(book) as s:
        reverse_transaction(session=s, transaction_id=big.id, reason="bounced")


def loan_view_transactions(engine: Engine, loan_id: str):
    with transaction(engine) as s:
        return loan_view(s, loan_id).transactions


def test_fee_is_paid_first_and_reversal_of_fee_restores(book: Engine, tmp_path: Path) -> None:
    add_loans(book, tmp_path, [loan_row("L1")])
    with transaction(book) as s:
        before = loan_state(s, "L1")
        fee = charge_fee(
            session=s,
            loan_id="L1",
            amount="50.00",
            value_date=date(2024, 2, 20),
            reason="statement",
        )
    posting = pay(book, "L1", "60.00", date(2024, 2, 21), "F1")
    assert posting.allocation[0].component == "fee" and posting.allocation[0].amount == D("50.00")
    with transaction(book) as s:
        reverse_transaction(session=s, transaction_id=posting.transaction_id, reason="test")
        reverse_transaction(session=s, transaction_id=fee.transaction_id, reason="waived")
    with transaction(book) as s:
        assert loan_state(s, "L1") == before
        assert trial_balance(s).balanced
    with pytest.raises(ServicingError, match="already reversed"), transaction(book) as s:
        reverse_transaction(session=s, transaction_id=fee.transaction_id, reason="again")


payments = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=(TODAY - date(2024, 1, 15)).days),
        st.decimals(min_value=D("0.01"), max_value=D("4000.00"), places=2),
    ),
    min_size=1,
    max_size=6,
    unique_by=lambda p: p[0],  # same-day payments apply in posting order, by design
)
_seq = iter(range(10**9))


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(plan=payments, order=st.randoms(use_true_random=False))
def test_backdated_postings_equal_the_chronological_history(
    book: Engine, tmp_path: Path, plan: list[tuple[int, Decimal]], order
) -> None:
    """Posting payments in any order (so most are backdated) ends in the same state,
    allocations and ledger as posting them in date order; allocations always sum to the
    payment and the trial balance always balances."""
    n = next(_seq)
    a, b = f"A{n}", f"B{n}"
    add_loans(book, tmp_path, [loan_row(a), loan_row(b)])
    start = date(2024, 1, 15)
    items = [(start + timedelta(days=d), amt, f"R{i}") for i, (d, amt) in enumerate(plan)]
    for on, amt, ref in sorted(items, key=lambda x: (x[0], x[2])):
        pay(book, a, str(amt), on, f"{a}-{ref}")
    shuffled = list(items)
    order.shuffle(shuffled)
    for on, amt, ref in shuffled:
        posting = pay(book, b, str(amt), on, f"{a}-{ref}", channel="online")
        assert sum(p.amount for p in posting.allocation) == amt
    with transaction(book) as s:
        sa, sb = loan_state(s, a), loan_state(s, b)
        assert trial_balance(s).balanced
    sb["balances"] = {k.replace("online", "counter"): v for k, v in sb["balances"].items()}
    assert sa == sb
    with transaction(book) as s:
        for txn in loan_view(s, b).transactions:
            if txn.kind == "repayment":
                assert sum(txn.allocation.values()) == txn.amount


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(plan=payments, pick=st.integers(min_value=0, max_value=5))
def test_reversal_undoes_a_posting_exactly(
    book: Engine, tmp_path: Path, plan: list[tuple[int, Decimal]], pick: int
) -> None:
    """reversal ∘ posting = identity, wherever the reversed payment sits in history."""
    n = next(_seq)
    loan = f"V{n}"
    add_loans(book, tmp_path, [loan_row(loan)])
    start = date(2024, 1, 15)
    k = pick % len(plan)
    for i, (d, amt) in enumerate(plan):
        if i != k:
            pay(book, loan, str(amt), start + timedelta(days=d), f"{loan}-{i}")
    with transaction(book) as s:
        before = loan_state(s, loan)
    d, amt = plan[k]
    posting = pay(book, loan, str(amt), start + timedelta(days=d), f"{loan}-{k}")
    with transaction(book) as s:
        reverse_transaction(session=s, transaction_id=posting.transaction_id, reason="bounced")
    with transaction(book) as s:
        after = loan_state(s, loan)
        assert trial_balance(s).balanced
    before["allocations"] = [x for x in before["allocations"]]
    assert after == before


def test_service_layer_enforces_roles_and_audits(book: Engine, tmp_path: Path) -> None:
    from daihou.auth.actor import Actor
    from daihou.auth.permissions import PermissionDenied
    from daihou.compliance.audit.models import AuditRecord
    from daihou.compliance.audit.service import verify

    add_loans(book, tmp_path, [loan_row("L1")])
    collector = Actor(user_id="c1", roles=frozenset({"collector-junior"}))
    auditor = Actor(user_id="a1", roles=frozenset({"auditor"}))
    ops = Actor(user_id="o1", roles=frozenset({"operations"}))
    with pytest.raises(PermissionDenied, match=r"payment\.post"), transaction(book) as s:
        post_payment(
            session=s,
            loan_id="L1",
            amount="100",
            value_date=TODAY,
            channel="counter",
            reference="C-1",
            actor=collector,
        )
    posting = None
    with transaction(book) as s:
        posting = post_payment(
            session=s,
            loan_id="L1",
            amount="100",
            value_date=TODAY,
            channel="counter",
            reference="O-1",
            actor=ops,
        )
    with pytest.raises(PermissionDenied, match=r"payment\.reverse"), transaction(book) as s:
        reverse_transaction(
            session=s, transaction_id=posting.transaction_id, reason="x", actor=auditor
        )
    with transaction(book) as s:
        reverse_transaction(
            session=s, transaction_id=posting.transaction_id, reason="typo", actor=ops
        )
    with transaction(book) as s:
        actions = [
            (r.action, r.actor_id) for r in s.scalars(select(AuditRecord).order_by(AuditRecord.id))
        ]
        assert ("payment.post", "o1") in actions and ("payment.reverse", "o1") in actions
        assert not any(user == "c1" for _, user in actions)
        assert verify(s).ok
