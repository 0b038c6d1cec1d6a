"""Planned SMS/e-mail/letter treatments become outbox messages in the run's transaction;
the worker then delivers them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from daihou.auth.actor import Actor
from daihou.cli import app
from daihou.collection.message_templates import INSTALLER, default_templates, seed_templates
from daihou.collection.outbox_link import queue_messages
from daihou.collection.run import run_collections
from daihou.collection.tables import CollectionTreatment
from daihou.compliance.gate.holds import place_hold
from daihou.compliance.language.models import MessageTemplate
from daihou.db.engine import make_engine, transaction
from daihou.eod.runner import run_eod
from daihou.loans.models import Customer, Installment
from daihou.notify.models import OutboxMessage
from daihou.notify.settings import LenderSettings
from daihou.notify.worker import Worker, build_channels
from daihou.policy.loader import load_pack
from tests.factories import add_loans, init_book, loan_row
from tests.notify.conftest import SmsGateway, settings_for, sms_gateway  # noqa: F401

START = date(2026, 1, 15)
DUE = date(2026, 2, 15)  # first due date of loans disbursed on START
OFFICER = Actor(user_id="officer", roles=frozenset({"compliance-officer"}))
ADDRESS = "北京市东城区测试路1号"


def book(engine: Engine, tmp_path: Path) -> None:
    """L1–L3 fall due on 15 Feb (L3 without a postal address); R1, R2 on 19 Feb (R1 has
    an e-mail address); H1 falls due on 15 Feb but its customer is on hold."""
    init_book(engine, date(2026, 1, 19))
    rows = [loan_row(i, disbursed_on=START, address=ADDRESS) for i in ("L1", "L2", "H1")]
    rows.append(loan_row("L3", disbursed_on=START))  # no postal address
    rows += [loan_row(i, disbursed_on=date(2026, 1, 19)) for i in ("R1", "R2")]
    rows[1]["principal"] = "30000.00"
    add_loans(engine, tmp_path, rows)
    with transaction(engine) as s:
        customer = s.get(Customer, "C-R1")
        assert customer is not None
        customer.email = "r1@example.cn"
        place_hold(s, customer_id="C-H1", kind="dispute", reason="disputes", actor=OFFICER)


def fmt(value: Decimal) -> str:
    return f"{value:,.2f}"


def unpaid(engine: Engine, loan_id: str, **where: Any) -> dict[str, Decimal]:
    """Unpaid amount by component of a loan's installments matching ``where``."""
    out = dict.fromkeys(("principal", "interest", "fee", "penalty", "compound"), Decimal(0))
    with transaction(engine) as s:
        q = select(Installment).where(Installment.loan_id == loan_id)
        for key, value in where.items():
            q = q.where(getattr(Installment, key) == value)
        for row in s.scalars(q):
            for c in out:
                out[c] += getattr(row, f"{c}_due") - getattr(row, f"{c}_paid")
    return out


def messages(engine: Engine) -> list[OutboxMessage]:
    with transaction(engine) as s:
        rows = list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.loan_id)))
        for r in rows:
            s.expunge(r)
        return rows


def statuses(engine: Engine, d: date) -> dict[tuple[str, str], str]:
    with transaction(engine) as s:
        t = CollectionTreatment
        rows = s.execute(
            select(t.loan_id, t.rule_id, t.status).where(
                t.business_date == d, t.action.in_(["sms", "email", "letter"])
            )
        )
        return {(loan, rule): status for loan, rule, status in rows}


def test_t0_sms_and_reminders_are_queued_once_with_their_amounts(
    engine: Engine, tmp_path: Path
) -> None:
    book(engine, tmp_path)
    run_eod(engine, through=DUE)
    report = run_collections(engine, DUE)
    assert report.counts["messages"]["queued"] == 6
    got = {(m.loan_id, m.channel, m.template) for m in messages(engine)}
    assert got == {
        ("L1", "sms", "overdue-t0"),
        ("L2", "sms", "overdue-t0"),
        ("L3", "sms", "overdue-t0"),
        ("R1", "sms", "reminder-due"),
        ("R1", "email", "reminder-due"),
        ("R2", "sms", "reminder-due"),
    }
    st = statuses(engine, DUE)
    assert st[("R2", "due-3-email")] == "skipped-no-address"  # no e-mail on file
    assert {v for (loan, _), v in st.items() if loan == "H1"} == {"skipped-hold"}
    # each queued treatment names its message, keyed by the treatment, sent at its time
    with transaction(engine) as s:
        t = CollectionTreatment
        pairs = s.execute(
            select(t.id, t.planned_at, OutboxMessage.dedupe_key, OutboxMessage.next_attempt_at)
            .join(OutboxMessage, OutboxMessage.id == t.message_id)
            .where(t.status == "queued")
        ).all()
    assert len(pairs) == 6
    assert all(key == f"treatment:{tid}" and at == nxt for tid, at, key, nxt in pairs)
    # the texts, computed here from the installments and the shipped wording
    lender = LenderSettings()
    methods = "、".join(lender.payment_methods)
    by = {(m.loan_id, m.channel): m for m in messages(engine)}
    for loan in ("L1", "L2"):
        left = unpaid(engine, loan, status="due")
        total = sum(left.values(), Decimal(0))
        assert total > 0 and left["principal"] > 0
        assert by[(loan, "sms")].body == (
            f"【{lender.name}】测***您好，您的贷款{loan}于2026-02-15到期的款项尚未还清，"
            f"逾期0天，应还{fmt(total)}元（本金{fmt(left['principal'])}元，"
            f"利息{fmt(left['interest'])}元，罚息及复利{fmt(left['penalty'] + left['compound'])}"
            f"元）。还款方式：{methods}。如有异议：{lender.dispute_channel}"
        )
    coming = unpaid(engine, "R1", due_date=date(2026, 2, 19))
    assert by[("R1", "sms")].body == (
        f"【{lender.name}】测***您好，您的贷款R1将于2026-02-19到期，"
        f"应还{fmt(sum(coming.values(), Decimal(0)))}元，请按时还款。还款方式：{methods}。"
        f"咨询：客服热线 {lender.hotline}"
    )
    assert by[("R1", "email")].subject == "还款提醒：贷款R1将于2026-02-19到期"
    assert f"其中本金{fmt(coming['principal'])}元" in (by[("R1", "email")].body or "")
    # again: the run returns its counts; the step alone finds nothing left to queue
    assert run_collections(engine, DUE).already_run
    with transaction(engine) as s:
        assert queue_messages(s, DUE, load_pack()) == {"queued": 0}
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 6


