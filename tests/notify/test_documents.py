"""PDF documents: Chinese text and amounts read back, stored, hashed into the audit
chain, rebuilt byte for byte; letters produced by the worker and exported."""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import Engine, select

from daihou.auth.actor import SYSTEM
from daihou.compliance.audit.models import AuditRecord
from daihou.compliance.audit.service import verify as verify_chain
from daihou.compliance.language import check_text
from daihou.db.engine import transaction
from daihou.documents.builders import BUILDERS
from daihou.documents.letters import export_letters
from daihou.documents.models import Document
from daihou.documents.service import KINDS, gather, generate, regenerate, verify
from daihou.eod.runner import run_eod
from daihou.loans.models import Installment
from daihou.notify.models import OutboxMessage
from daihou.notify.outbox import enqueue
from daihou.notify.settings import NotifySettings
from daihou.notify.worker import Worker
from daihou.payments.quote import payoff_quote
from daihou.payments.service import prepay
from tests.factories import add_loans, init_book, loan_row

SETTINGS = NotifySettings()
AS_OF = date(2024, 3, 20)  # closed by end of day; the business date is the 21st


def text_of(pdf: bytes) -> str:
    """The PDF's text without white space (lines wrap anywhere in Chinese)."""
    pages = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    return "".join(pages.split())


def has(text: str, *needles: str) -> bool:
    return all("".join(n.split()) in text for n in needles)


@pytest.fixture
def book(engine: Engine, tmp_path: Path) -> Engine:
    init_book(engine, date(2024, 1, 15))
    add_loans(
        engine,
        tmp_path,
        [
            loan_row("L-LATE", customer_name="李四", address="上海市浦东新区测试路8号"),
            loan_row("L-PAID", customer_name="赵六"),
        ],
    )
    run_eod(engine, through=AS_OF)
    with transaction(engine) as s:
        quote = payoff_quote(s, "L-PAID", on=AS_OF)
        prepay(session=s, loan_id="L-PAID", amount=quote.total, value_date=AS_OF, full=True)
    return engine


def make(engine: Engine, kind: str, loan_id: str = "L-LATE", **extra: object) -> Document:
    with transaction(engine) as s:
        doc = generate(s, kind=kind, loan_id=loan_id, actor=SYSTEM, settings=SETTINGS, **extra)  # type: ignore[arg-type]
        s.expunge(doc)
        return doc


def test_overdue_notice_shows_days_amounts_and_penalty_detail(book: Engine) -> None:
    doc = make(book, "overdue-notice")
    text = text_of(doc.content)
    with transaction(book) as s:
        rows = s.scalars(
            select(Installment)
            .where(Installment.loan_id == "L-LATE", Installment.due_date < AS_OF)
            .order_by(Installment.period)
        ).all()
        inputs = gather(s, kind="overdue-notice", loan_id="L-LATE", settings=SETTINGS)
    assert [r.period for r in rows] == [1, 2]
    penalty = sum((r.penalty_due for r in rows), Decimal(0))
    assert penalty > 0
    total = sum(
        (
            r.principal_due + r.interest_due + r.fee_due + r.penalty_due + r.compound_due
            for r in rows
        ),
        Decimal(0),
    )
    assert has(text, "逾期通知书", "李四")
    assert has(text, "已逾期 34 天")  # first installment due 2024-02-15
    assert has(text, f"{total:,.2f}")
    assert has(text, f"{rows[0].principal_due:,.2f}")
    assert has(text, "罚息计算明细")
    assert has(text, "24.0000% × (1 + 50%) = 36.0000%")  # contract 24%, markup 50%
    assert has(text, f"罚息 {rows[0].penalty_due:,.2f} 元")
    assert has(text, "95500")  # how to pay / dispute
    assert inputs["overdue_sum"] == f"{total:.2f}"


