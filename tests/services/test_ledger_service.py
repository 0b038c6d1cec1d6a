"""The journal: only balanced entries get in, and balances are sums over it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from daihou.ledger import accounts
from daihou.ledger.models import JournalEntry, JournalLine
from daihou.ledger.service import (
    AccountBalance,
    account_balance,
    loan_account_balances,
    post_entry,
    trial_balance,
)
from daihou.loans.models import Customer, Loan

D = Decimal
Z = D("0.00")
DAY = date(2025, 3, 3)
ACCOUNTS = [
    accounts.LOAN_PRINCIPAL,
    accounts.INTEREST_INCOME,
    accounts.PENALTY_RECEIVABLE,
    accounts.CUSTOMER_CREDIT,
    accounts.FUNDING,
    accounts.clearing("counter"),
]
HYPOTHESIS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine) as s:
        yield s


def add_loan(session: Session, loan_id: str) -> None:
    if session.get(Customer, "c1") is None:
        session.add(Customer(id="c1", name="张三", id_number="x", phone="y"))
    session.add(
        Loan(
            id=loan_id,
            customer_id="c1",
            product="p",
            principal=D("1000.00"),
            annual_rate=D("0.05"),
            current_rate=D("0.05"),
            term_months=12,
            method="annuity",
            disbursed_on=DAY,
            outstanding_principal=D("1000.00"),
        )
    )
    session.flush()


def journal_rows(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        entries = conn.execute(select(func.count()).select_from(JournalEntry)).scalar_one()
        lines = conn.execute(select(func.count()).select_from(JournalLine)).scalar_one()
    return entries, lines


def post(session: Session, lines: list[tuple[str, Decimal, Decimal]], **kw: object) -> JournalEntry:
    args: dict[str, object] = {"kind": "test", "entry_date": DAY, "booked_on": DAY}
    args.update(kw)
    return post_entry(session, lines=lines, **args)  # type: ignore[arg-type]


# --- examples ---------------------------------------------------------------------


def test_disbursement_and_repayment(session: Session) -> None:
    add_loan(session, "L1")
    add_loan(session, "L2")
    post(session, [("loan_principal", D("1000.00"), Z), ("funding", Z, D("1000.00"))], loan_id="L1")
    post(session, [("loan_principal", D("500"), Z), ("funding", Z, D("500"))], loan_id="L2")
    entry = post(
        session,
        [
            ("clearing:counter", D("120.50"), Z),
            ("loan_principal", Z, D("100.00")),
            ("interest_income", Z, D("20.50")),
            ("fee_income", Z, Z),
        ],
        loan_id="L1",
        booked_on=DAY + timedelta(days=30),
    )
    session.commit()

    assert entry.id is not None
    assert len(entry.lines) == 3  # the all-zero line is dropped
    tb = trial_balance(session)
    assert tb.balanced
    assert tb.total_debit == tb.total_credit == D("1620.50")
    assert tb.rows == [
        AccountBalance("clearing:counter", D("120.50"), Z, D("120.50")),
        AccountBalance("funding", Z, D("1500.00"), D("-1500.00")),
        AccountBalance("interest_income", Z, D("20.50"), D("-20.50")),
        AccountBalance("loan_principal", D("1500.00"), D("100.00"), D("1400.00")),
    ]
    assert str(tb.rows[0].balance) == "120.50"

    early = trial_balance(session, as_of=DAY)
    assert early.balanced and early.total_debit == D("1500.00")
    assert [r.account for r in early.rows] == ["funding", "loan_principal"]
    assert trial_balance(session, as_of=DAY - timedelta(days=1)).rows == []

    assert account_balance(session, "loan_principal") == D("1400.00")
    assert account_balance(session, "loan_principal", loan_id="L1") == D("900.00")
    assert account_balance(session, "loan_principal", loan_id="L2") == D("500.00")
    assert account_balance(session, "nothing") == Z
    assert loan_account_balances(session, "L1") == {
        "clearing:counter": D("120.50"),
        "funding": D("-1000.00"),
        "interest_income": D("-20.50"),
        "loan_principal": D("900.00"),
    }
    assert loan_account_balances(session, "L3") == {}


def test_empty_journal(session: Session) -> None:
    tb = trial_balance(session)
    assert tb.rows == [] and tb.balanced and tb.total_debit == Z


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([], "no lines"),
        ([("funding", Z, Z)], "no lines"),
        ([("funding", D("1.00"), Z), ("loan_principal", Z, D("0.99"))], "unbalanced"),
        ([("funding", D("-1.00"), Z), ("loan_principal", D("1.00"), Z)], "negative"),
        ([("funding", D("1.00"), D("1.00")), ("loan_principal", Z, Z)], "both a debit"),
        ([("funding", D("1.001"), Z), ("loan_principal", Z, D("1.001"))], "two decimals"),
        ([("funding", 1.5, Z), ("loan_principal", Z, D("1.50"))], "not a Decimal"),
        ([("funding", D("NaN"), Z), ("loan_principal", Z, D("1"))], "finite"),
        ([("", D("1"), Z), ("loan_principal", Z, D("1"))], "account is empty"),
        ([("x" * 49, D("1"), Z), ("loan_principal", Z, D("1"))], "longer than 48"),
    ],
)
def test_bad_entries_are_refused(
    engine: Engine, session: Session, lines: list[tuple[str, Decimal, Decimal]], message: str
) -> None:
    with pytest.raises(ValueError, match=message) as excinfo:
        post(session, lines, kind="repayment", transaction_id=None)
    assert "journal entry 'repayment' of 2025-03-03" in str(excinfo.value)
    session.commit()
    assert journal_rows(engine) == (0, 0)


def test_entry_name_in_error(session: Session) -> None:
    add_loan(session, "L9")
    with pytest.raises(ValueError, match=r"'fee' of 2025-03-03 for loan L9: unbalanced"):
        post(session, [("fee_receivable", D("5"), Z)], kind="fee", loan_id="L9")


def test_posted_entries_cannot_change(engine: Engine, session: Session) -> None:
    entry = post(session, [("funding", D("1"), Z), ("loan_principal", Z, D("1"))])
    session.commit()

    entry.lines[0].debit = D("2.00")
    entry.lines[1].credit = D("2.00")
    with pytest.raises(ValueError, match="cannot change"):
        session.commit()
    session.rollback()

    session.delete(entry.lines[0])
    with pytest.raises(ValueError, match="cannot be deleted"):
        session.commit()
    session.rollback()
    assert trial_balance(session).total_debit == D("1.00")


# --- properties -------------------------------------------------------------------

fen = st.integers(min_value=1, max_value=10**11)  # up to 1 billion yuan per line


@st.composite
def balanced_lines(draw: st.DrawFn) -> list[tuple[str, Decimal, Decimal]]:
    debits = draw(st.lists(fen, min_size=1, max_size=4))
    credits = draw(st.lists(fen, min_size=1, max_size=4))
    gap = sum(debits) - sum(credits)
    if gap > 0:
        credits.append(gap)
    elif gap < 0:
        debits.append(-gap)
    lines = [(draw(st.sampled_from(ACCOUNTS)), D(f).scaleb(-2), Z) for f in debits]
    lines += [(draw(st.sampled_from(ACCOUNTS)), Z, D(f).scaleb(-2)) for f in credits]
    lines += [("funding", Z, Z)] * draw(st.integers(0, 1))
    return draw(st.permutations(lines))


@HYPOTHESIS
@given(
    entries=st.lists(st.tuples(balanced_lines(), st.integers(0, 5)), min_size=1, max_size=6),
    as_of_day=st.integers(0, 5),
)
def test_balanced_entries_give_a_balanced_trial_balance(
    engine: Engine, entries: list[tuple[list[tuple[str, Decimal, Decimal]], int]], as_of_day: int
) -> None:
    expected: dict[str, list[Decimal]] = defaultdict(lambda: [Z, Z])
    with Session(engine) as session:
        for lines, day in entries:
            post(session, lines, booked_on=DAY + timedelta(days=day))
            if day <= as_of_day:
                for account, debit, credit in lines:
                    expected[account][0] += debit
                    expected[account][1] += credit

        full = trial_balance(session)
        assert full.balanced and full.total_debit == full.total_credit
        assert sum((r.balance for r in full.rows), Z) == Z

        tb = trial_balance(session, as_of=DAY + timedelta(days=as_of_day))
        assert tb.balanced
        assert {r.account: (r.debit, r.credit) for r in tb.rows} == {
            a: (d, c) for a, (d, c) in expected.items() if (d, c) != (Z, Z)
        }
        for row in full.rows:
            assert row.balance == row.debit - row.credit
            assert account_balance(session, row.account) == row.balance
        session.rollback()


@HYPOTHESIS
@given(lines=balanced_lines(), skew=st.integers(min_value=-(10**6), max_value=10**6))
def test_unbalanced_entries_are_refused_and_nothing_written(
    engine: Engine, lines: list[tuple[str, Decimal, Decimal]], skew: int
) -> None:
    if skew == 0:
        skew = 1
    account, debit, credit = next(line for line in lines if line[1] or line[2])
    index = lines.index((account, debit, credit))
    bump = D(abs(skew)).scaleb(-2)
    if debit:
        changed = (account, debit + bump, Z) if skew > 0 else (account, Z, Z)
    else:
        changed = (account, Z, credit + bump) if skew > 0 else (account, Z, Z)
    broken = [*lines[:index], changed, *lines[index + 1 :]]

    with Session(engine) as session:
        with pytest.raises(ValueError, match="unbalanced"):
            post(session, broken)
        assert not session.new
        session.commit()
    assert journal_rows(engine) == (0, 0)
