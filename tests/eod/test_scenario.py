"""One loan's life through end of day, checked to the fen every step.

12,000 at 24% over 12 months from 15 Jan 2024 (consumer: 罚息 markup 50%, so the
penalty rate is 36% a year = 0.1% a day on overdue principal; 复利 on overdue interest
at the same rate). Installment 1 due 15 Feb: principal 894.72 + interest 240.00;
installment 2 due 15 Mar: principal 912.61 + interest 222.11.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from daihou.db.engine import transaction
from daihou.eod.calendar import EodInProgress
from daihou.eod.models import LoanEvent, SystemState
from daihou.ledger.service import trial_balance
from daihou.payments.service import reverse_transaction
from tests.eod.helpers import eod, first_installments, loan_row, pay, state_on, today
from tests.factories import add_loans, init_book
from tests.factories import loan_row as csv_row

D = Decimal


@pytest.fixture
def book(engine: Engine, tmp_path: Path) -> Engine:
    init_book(engine, date(2024, 1, 15))
    add_loans(engine, tmp_path, [csv_row("S1")])
    return engine


def events(engine: Engine) -> list[tuple[date, str, str | None, str | None]]:
    with transaction(engine) as s:
        return [
            (e.business_date, e.kind, e.from_value, e.to_value)
            for e in s.scalars(
                select(LoanEvent)
                .where(LoanEvent.superseded.is_(False))
                .order_by(LoanEvent.business_date, LoanEvent.id)
            )
        ]


def test_missed_late_partial_reversed_then_cured(book: Engine) -> None:
    # closes 15 Jan … 15 Feb: installment 1 unpaid at the end of its due date
    eod(book, date(2024, 2, 15))
    assert today(book) == date(2024, 2, 16)
    i1 = first_installments(book, "S1")[0]
    assert (i1.principal_due, i1.interest_due) == (D("894.72"), D("240.00"))
    assert i1.penalty_due == D("0.89") and i1.compound_due == D("0.24")  # 1 night
    assert (loan_row(book, "S1").dpd, loan_row(book, "S1").bucket) == (0, "M0")

    eod(book, date(2024, 2, 29))  # leap day; 15 nights accrued (15 … 29 Feb)
    loan = loan_row(book, "S1")
    assert (loan.dpd, loan.bucket, loan.risk_class) == (14, "M1", "special-mention")
    i1 = first_installments(book, "S1")[0]
    assert i1.penalty_base == 89472 * 15 and i1.penalty_due == D("13.42")
    assert i1.compound_due == D("3.60")
    assert state_on(book, "S1", date(2024, 2, 29))[6:] == (14, "M1", "special-mention")

    # 1 Mar: pays 500 → 罚息 13.42, 复利 3.60, interest 240.00, principal 242.98
    posting = pay(book, "S1", "500.00", "P-0301")
    assert [(a.component, a.amount) for a in posting.allocation] == [
        ("penalty", D("13.42")),
        ("compound", D("3.60")),
        ("interest", D("240.00")),
        ("principal", D("242.98")),
    ]

    eod(book, date(2024, 3, 15))  # installment 2 now unpaid too
    loan = loan_row(book, "S1")
    assert (loan.dpd, loan.bucket) == (29, "M1")
    i1, i2, _ = first_installments(book, "S1")
    # 15 nights (1 … 15 Mar) on the 651.74 still overdue, added to the 15 before
    assert i1.penalty_base == 89472 * 15 + 65174 * 15 and i1.penalty_due == D("23.20")
    assert i1.compound_due == D("3.60")  # interest was paid on 1 Mar
    assert (i2.penalty_due, i2.compound_due) == (D("0.91"), D("0.22"))

    eod(book, date(2024, 3, 20))
    loan = loan_row(book, "S1")
    assert (loan.dpd, loan.bucket, loan.risk_class) == (34, "M2", "special-mention")

    # 21 Mar: the 1 Mar payment bounces: history is replayed as if it never came
    with transaction(book) as s:
        reverse_transaction(session=s, transaction_id=posting.transaction_id, reason="returned")
    i1 = first_installments(book, "S1")[0]
    assert i1.penalty_base == 89472 * 35 and i1.penalty_due == D("31.32")  # 15 Feb … 20 Mar
    assert i1.compound_base == 24000 * 35 and i1.compound_due == D("8.40")
    assert state_on(book, "S1", date(2024, 3, 1))[6] == 15  # snapshots rewritten
    with transaction(book) as s:
        assert trial_balance(s).balanced

    # 21 Mar: pays everything overdue → cured at the end of the day
    with transaction(book) as s:
        from daihou.loans.service import loan_view

        view = loan_view(s, "S1")
        owed = sum(
            (
                i.total_due - i.total_paid
                for i in view.installments
                if i.due_date < date(2024, 3, 21)
            ),
            D(0),
        )
    assert owed == D("894.72") + D("240.00") + D("31.32") + D("8.40") + D("912.61") + D(
        "222.11"
    ) + (
        first_installments(book, "S1")[1].penalty_due
        + first_installments(book, "S1")[1].compound_due
    )
    pay(book, "S1", str(owed), "P-0321")
    eod(book, date(2024, 3, 21))
    loan = loan_row(book, "S1")
    assert (loan.dpd, loan.bucket, loan.risk_class) == (0, "M0", "normal")
    kinds = [(d, k, f, t) for d, k, f, t in events(book)]
    assert (date(2024, 2, 16), "entered-bucket", "M0", "M1") in kinds
    assert (date(2024, 3, 17), "rolled-forward", "M1", "M2") in kinds
    assert (date(2024, 3, 21), "cured", "M2", "M0") in kinds
    assert (date(2024, 2, 16), "classified", "normal", "special-mention") in kinds
    with transaction(book) as s:
        assert trial_balance(s).balanced


def test_closing_a_closed_date_again_changes_nothing(book: Engine) -> None:
    eod(book, date(2024, 3, 5))
    before = (
        loan_row(book, "S1").dpd,
        [i.penalty_base for i in first_installments(book, "S1")],
        events(book),
    )
    eod(book, date(2024, 3, 1))  # already closed
    eod(book, date(2024, 2, 20))
    assert today(book) == date(2024, 3, 6)
    after = (
        loan_row(book, "S1").dpd,
        [i.penalty_base for i in first_installments(book, "S1")],
        events(book),
    )
    assert after == before


def test_postings_wait_while_end_of_day_runs(book: Engine) -> None:
    with transaction(book) as s:
        s.get(SystemState, 1).eod_running = True  # type: ignore[union-attr]
    with pytest.raises(EodInProgress, match="end of day"):
        pay(book, "S1", "10.00", "WAIT")
    eod(book, date(2024, 1, 20))  # the run finishes and reopens postings
    assert pay(book, "S1", "10.00", "WAIT").created


def test_loan_show_report_and_override(book: Engine, tmp_path: Path) -> None:
    import json

    from openpyxl import load_workbook
    from typer.testing import CliRunner

    from daihou.cli import app
    from daihou.eod.classify import override_class
    from daihou.payments.errors import ServicingError

    eod(book, date(2024, 3, 31))  # a month end: roll rates and M1 cure are stored
    url = book.url.render_as_string(hide_password=False)
    runner = CliRunner()
    shown = json.loads(
        runner.invoke(app, ["loan", "show", "S1", "--format", "json", "--db", url]).output
    )
    assert (shown["dpd"], shown["bucket"], shown["risk_class"]) == (45, "M2", "special-mention")
    assert Decimal(shown["penalty_accrued"]) > 0 and Decimal(shown["compound_accrued"]) > 0
    out = runner.invoke(
        app, ["report", "daily", "--date", "2024-03-31", "--format", "json", "--db", url]
    )
    report = json.loads(out.output)
    assert report["loans"] == 1 and report["by_bucket"]["M2"]["count"] == 1
    assert report["overdue_rate"] == "1.000000" and report["npl_ratio"] == "0.000000"
    assert report["roll_rates"]["matrix"]["M1"]["M2"]["count"] == 1
    assert report["roll_rates"]["m1_cure_rate_by_count"] == "0.000000"
    xlsx = tmp_path / "daily.xlsx"
    out = runner.invoke(
        app,
        [
            "report",
            "daily",
            "--date",
            "2024-03-31",
            "--format",
            "xlsx",
            "--output",
            str(xlsx),
            "--db",
            url,
        ],
    )
    assert out.exit_code == 0, out.output
    assert load_workbook(xlsx).sheetnames == [
        "summary",
        "buckets",
        "classes",
        "roll rates",
        "M1 cure",
    ]
    assert (
        "not been closed"
        in runner.invoke(app, ["report", "daily", "--date", "2025-01-01", "--db", url]).output
    )
    # overrides: only upward, with a second person's approval; end of day keeps it
    with transaction(book) as s, pytest.raises(ServicingError, match="approver"):
        override_class(
            s,
            loan_id="S1",
            risk_class="doubtful",
            reason="fraud",
            requested_by="a",
            approved_by="a",
        )
    with transaction(book) as s, pytest.raises(ServicingError, match="only raise"):
        override_class(
            s,
            loan_id="S1",
            risk_class="special-mention",
            reason="x",
            requested_by="a",
            approved_by="b",
        )
    with transaction(book) as s:
        override_class(
            s,
            loan_id="S1",
            risk_class="doubtful",
            reason="fraud suspected",
            requested_by="a",
            approved_by="b",
        )
    eod(book, date(2024, 4, 2))
    assert loan_row(book, "S1").risk_class == "doubtful"


def test_card_variant_classifies_by_its_own_floors(book: Engine) -> None:
    from daihou.eod.runner import run_eod
    from daihou.policy import load_pack
    from daihou.policy.schema import Delinquency

    card = load_pack().model_copy(update={"delinquency": Delinquency(classification="card")})
    run_eod(book, through=date(2024, 6, 15), pack=card)  # installment 1 is 121 days late
    loan = loan_row(book, "S1")
    assert (loan.dpd, loan.bucket, loan.risk_class) == (121, "M5", "doubtful")  # cn-2023: 次级