def test_every_document_is_stored_hashed_audited_and_rebuilt_identically(
    book: Engine,
) -> None:
    docs = {
        kind: make(book, kind, "L-PAID" if kind == "settlement-certificate" else "L-LATE")
        for kind in KINDS
    }
    with transaction(book) as s:
        audit = {r.object_id: r for r in s.scalars(select(AuditRecord))}
        for kind, doc in docs.items():
            assert doc.sha256 == hashlib.sha256(doc.content).hexdigest()
            assert audit[str(doc.id)].document_hash == doc.sha256
            assert audit[str(doc.id)].action == "document.generate"
            assert regenerate(s, doc.id) == doc.content, kind
            assert verify(s, doc.id)
        assert verify_chain(s).ok
    # generating again from the same book gives the same bytes
    assert make(book, "overdue-notice").content == docs["overdue-notice"].content
    # a changed stored PDF no longer verifies
    with transaction(book) as s:
        stored = s.get(Document, docs["reminder"].id)
        assert stored is not None
        stored.content = stored.content.replace(b"daihou", b"DAIHOU", 1)
    with transaction(book) as s:
        assert not verify(s, docs["reminder"].id)


def test_document_texts_pass_the_language_check(book: Engine) -> None:
    for kind in BUILDERS:
        loan = "L-PAID" if kind == "settlement-certificate" else "L-LATE"
        result = check_text(text_of(make(book, kind, loan).content))
        assert result.passed, (kind, result.describe())


def test_settlement_certificate_only_for_a_closed_loan(book: Engine) -> None:
    with pytest.raises(ValueError, match="not closed"):
        make(book, "settlement-certificate", "L-LATE")
    text = text_of(make(book, "settlement-certificate", "L-PAID").content)
    assert has(text, "结清证明", "赵六", "已于 2024-03-20 全部结清")
    assert has(text, "12,000.00")


def test_plan_agreement_and_evidence_bundle(book: Engine) -> None:
    doc = make(book, "plan-agreement", plan_months=3, plan_first_due=date(2024, 4, 10))
    text = text_of(doc.content)
    assert has(text, "还款计划协议", "分 3 期")
    assert has(text, "2024-04-10", "2024-06-10")
    bundle = text_of(make(book, "evidence-bundle").content)
    for heading in ("目录", "一、合同信息", "二、还款明细", "三、逾期证明", "四、催收记录"):
        assert heading in bundle
    assert has(bundle, "disbursement", "12,000.00", "L-LATE")


def test_letters_are_produced_by_the_worker_and_exported(book: Engine, tmp_path: Path) -> None:
    with transaction(book) as s:
        mid = enqueue(
            s,
            customer_id="C-L-LATE",
            loan_id="L-LATE",
            case_id=None,
            channel="letter",
            purpose="collection",
            template="overdue-notice",
            language="zh-CN",
            variables={},
            dedupe_key="letter-1",
        )
    settings = NotifySettings(letters_dir=tmp_path / "print")
    day = datetime.now(UTC).date() + timedelta(days=1)
    clock = datetime.combine(day, time(2, 0), UTC)
    stats = Worker(engine=book, settings=settings, clock=lambda: clock).run_once()
    assert (stats.sent, stats.letters) == (1, 1)
    with transaction(book) as s:
        message = s.get(OutboxMessage, mid)
        assert message is not None and message.status == "sent"
        assert message.document_id is not None
        batch = export_letters(s, day=day, settings=settings, actor=SYSTEM)
        with pytest.raises(ValueError, match="no letters"):
            export_letters(s, day=day, settings=settings, actor=SYSTEM)
    assert batch.count == 1 and batch.path.parent == tmp_path / "print"
    with zipfile.ZipFile(batch.path) as archive:
        assert sorted(archive.namelist()) == sorted(["manifest.csv", f"{mid}.pdf"])
        manifest = list(csv.DictReader(io.StringIO(archive.read("manifest.csv").decode())))
        assert has(text_of(archive.read(f"{mid}.pdf")), "逾期通知书")
    assert manifest[0]["address"] == "上海市浦东新区测试路8号"
    assert manifest[0]["name"] == "李四"
