"""Loan-book import: every row validated first, all or nothing, a balanced ledger."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from daihou.compliance.privacy.crypto import PREFIX, Keyring, use_keyring
from daihou.db.engine import transaction
from daihou.db.models import Base
from daihou.eod.calendar import initialise_business_date
from daihou.ledger.accounts import FUNDING, LOAN_PRINCIPAL
from daihou.ledger.models import JournalEntry, JournalLine
from daihou.loans import book
from daihou.loans.book import import_loans
from daihou.loans.identity import id_number_error, normalise_phone
from daihou.loans.import_file import COLUMNS, ImportRejected, RowError, SourceRow, read_rows
from daihou.loans.importer import parse_rows, validate_rows
from daihou.loans.models import Customer, Installment, Loan
from daihou.payments.models import Transaction
from daihou.policy.loader import load_pack

TODAY = date(2026, 3, 31)


@pytest.fixture(autouse=True)
def keyring() -> Iterator[Keyring]:
    with use_keyring(Keyring.generate()) as ring:
        yield ring


ID_A = "11010519491231002X"  # the specimen number of GB 11643


def valid_id(body17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return (
        body17 + "10X98765432"[sum(int(d) * w for d, w in zip(body17, weights, strict=True)) % 11]
    )


ID_B = valid_id("44030519900101123")


def row(loan_id: str, **overrides: object) -> dict[str, str]:
    values = {
        "loan_id": loan_id,
        "customer_id": "C1",
        "customer_name": "张三",
        "id_number": ID_A,
        "phone": "138 0013 8000",
        "product": "consumer",
        "principal": "10,000.00",
        "annual_rate": "4.35%",
        "term_months": "12",
        "method": "equal-installment",
        "disbursed_on": "2025-06-15",
        "first_due_on": "",
        "repayment_day": "",
        "address": "",
        "employer": "",
    }
    values.update({k: str(v) for k, v in overrides.items()})
    return values


def write_csv(
    path: Path, rows: list[dict[str, str]], *, encoding: str = "utf-8", header: Any = None
) -> Path:
    columns = list(header or COLUMNS)
    with path.open("w", encoding=encoding, newline="") as f:
        out = csv.writer(f)
        out.writerow(columns)
        for r in rows:
            out.writerow([r.get(c, "") for c in columns])
    return path


def init(engine: Engine, today: date = TODAY) -> None:
    with transaction(engine) as session:
        initialise_business_date(session, today)


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in Base.metadata.sorted_tables
        }


def account_balance(session: Session, account: str) -> Decimal:
    debit, credit = session.execute(
        select(func.sum(JournalLine.debit), func.sum(JournalLine.credit)).where(
            JournalLine.account == account
        )
    ).one()
    return Decimal(debit or 0) - Decimal(credit or 0)


def assert_book_consistent(engine: Engine) -> None:
    """Each loan's installments sum to its principal, one per month of the term; the
    journal balances and ``loan_principal`` equals the principal of the book."""
    with transaction(engine) as session:
        for loan in session.scalars(select(Loan)):
            parts = session.scalars(
                select(Installment)
                .where(Installment.loan_id == loan.id)
                .order_by(Installment.period)
            ).all()
            assert len(parts) == loan.term_months
            assert [p.period for p in parts] == list(range(1, loan.term_months + 1))
            assert sum(p.principal_due for p in parts) == loan.principal
            for p in parts:
                assert p.status == ("due" if p.due_date <= TODAY else "pending")
                assert p.annual_rate == loan.annual_rate
        debit, credit = session.execute(
            select(func.sum(JournalLine.debit), func.sum(JournalLine.credit))
        ).one()
        assert debit == credit
        principal = session.scalar(select(func.sum(Loan.principal)))
        assert account_balance(session, LOAN_PRINCIPAL) == principal
        assert account_balance(session, FUNDING) == -principal


# --------------------------------------------------------------------------- happy paths


def test_csv_import_writes_loans_schedules_transactions_and_journal(
    engine: Engine, tmp_path: Path, keyring: Keyring
) -> None:
    init(engine)
    rows = [
        row("L1"),
        row(
            "L2",
            principal="24000",
            annual_rate="0.0435",
            term_months=24,
            method="等额本金",
            employer="上海某公司",  # given on the customer's second row only
        ),
        row(
            "L3",
            customer_id="C2",
            customer_name="李四",
            id_number=ID_B.lower(),
            phone="+86 139-0013-9000",
            term_months=36,
            disbursed_on="2026-03-31",
            first_due_on="2026-05-10",
            address="北京市朝阳区",
        ),
    ]
    path = write_csv(tmp_path / "book.csv", rows, encoding="utf-8-sig")
    seen: list[tuple[int, int]] = []

    result = import_loans(engine=engine, path=path, progress=lambda d, t: seen.append((d, t)))

    assert (result.created, result.updated, result.unchanged, result.rows) == (3, 0, 0, 3)
    assert result.installments == 12 + 24 + 36
    assert seen[-1] == (6, 6) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert_book_consistent(engine)
    with transaction(engine) as session:
        loans = {loan.id: loan for loan in session.scalars(select(Loan))}
        assert loans["L1"].principal == Decimal("10000.00")
        assert loans["L1"].annual_rate == loans["L1"].current_rate == Decimal("0.0435")
        assert loans["L1"].outstanding_principal == Decimal("10000.00")
        assert loans["L1"].credit_balance == Decimal("0.00")
        assert (loans["L1"].status, loans["L1"].version) == ("active", 1)
        assert loans["L2"].method == "equal-principal"
        assert loans["L3"].first_due_on == date(2026, 5, 10)
        customers = {c.id: c for c in session.scalars(select(Customer))}
        assert set(customers) == {"C1", "C2"}
        assert customers["C1"].phone == "13800138000"
        assert customers["C2"].phone == "13900139000"
        assert customers["C2"].id_number == ID_B
        assert customers["C2"].address == "北京市朝阳区"
        assert customers["C1"].address is None
        assert customers["C1"].employer == "上海某公司"
        assert customers["C2"].phone_hash == keyring.blind_index("13900139000", "phone")
        assert customers["C2"].id_number_hash == keyring.blind_index(ID_B, "id_number")
        stored = session.execute(
            text("SELECT name, id_number, phone, address, employer FROM customers WHERE id = 'C2'")
        ).one()
        assert all(v.startswith(PREFIX) for v in stored if v is not None)
        assert stored[4] is None
        txns = session.scalars(select(Transaction).order_by(Transaction.loan_id)).all()
        assert [(t.loan_id, t.kind, t.amount) for t in txns] == [
            ("L1", "disbursement", Decimal("10000.00")),
            ("L2", "disbursement", Decimal("24000.00")),
            ("L3", "disbursement", Decimal("10000.00")),
        ]
        assert {(t.value_date, t.booked_on) for t in txns[:2]} == {(date(2025, 6, 15), TODAY)}
        assert all(t.channel is None and t.reference is None for t in txns)
        assert all(t.status == "posted" for t in txns)
        entries = session.scalars(select(JournalEntry).order_by(JournalEntry.loan_id)).all()
        assert [(e.loan_id, e.kind, e.transaction_id) for e in entries] == [
            (t.loan_id, "disbursement", t.id) for t in txns
        ]
        assert entries[0].entry_date == date(2025, 6, 15) and entries[0].booked_on == TODAY
        lines = session.scalars(
            select(JournalLine).where(JournalLine.entry_id == entries[1].id)
        ).all()
        assert sorted((x.account, x.debit, x.credit) for x in lines) == [
            (FUNDING, Decimal("0.00"), Decimal("24000.00")),
            (LOAN_PRINCIPAL, Decimal("24000.00"), Decimal("0.00")),
        ]
        due = session.scalar(
            select(func.count()).where(Installment.loan_id == "L1", Installment.status == "due")
        )
        assert due == 9  # 15 Jul 2025 … 15 Mar 2026


def test_xlsx_import_accepts_date_and_number_cells(engine: Engine, tmp_path: Path) -> None:
    init(engine)
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(
        [
            " Loan ID ",
            "Customer_ID",
            "CUSTOMER NAME",
            "id number",
            "Phone",
            "product",
            "principal",
            "annual rate",
            "term months",
            "method",
            "disbursed on",
            "first due on",
            "repayment day",
        ]
    )
    sheet.append(
        [
            "X1",
            "C9",
            "王五",
            ID_A,
            13700137000,
            "consumer",
            5000.5,
            0.0435,
            12,
            "等额本息",
            datetime(2025, 12, 1),
            None,
            20,
        ]
    )
    sheet.append(
        [
            "X2",
            "C9",
            "王五",
            ID_A,
            "13700137000",
            "consumer",
            8000,
            "5%",
            6,
            "equal-installment",
            date(2026, 1, 5),
            date(2026, 2, 20),
            None,
        ]
    )
    sheet.append([None] * 13)  # a blank row is skipped
    path = tmp_path / "book.xlsx"
    workbook.save(path)

    result = import_loans(engine=engine, path=path)

    assert (result.created, result.rows) == (2, 2)
    assert_book_consistent(engine)
    with transaction(engine) as session:
        x1 = session.get(Loan, "X1")
        x2 = session.get(Loan, "X2")
        assert x1 is not None and x2 is not None
        assert x1.principal == Decimal("5000.50") and x1.annual_rate == Decimal("0.0435")
        assert x1.method == "equal-installment" and x1.repayment_day == 20
        assert x1.disbursed_on == date(2025, 12, 1)
        assert x2.first_due_on == date(2026, 2, 20) and x2.annual_rate == Decimal("0.05")
        customer = session.get(Customer, "C9")
        assert customer is not None and customer.phone == "13700137000"


def test_gb18030_csv_with_chinese_method_names(engine: Engine, tmp_path: Path) -> None:
    init(engine)
    methods = ["等额本息", "等额本金", "先息后本", "到期一次还本付息"]
    rows = [row(f"G{i}", method=m, customer_name="欧阳娜娜") for i, m in enumerate(methods)]
    path = write_csv(tmp_path / "book.csv", rows, encoding="gb18030")
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")

    result = import_loans(engine=engine, path=path)

    assert result.created == 4
    with transaction(engine) as session:
        stored = dict(session.execute(select(Loan.id, Loan.method)).tuples().all())
        assert stored == {
            "G0": "equal-installment",
            "G1": "equal-principal",
            "G2": "interest-only",
            "G3": "bullet",
        }
        customer = session.get(Customer, "C1")
        assert customer is not None and customer.name == "欧阳娜娜"
        bullet = session.scalars(select(Installment).where(Installment.loan_id == "G3")).all()
        assert len(bullet) == 1 and bullet[0].principal_due == Decimal("10000.00")
        debit, credit = session.execute(
            select(func.sum(JournalLine.debit), func.sum(JournalLine.credit))
        ).one()
        assert debit == credit == Decimal("40000.00")


# --------------------------------------------------------------------------- rejections


def test_every_bad_row_is_reported_and_nothing_is_written(engine: Engine, tmp_path: Path) -> None:
    init(engine)
    import_loans(engine=engine, path=write_csv(tmp_path / "first.csv", [row("OLD1")]))
    before = counts(engine)
    rows = [
        row("L1"),  # row 2: fine
        row("L2", principal="12.345"),  # row 3
        row("L3", id_number="110105194912310021"),  # row 4: check digit should be X
        row("L4", product="car-loan"),  # row 5
        row("L5", annual_rate="4.9"),  # row 6: 4.9 % or 490 %?
        row("L1"),  # row 7: duplicate loan id
        row("L6", disbursed_on="2025/06/15"),  # row 8
        row("L7", customer_name=""),  # row 9
        row("L8", phone="12345"),  # row 10
        row("L9", term_months="61"),  # row 11: consumer loans run at most 60 months
    ]
    path = write_csv(tmp_path / "bad.csv", rows)

    with pytest.raises(ImportRejected) as caught:
        import_loans(engine=engine, path=path)

    found = {(e.row, e.field) for e in caught.value.errors}
    expected = {
        (3, "principal"),
        (4, "id_number"),
        (5, "product"),
        (6, "annual_rate"),
        (7, "loan_id"),
        (8, "disbursed_on"),
        (9, "customer_name"),
        (10, "phone"),
        (11, "term_months"),
    }
    assert expected <= found
    assert not any(e.row == 2 for e in caught.value.errors)
    message = str(caught.value)
    assert message.startswith("9 rows rejected, nothing imported:\n")
    for number, name in expected:
        assert f"  row {number}, {name}: " in message
    assert "row 7, loan_id: duplicate of row 2" in message
    assert "row 6, annual_rate: '4.9' is ambiguous" in message
    assert "row 9, customer_name: is required" in message
    assert ID_A not in message  # personal data stays out of messages
    assert isinstance(caught.value, ValueError)
    assert counts(engine) == before


def test_row_checks(tmp_path: Path) -> None:
    rows = [
        row("A"),
        row("B", disbursed_on="2026-04-01"),  # after the business date
        row("C", first_due_on="2025-06-15"),  # not after disbursement
        row("D", first_due_on="2025-08-16"),  # more than 2 months later
        row("E", repayment_day="32"),
        row("F", method="annuity"),
        row("G", principal="0"),
        row("H", annual_rate="abc"),
        row("I", term_months="1.5"),
        row("J", phone="13800138001"),  # C1 had another phone on row 2
        row("x" * 65),
        row("M", disbursed_on="2025-02-30"),
        row("N", customer_id="C5", customer_name="张" * 120),  # ciphertext would not fit
    ]
    sources = [SourceRow(n, r) for n, r in enumerate(rows, start=2)]
    result = validate_rows(sources, pack=load_pack(), business_date=TODAY)
    assert [loan.loan_id for loan in result.loans] == ["A", "J"]
    assert [(e.row, e.field) for e in result.errors] == [
        (3, "disbursed_on"),
        (4, "first_due_on"),
        (5, "first_due_on"),
        (6, "repayment_day"),
        (7, "method"),
        (8, "principal"),
        (9, "annual_rate"),
        (10, "term_months"),
        (11, "phone"),
        (12, "loan_id"),
        (13, "disbursed_on"),
        (14, "customer_name"),
    ]
    assert result.errors[8] == RowError(
        11, "phone", "differs from row 2 for the same customer_id C1"
    )


def test_id_numbers_and_phones() -> None:
    assert id_number_error(ID_A) is None
    assert id_number_error(valid_id("44030519900101123")) is None
    assert id_number_error("110105491231002") is None  # 15-digit first generation
    assert id_number_error("110105194912310021") == "check digit is wrong (GB 11643)"
    assert id_number_error("11010519491231002") is not None
    assert normalise_phone("+86 138-0013-8000") == "13800138000"
    assert normalise_phone("0086 13800138000") == "13800138000"
    assert normalise_phone("010-12345678") == "010-12345678"
    assert normalise_phone("(0755) 8888 6666") == "0755-88886666"
    assert normalise_phone("+86 21 5555 6666") == "021-55556666"
    assert normalise_phone("12800138000") is None
    assert normalise_phone("1380013800") is None


def test_parallel_parsing_gives_the_same_rows() -> None:
    rows = [
        SourceRow(n + 2, row(f"P{n}", principal=f"{1000 + n}.25", term_months=1 + n % 36))
        for n in range(60)
    ] + [SourceRow(62, row("BAD", annual_rate="7"))]
    pack = load_pack()
    one = parse_rows(rows, pack=pack, business_date=TODAY, workers=1)
    two = parse_rows(rows, pack=pack, business_date=TODAY, workers=2)
    assert one == two
    assert [list(a.schedule) for a in one[0]] == [list(b.schedule) for b in two[0]]
    assert [e.row for e in one[1]] == [62]


def test_missing_and_unknown_columns(tmp_path: Path) -> None:
    header = [c for c in COLUMNS if c not in {"phone", "product"}]
    path = write_csv(tmp_path / "missing.csv", [row("L1")], header=header)
    with pytest.raises(ImportRejected) as caught:
        read_rows(path)
    assert str(caught.value) == (
        "file rejected, nothing imported:\n"
        "  row 1, header: missing required columns: phone, product"
    )

    path = write_csv(tmp_path / "unknown.csv", [row("L1")], header=[*COLUMNS, "Colour"])
    with pytest.raises(ImportRejected) as caught:
        read_rows(path)
    assert [(e.row, e.field) for e in caught.value.errors] == [(1, "Colour")]
    assert "unknown column" in str(caught.value)

    stray = row("L1") | {"": "x"}  # a value under an empty header cell
    path = write_csv(tmp_path / "stray.csv", [row("L0"), stray], header=[*COLUMNS, ""])
    with pytest.raises(ImportRejected, match="row 3, file: a cell lies in a column without"):
        read_rows(path)

    with pytest.raises(ImportRejected, match=r"expected a \.csv or \.xlsx"):
        read_rows(tmp_path / "book.json")


def test_missing_column_rejects_import_before_touching_the_database(
    engine: Engine, tmp_path: Path
) -> None:
    init(engine)
    before = counts(engine)
    header = [c for c in COLUMNS if c != "principal"]
    with pytest.raises(ImportRejected, match="missing required columns: principal"):
        import_loans(engine=engine, path=write_csv(tmp_path / "b.csv", [row("L1")], header=header))
    assert counts(engine) == before


# --------------------------------------------------------------------------- re-import and update


def test_reimport_needs_update_then_updates_customers_and_terms(
    engine: Engine, tmp_path: Path
) -> None:
    init(engine)
    original = [
        row("L1"),
        row("L2", customer_id="C2", id_number=ID_B, phone="13900139000", principal="20000"),
        row("L3", customer_id="C3", id_number=ID_B, phone="13700137000", principal="30000"),
    ]
    import_loans(engine=engine, path=write_csv(tmp_path / "v1.csv", original))
    with transaction(engine) as session:
        first_entries = entry_rows(session)
        first_lines = line_rows(session)
    before = counts(engine)

    with pytest.raises(ImportRejected) as caught:
        import_loans(engine=engine, path=write_csv(tmp_path / "again.csv", original))
    assert "row 2, loan_id: already exists; use --update" in str(caught.value)
    assert {e.row for e in caught.value.errors} == {2, 3, 4}
    assert counts(engine) == before

    changed = [
        row("L1", phone="+86 138 0000 0001"),  # customer data only
        row(
            "L2",
            customer_id="C2",
            id_number=ID_B,
            phone="13900139000",
            principal="25,000",
            term_months=24,
        ),
        row("L3", customer_id="C3", id_number=ID_B, phone="13700137000", principal="28000"),
    ]
    result = import_loans(engine=engine, path=write_csv(tmp_path / "v2.csv", changed), update=True)
    assert (result.created, result.updated, result.unchanged, result.rows) == (0, 3, 0, 3)
    assert result.installments == 24 + 12

    again = import_loans(engine=engine, path=write_csv(tmp_path / "v3.csv", changed), update=True)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)

    assert_book_consistent(engine)
    with transaction(engine) as session:
        c1 = session.get(Customer, "C1")
        assert c1 is not None and c1.phone == "13800000001"
        l2 = session.get(Loan, "L2")
        assert l2 is not None
        assert (l2.principal, l2.outstanding_principal) == (Decimal("25000.00"),) * 2
        assert (l2.term_months, l2.version) == (24, 2)
        loan1 = session.get(Loan, "L1")
        assert loan1 is not None and loan1.version == 1
        # Posted rows untouched; one adjustment entry per principal change.
        assert entry_rows(session)[: len(first_entries)] == first_entries
        assert line_rows(session)[: len(first_lines)] == first_lines
        adjustments = session.scalars(
            select(JournalEntry)
            .where(JournalEntry.kind == "disbursement-adjustment")
            .order_by(JournalEntry.loan_id)
        ).all()
        assert [(e.loan_id, e.booked_on, e.transaction_id) for e in adjustments] == [
            ("L2", TODAY, None),
            ("L3", TODAY, None),
        ]
        moves = {
            e.loan_id: sorted(
                (x.account, x.debit, x.credit)
                for x in session.scalars(select(JournalLine).where(JournalLine.entry_id == e.id))
            )
            for e in adjustments
        }
        assert moves == {
            "L2": [
                (FUNDING, Decimal("0.00"), Decimal("5000.00")),
                (LOAN_PRINCIPAL, Decimal("5000.00"), Decimal("0.00")),
            ],
            "L3": [
                (FUNDING, Decimal("2000.00"), Decimal("0.00")),
                (LOAN_PRINCIPAL, Decimal("0.00"), Decimal("2000.00")),
            ],
        }
        assert session.scalar(select(func.count()).select_from(Transaction)) == 3


def entry_rows(session: Session) -> list[tuple[Any, ...]]:
    entries = session.scalars(select(JournalEntry).order_by(JournalEntry.id))
    return [(e.id, e.kind, e.loan_id, e.transaction_id, e.entry_date, e.booked_on) for e in entries]


def line_rows(session: Session) -> list[tuple[Any, ...]]:
    lines = session.scalars(select(JournalLine).order_by(JournalLine.id))
    return [(x.id, x.entry_id, x.account, x.debit, x.credit) for x in lines]


def test_terms_of_a_loan_with_repayments_cannot_change(engine: Engine, tmp_path: Path) -> None:
    init(engine)
    import_loans(engine=engine, path=write_csv(tmp_path / "v1.csv", [row("L1")]))
    with transaction(engine) as session:
        session.add(
            Transaction(
                loan_id="L1",
                kind="repayment",
                value_date=date(2025, 7, 15),
                booked_on=TODAY,
                amount=Decimal("100.00"),
                channel="counter",
                reference="R1",
            )
        )
    before = counts(engine)

    path = write_csv(tmp_path / "v2.csv", [row("L1", principal="11000", customer_id="C7")])
    with pytest.raises(ImportRejected) as caught:
        import_loans(engine=engine, path=path, update=True)
    assert [(e.row, e.field) for e in caught.value.errors] == [(2, "customer_id"), (2, "principal")]
    assert "has repayments; terms cannot change" in str(caught.value)
    assert counts(engine) == before

    path = write_csv(tmp_path / "v3.csv", [row("L1", employer="某公司")])
    result = import_loans(engine=engine, path=path, update=True)
    assert (result.updated, result.installments) == (1, 0)


def test_existing_customer_data_changes_only_with_update(
    engine: Engine, tmp_path: Path, keyring: Keyring
) -> None:
    init(engine)
    import_loans(engine=engine, path=write_csv(tmp_path / "v1.csv", [row("L1")]))
    path = write_csv(tmp_path / "v2.csv", [row("L2", phone="13811112222")])
    with pytest.raises(ImportRejected, match="row 2, phone: customer C1 exists with a different"):
        import_loans(engine=engine, path=path)
    result = import_loans(engine=engine, path=path, update=True)
    assert (result.created, result.updated) == (1, 0)
    with transaction(engine) as session:
        customer = session.get(Customer, "C1")
        assert customer is not None and customer.phone == "13811112222"
        assert customer.phone_hash == keyring.blind_index("13811112222", "phone")
        assert customer.id_number_hash == keyring.blind_index(ID_A, "id_number")


def test_a_first_big_load_rebuilds_the_indexes_it_paused(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(book, "PAUSE_INDEXES_FROM", 1)
    restored: list[str] = []
    restore = book._Writer.restore_indexes

    def spy(self: book._Writer, statements: list[str]) -> None:
        restored.extend(statements)
        restore(self, statements)

    monkeypatch.setattr(book._Writer, "restore_indexes", spy)
    init(engine)
    before = _indexes(engine)
    rows = [row(f"L{n:03d}", principal=f"{1000 + n}") for n in range(30)]
    result = import_loans(engine=engine, path=write_csv(tmp_path / "b.csv", rows))
    assert result.installments == 360
    assert len(restored) >= 2  # the pending and paid rows by due date at least
    assert _indexes(engine) == before
    assert_book_consistent(engine)

    restored.clear()  # the table now holds as many rows as the next file brings
    rows = [row(f"M{n:03d}", principal=f"{1000 + n}") for n in range(30)]
    import_loans(engine=engine, path=write_csv(tmp_path / "c.csv", rows))
    assert restored == []
    assert _indexes(engine) == before


def _indexes(engine: Engine) -> list[tuple[str, str]]:
    if engine.dialect.name == "sqlite":
        query = "SELECT name, sql FROM sqlite_master WHERE tbl_name = 'installments'"
    else:
        query = (
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE tablename = 'installments' AND schemaname = current_schema()"
        )
    with engine.connect() as conn:
        return sorted((str(a), str(b)) for a, b in conn.execute(text(query)))
