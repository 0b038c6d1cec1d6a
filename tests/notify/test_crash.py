"""A worker killed with SIGKILL mid-batch and restarted delivers each message once,
counted at the SMS gateway; two workers at once never send a message twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, func, select

from daihou.db.engine import transaction
from daihou.notify.models import OutboxMessage
from daihou.notify.worker import Worker
from tests.notify.conftest import SMS_ZH, SmsGateway, add_customers, make_template, settings_for
from tests.notify.test_worker import SHANGHAI_10AM, Clock, queue_sms, statuses

SRC = Path(__file__).resolve().parents[2] / "src"


def daytime_zone() -> str:
    """A fixed-offset zone where it is now about noon, so quiet hours never apply."""
    offset = (12 - datetime.now(UTC).hour + 12) % 24 - 12  # -12 .. +11 hours
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


def start_worker(db_url: str, gateway: SmsGateway, *, once: bool) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        {
            "PYTHONPATH": f"{SRC}{os.pathsep}{env.get('PYTHONPATH', '')}",
            "DAIHOU_NOTIFY__SMS__URL": f"{gateway.url}/sms",
            "DAIHOU_NOTIFY__SMS__STATUS_URL": f"{gateway.url}/status/{{key}}",
            "DAIHOU_NOTIFY__TIMEZONE": daytime_zone(),
            "DAIHOU_NOTIFY__RETRY__LEASE_SECONDS": "0",
            "DAIHOU_NOTIFY__CONCURRENCY": "2",
        }
    )
    command = [sys.executable, "-c", "from daihou.cli import main; main()", "worker"]
    command += ["--batch", "20", "--db", db_url] + (["--once"] if once else [])
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_killed_worker_restarted_sends_each_message_once(
    engine: Engine, db_url: str, sms_gateway: SmsGateway
) -> None:
    make_template(engine, channel="sms", name="overdue", body=SMS_ZH)
    customers = add_customers(engine, 150)
    ids = queue_sms(engine, customers)
    sms_gateway.delay = 0.02
    first = start_worker(db_url, sms_gateway, once=False)
    deadline = time.monotonic() + 60
    while sum(sms_gateway.posts.values()) < 45:  # mid-way through the third batch
        assert first.poll() is None, first.stderr.read() if first.stderr else ""
        assert time.monotonic() < deadline, "the worker sent nothing"
        time.sleep(0.005)
    first.send_signal(signal.SIGKILL)
    first.wait()
    before = statuses(engine)
    assert "sending" in before.values()  # killed between handing over and recording
    assert "queued" in before.values()
    sms_gateway.delay = 0.0
    second = start_worker(db_url, sms_gateway, once=True)
    _, err = second.communicate(timeout=120)
    assert second.returncode == 0, err.decode()
    assert set(statuses(engine).values()) == {"sent"}
    assert dict(sms_gateway.posts) == {i: 1 for i in ids}
    with transaction(engine) as s:
        stored = dict(
            s.execute(select(OutboxMessage.id, OutboxMessage.provider_message_id)).tuples().all()
        )
    assert stored == {i: sms_gateway.known[i] for i in ids}


def test_two_workers_at_once_send_each_message_once(
    engine: Engine, sms_gateway: SmsGateway, tmp_path: Path
) -> None:
    make_template(engine, channel="sms", name="overdue", body=SMS_ZH)
    ids = queue_sms(engine, add_customers(engine, 120))
    settings = settings_for(sms_gateway, tmp_path, batch_size=10)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            Worker(engine=engine, settings=settings, clock=Clock(SHANGHAI_10AM)).run_once()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert dict(sms_gateway.posts) == {i: 1 for i in ids}
    with transaction(engine) as s:
        sent = s.scalar(
            select(func.count()).where(OutboxMessage.status == "sent").select_from(OutboxMessage)
        )
    assert sent == len(ids)
