"""The outbox and the worker against a real database, SMS gateway and SMTP server."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from email import message_from_bytes
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, func, select

from daihou.auth.actor import SYSTEM, Actor
from daihou.collection.models import CollectionCase
from daihou.compliance.gate.holds import place_hold
from daihou.compliance.gate.models import ContactAttempt
from daihou.db.engine import transaction
from daihou.loans.models import Loan
from daihou.notify.channels.sms_http import sign
from daihou.notify.models import MessageEvent, OutboxMessage
from daihou.notify.outbox import cancel, enqueue, retry
from daihou.notify.receipts import serve
from daihou.notify.worker import Worker
from tests.factories import add_loans, init_book, loan_row
from tests.notify.conftest import (
    EMAIL_ZH,
    SMS_ZH,
    VARS,
    SmsGateway,
    add_customers,
    make_template,
    settings_for,
)

# Messages are queued at the wall-clock time; the worker's clock is set after that.
TOMORROW = datetime.now(UTC).date() + timedelta(days=1)
SHANGHAI_10AM = datetime.combine(TOMORROW, time(2, 0), UTC)  # 10:00 in Asia/Shanghai
OPS = Actor(user_id="ops-1", roles=frozenset({"operations"}))


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def queue_sms(engine: Engine, customers: list[str], *, key: str = "k", **extra: Any) -> list[str]:
    ids = []
    with transaction(engine) as s:
        for cid in customers:
            ids.append(
                enqueue(
                    s,
                    customer_id=cid,
                    loan_id=extra.get("loan_id"),
                    case_id=extra.get("case_id"),
                    channel="sms",
                    purpose="collection",
                    template="overdue",
                    language="zh-CN",
                    variables=VARS,
                    dedupe_key=f"{key}-{cid}",
                )
            )
    return ids


def statuses(engine: Engine) -> dict[str, str]:
    with transaction(engine) as s:
        return dict(s.execute(select(OutboxMessage.id, OutboxMessage.status)).tuples().all())


def message(engine: Engine, message_id: str) -> OutboxMessage:
    with transaction(engine) as s:
        m = s.get(OutboxMessage, message_id)
        assert m is not None
        s.expunge(m)
        return m


@pytest.fixture
def sms_engine(engine: Engine) -> Engine:
    make_template(engine, channel="sms", name="overdue", body=SMS_ZH)
    return engine


def test_enqueue_is_deduplicated_and_rendered(sms_engine: Engine) -> None:
    [cid] = add_customers(sms_engine, 1)
    first = queue_sms(sms_engine, [cid])
    again = queue_sms(sms_engine, [cid])
    assert first == again
    m = message(sms_engine, first[0])
    assert m.status == "queued"
    assert m.body.startswith("王*您好，您的贷款L1已逾期3天，应还1,234.50元")
    with transaction(sms_engine) as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 1


def test_enqueue_refuses_missing_template_and_variables(sms_engine: Engine) -> None:
    [cid] = add_customers(sms_engine, 1)
    with (
        pytest.raises(LookupError, match="no active sms template 'nope'"),
        transaction(sms_engine) as s,
    ):
        enqueue(
            s,
            customer_id=cid,
            loan_id=None,
            case_id=None,
            channel="sms",
            purpose="collection",
            template="nope",
            language="zh-CN",
            variables=VARS,
            dedupe_key="x",
        )
    with pytest.raises(ValueError, match="is undefined"), transaction(sms_engine) as s:
        enqueue(
            s,
            customer_id=cid,
            loan_id=None,
            case_id=None,
            channel="sms",
            purpose="collection",
            template="overdue",
            language="zh-CN",
            variables={"name": "王*"},
            dedupe_key="y",
        )
    assert statuses(sms_engine) == {}


def test_sms_sent_once_signed_recorded_and_receipt_delivers(
    sms_engine: Engine, sms_gateway: SmsGateway, tmp_path: Path
) -> None:
    customers = add_customers(sms_engine, 3)
    ids = queue_sms(sms_engine, customers)
    settings = settings_for(sms_gateway, tmp_path)
    stats = Worker(engine=sms_engine, settings=settings, clock=Clock(SHANGHAI_10AM)).run_once()
    assert stats.sent == 3
    assert set(statuses(sms_engine).values()) == {"sent"}
    assert sms_gateway.posts == {i: 1 for i in ids}
    body = next(b for b in sms_gateway.bodies if b["client_ref"] == ids[0])
    assert body["to"] == "13900000000"
    assert "已逾期3天" in body["text"]
    raw = json.dumps(body, ensure_ascii=False).encode()
    assert sms_gateway.signatures[0] is not None and len(sms_gateway.signatures[0]) == 64
    assert sign("s3cret", raw) in sms_gateway.signatures
    with transaction(sms_engine) as s:
        attempts = s.scalars(select(ContactAttempt.outcome)).all()
    assert attempts == ["sent"] * 3
    # a second run sends nothing more
    Worker(engine=sms_engine, settings=settings, clock=Clock(SHANGHAI_10AM)).run_once()
    assert sum(sms_gateway.posts.values()) == 3

    server = serve(sms_engine, settings)
    port = server.server_address[1]

    def post(data: dict[str, Any], secret: str = "s3cret") -> tuple[int, dict[str, Any]]:
        payload = json.dumps(data).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/receipts/sms",
            data=payload,
            headers={"X-Signature": sign(secret, payload), "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    try:
        pid = message(sms_engine, ids[0]).provider_message_id
        assert pid is not None
        assert post({"message_id": pid, "status": "DELIVERED"})[0] == 200
        assert post({"client_ref": ids[1], "status": "FAILED"})[0] == 200
        assert post({"message_id": pid, "status": "DELIVERED"}, secret="wrong")[0] == 401
        assert post({"message_id": "nope", "status": "DELIVERED"})[0] == 404
        assert post({"message_id": pid, "status": "FAILED"}) == (
            200,
            {"message_id": ids[0], "status": "delivered", "detail": "already delivered"},
        )
    finally:
        server.shutdown()
        server.server_close()
    assert statuses(sms_engine) == {ids[0]: "delivered", ids[1]: "failed", ids[2]: "sent"}
    assert message(sms_engine, ids[0]).delivered_at is not None


def test_failures_back_off_then_dead_letter_then_retry(
    sms_engine: Engine, sms_gateway: SmsGateway, tmp_path: Path
) -> None:
    [cid] = add_customers(sms_engine, 1)
    [mid] = queue_sms(sms_engine, [cid])
    settings = settings_for(sms_gateway, tmp_path)
    clock = Clock(SHANGHAI_10AM)
    worker = Worker(engine=sms_engine, settings=settings, clock=clock)
    sms_gateway.fail_next = 100
    worker.run_once()
    m = message(sms_engine, mid)
    assert (m.status, m.attempts) == ("failed", 1)
    assert m.next_attempt_at == SHANGHAI_10AM.replace(tzinfo=None) + timedelta(seconds=60)
    worker.run_once()  # not due yet
    assert sms_gateway.posts[mid] == 1
    clock.at += timedelta(seconds=61)
    worker.run_once()
    m = message(sms_engine, mid)
    assert (m.status, m.attempts) == ("failed", 2)
    assert m.next_attempt_at == clock.at.replace(tzinfo=None) + timedelta(seconds=120)
    clock.at += timedelta(seconds=121)
    worker.run_once()
    m = message(sms_engine, mid)
    assert (m.status, m.attempts, m.next_attempt_at) == ("dead", 3, None)
    assert "503" in (m.last_error or "")
    clock.at += timedelta(hours=1)
    worker.run_once()
    assert sms_gateway.posts[mid] == 3
    with transaction(sms_engine) as s:
        retry(s, mid, actor=OPS, reason="gateway fixed")
    sms_gateway.fail_next = 0
    worker.run_once()
    assert message(sms_engine, mid).status == "sent"
    with transaction(sms_engine) as s:
        history = s.scalars(
            select(MessageEvent.status)
            .where(MessageEvent.message_id == mid)
            .order_by(MessageEvent.id)
        ).all()
    assert history == ["failed", "failed", "dead", "queued", "sent"]


def test_permanent_refusal_is_not_retried(
    sms_engine: Engine, sms_gateway: SmsGateway, tmp_path: Path
) -> None:
    [cid] = add_customers(sms_engine, 1)
    [mid] = queue_sms(sms_engine, [cid])
    sms_gateway.reject_numbers.add("13900000000")
    clock = Clock(SHANGHAI_10AM)
    worker = Worker(engine=sms_engine, settings=settings_for(sms_gateway, tmp_path), clock=clock)
    worker.run_once()
    clock.at += timedelta(days=1)
    worker.run_once()
    m = message(sms_engine, mid)
    assert (m.status, m.next_attempt_at, sms_gateway.posts[mid]) == ("failed", None, 1)
    assert "400" in (m.last_error or "")


def test_night_denial_defers_to_eight_in_the_morning(
    sms_engine: Engine, sms_gateway: SmsGateway, tmp_path: Path
) -> None:
    [cid] = add_customers(sms_engine, 1)
    [mid] = queue_sms(sms_engine, [cid])
    night = datetime.combine(TOMORROW, time(15, 30), UTC)  # 23:30 in Shanghai
    clock = Clock(night)
    worker = Worker(engine=sms_engine, settings=settings_for(sms_gateway, tmp_path), clock=clock)
    stats = worker.run_once()
    assert stats.deferred == 1
    m = message(sms_engine, mid)
    assert m.status == "deferred"
    eight = datetime.combine(TOMORROW + timedelta(days=1), time(0, 0))  # 08:00 in Shanghai
    assert m.next_attempt_at == eight
    assert "quiet-hours" in (m.last_error or "")
    clock.at = datetime.combine(TOMORROW, time(23, 59), UTC)  # 07:59 in Shanghai
    worker.run_once()
    assert sms_gateway.posts[mid] == 0
    clock.at = eight.replace(tzinfo=UTC)
    worker.run_once()
    assert message(sms_engine, mid).status == "sent"
    assert sms_gateway.posts[mid] == 1


def test_hold_cancels_and_cancel_by_hand(
    sms_engine: Engine, sms_gateway: SmsGateway, tmp_path: Path
) -> None:
    held, other = add_customers(sms_engine, 2)
    ids = queue_sms(sms_engine, [held, other])
    with transaction(sms_engine) as s:
        place_hold(s, customer_id=held, kind="complaint", reason="complaint 12", actor=SYSTEM)
        cancel(s, ids[1], actor=OPS, reason="wrong template")
    worker = Worker(
        engine=sms_engine, settings=settings_for(sms_gateway, tmp_path), clock=Clock(SHANGHAI_10AM)
    )
    assert worker.run_once().cancelled == 1
    assert statuses(sms_engine) == {ids[0]: "cancelled", ids[1]: "cancelled"}
    assert "hold" in (message(sms_engine, ids[0]).last_error or "")
    assert sum(sms_gateway.posts.values()) == 0


def test_closed_or_cured_case_cancels(
    sms_engine: Engine, sms_gateway: SmsGateway, tmp_path: Path
) -> None:
    from datetime import date

    init_book(sms_engine, date(2024, 3, 1))
    add_loans(sms_engine, tmp_path, [loan_row("L-A"), loan_row("L-B"), loan_row("L-C")])
    with transaction(sms_engine) as s:
        cases = {}
        for loan_id, status, dpd in (("L-A", "closed", 5), ("L-B", "open", 0), ("L-C", "open", 9)):
            loan = s.get(Loan, loan_id)
            assert loan is not None
            loan.dpd = dpd
            case = CollectionCase(
                loan_id=loan_id,
                customer_id=loan.customer_id,
                status=status,
                opened_on=date(2024, 2, 20),
            )
            s.add(case)
            s.flush()
            cases[loan_id] = (loan.customer_id, case.id)
    ids = {}
    for loan_id, (cid, case_id) in cases.items():
        [ids[loan_id]] = queue_sms(sms_engine, [cid], loan_id=loan_id, case_id=case_id)
    worker = Worker(
        engine=sms_engine, settings=settings_for(sms_gateway, tmp_path), clock=Clock(SHANGHAI_10AM)
    )
    worker.run_once()
    assert statuses(sms_engine) == {
        ids["L-A"]: "cancelled",
        ids["L-B"]: "cancelled",
        ids["L-C"]: "sent",
    }
    assert "closed" in (message(sms_engine, ids["L-A"]).last_error or "")
    assert "cured" in (message(sms_engine, ids["L-B"]).last_error or "")


def test_crash_in_sending_is_resolved_by_asking_the_gateway(
    sms_engine: Engine, sms_gateway: SmsGateway, tmp_path: Path
) -> None:
    customers = add_customers(sms_engine, 2)
    got, lost = queue_sms(sms_engine, customers)
    settings = settings_for(sms_gateway, tmp_path, retry={"lease_seconds": 30})
    clock = Clock(SHANGHAI_10AM)
    worker = Worker(engine=sms_engine, settings=settings, clock=clock)
    from daihou.notify.worker import Stats

    claims = worker.claim(10, Stats())  # claimed and committed, then the worker "dies"
    assert {c.message_id for c in claims} == {got, lost}
    sms_gateway.known[got] = "P-early"  # the gateway had received one of them
    worker.run_once()  # lease not expired: nothing happens
    assert statuses(sms_engine) == {got: "sending", lost: "sending"}
    clock.at += timedelta(seconds=31)
    worker.run_once()
    assert statuses(sms_engine) == {got: "sent", lost: "sent"}
    assert sms_gateway.posts[got] == 0 and sms_gateway.posts[lost] == 1
    assert message(sms_engine, got).provider_message_id == "P-early"


# --------------------------------------------------------------------------- e-mail


class Inbox:
    def __init__(self) -> None:
        self.mails: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def test_email_over_smtp(engine: Engine, smtp_server: tuple[Inbox, int], tmp_path: Path) -> None:
    inbox, port = smtp_server
    make_template(
        engine, channel="email", name="reminder", body=EMAIL_ZH, subject="还款提醒 {{ loan_id }}"
    )
    customers = add_customers(engine, 2)
    add_customers(engine, 1, prefix="N", email=False)
    ids = []
    with transaction(engine) as s:
        for cid in [*customers, "N00000"]:
            ids.append(
                enqueue(
                    s,
                    customer_id=cid,
                    loan_id=None,
                    case_id=None,
                    channel="email",
                    purpose="reminder",
                    template="reminder",
                    language="zh-CN",
                    variables=VARS,
                    dedupe_key=f"mail-{cid}",
                )
            )
    settings = settings_for(None, tmp_path, smtp={"host": "127.0.0.1", "port": port})
    stats = Worker(engine=engine, settings=settings, clock=Clock(SHANGHAI_10AM)).run_once()
    assert (stats.sent, stats.failed) == (2, 1)
    assert len(inbox.mails) == 2
    _, mail = next(m for m in inbox.mails if m[0] == ["c00000@example.cn"])
    assert mail["Message-ID"] == f"<{ids[0]}@daihou.local>"
    assert str(make_header(decode_header(mail["Subject"]))) == "还款提醒 L1"
    text = mail.get_payload(decode=True).decode("utf-8")
    assert "应还1,234.50元" in text and "到期日2026-03-15" in text
    assert statuses(engine)[ids[2]] == "failed"
    assert "e-mail address" in (message(engine, ids[2]).last_error or "")


def test_email_found_sending_after_crash_is_held_not_resent(
    engine: Engine, smtp_server: tuple[Inbox, int], tmp_path: Path
) -> None:
    inbox, port = smtp_server
    make_template(engine, channel="email", name="reminder", body=EMAIL_ZH, subject="提醒")
    [cid] = add_customers(engine, 1)
    with transaction(engine) as s:
        mid = enqueue(
            s,
            customer_id=cid,
            loan_id=None,
            case_id=None,
            channel="email",
            purpose="reminder",
            template="reminder",
            language="zh-CN",
            variables=VARS,
            dedupe_key="m1",
        )
    settings = settings_for(
        None, tmp_path, smtp={"host": "127.0.0.1", "port": port}, retry={"lease_seconds": 0}
    )
    worker = Worker(engine=engine, settings=settings, clock=Clock(SHANGHAI_10AM))
    from daihou.notify.worker import Stats

    worker.claim(10, Stats())
    worker.run_once()
    m = message(engine, mid)
    assert (m.status, m.next_attempt_at) == ("failed", None)
    assert "not sent again" in (m.last_error or "")
    assert inbox.mails == []


def test_a_worker_without_an_sms_gateway_leaves_sms_queued(
    sms_engine: Engine, tmp_path: Path
) -> None:
    [cid] = add_customers(sms_engine, 1)
    [mid] = queue_sms(sms_engine, [cid])
    worker = Worker(
        engine=sms_engine, settings=settings_for(None, tmp_path), clock=Clock(SHANGHAI_10AM)
    )
    assert worker.run_once().claimed == 0
    assert statuses(sms_engine) == {mid: "queued"}
    with transaction(sms_engine) as s:
        assert s.scalar(select(func.count()).select_from(ContactAttempt)) == 0