def test_the_worker_delivers_the_queued_sms(
    engine: Engine,
    tmp_path: Path,
    sms_gateway: SmsGateway,  # noqa: F811
) -> None:
    book(engine, tmp_path)
    run_eod(engine, through=DUE)
    run_collections(engine, DUE)
    settings = settings_for(sms_gateway, tmp_path)
    sms_only = {"sms": build_channels(settings)["sms"]}
    early = Worker(
        engine, settings, channels=sms_only, clock=lambda: datetime(2026, 2, 16, 0, 30, tzinfo=UTC)
    )
    assert early.run_once().as_dict().get("sent", 0) == 0  # planned for 09:00 Shanghai
    worker = Worker(
        engine, settings, channels=sms_only, clock=lambda: datetime(2026, 2, 16, 2, 0, tzinfo=UTC)
    )
    worker.run_once()
    sms = [m for m in messages(engine) if m.channel == "sms"]
    assert len(sms) == 5 and {m.status for m in sms} == {"sent"}
    assert sorted(sms_gateway.posts) == sorted(m.id for m in sms)
    texts = {b["text"] for b in sms_gateway.bodies}
    assert texts == {m.body for m in sms}


def test_letters_become_letter_messages_with_the_penalty(engine: Engine, tmp_path: Path) -> None:
    book(engine, tmp_path)
    d = DUE + timedelta(days=30)  # T+30: the junior letter (overdue-notice)
    run_eod(engine, through=d)
    run_collections(engine, d)
    letters = [m for m in messages(engine) if m.channel == "letter"]
    assert {m.loan_id for m in letters} == {"L1", "L2"}  # R1, R2 are at T+26
    st = statuses(engine, d)
    assert st[("L3", "junior-letter")] == "skipped-no-address"
    assert {v for (loan, _), v in st.items() if loan == "H1"} == {"skipped-hold"}
    l2 = next(m for m in letters if m.loan_id == "L2")
    left = unpaid(engine, "L2", status="due")
    assert left["penalty"] > 0
    assert l2.template == "overdue-notice" and l2.variables["dpd"] == 30
    assert Decimal(l2.variables["penalty"]) == left["penalty"] + left["compound"]
    assert Decimal(l2.variables["amount"]) == sum(left.values(), Decimal(0))
    assert l2.variables["due_date"] == "2026-02-15"
    assert "罚息" in l2.variables["penalty_detail"]


def test_seeding_is_idempotent_and_leaves_a_banks_own_template(engine: Engine) -> None:
    with transaction(engine) as s:
        first = seed_templates(s)
        assert sorted(first) == sorted(t.key for t in default_templates())
        assert seed_templates(s, actor=INSTALLER) == []
        active = s.scalar(
            select(func.count())
            .select_from(MessageTemplate)
            .where(MessageTemplate.status == "active")
        )
        assert active == len(first)


def test_init_installs_the_templates_and_seed_adds_nothing_more(db_url: str) -> None:
    runner = CliRunner()
    init = runner.invoke(app, ["init", "--db", db_url, "--business-date", "2026-01-19"])
    assert init.exit_code == 0, init.output
    said = " ".join(init.output.split())  # Rich wraps long lines
    assert f"{len(default_templates())} default message templates activated" in said
    seed = runner.invoke(app, ["template", "seed", "--db", db_url])
    assert seed.exit_code == 0, seed.output
    assert "0 default templates installed" in seed.output
    engine = make_engine(db_url)
    try:
        with transaction(engine) as s:
            rows = s.execute(
                select(MessageTemplate.purpose, MessageTemplate.previewed_by).where(
                    MessageTemplate.status == "active"
                )
            ).all()
    finally:
        engine.dispose()
    assert {name for name, _ in rows} == {"reminder-first-due", "reminder-due", "overdue-t0"}
    assert {by for _, by in rows} == {INSTALLER.user_id}
