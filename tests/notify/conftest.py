"""Fixtures for notification tests: a small book, active templates, an SMS gateway and
an SMTP server started by the test."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from daihou.auth.actor import Actor
from daihou.db.engine import transaction
from daihou.loans.models import Customer
from daihou.notify.settings import NotifySettings
from daihou.notify.templates import activate, add_template, preview_template

OFFICER = Actor(user_id="co-1", roles=frozenset({"compliance-officer"}), display="officer")
SMS_ZH = (
    "{{ name }}您好，您的贷款{{ loan_id }}已逾期{{ dpd }}天，应还{{ amount | money }}元。"
    "咨询：{{ contact_channel }}"
)
EMAIL_ZH = (
    "{{ name }}您好：\n您的贷款{{ loan_id }}应还{{ amount | money }}元，到期日{{ due_date }}。"
    "\n异议请联系：{{ dispute_channel }}"
)


def make_template(
    engine: Engine, *, channel: str, name: str, body: str, subject: str | None = None
) -> int:
    with transaction(engine) as s:
        t = add_template(
            s,
            channel=channel,
            language="zh-CN",
            name=name,
            body=body,
            subject=subject,
            actor=OFFICER,
        )
        preview_template(s, t.id, actor=OFFICER)
        activate(s, t.id, actor=OFFICER)
        return t.id


def add_customers(engine: Engine, n: int, *, prefix: str = "C", email: bool = True) -> list[str]:
    ids = []
    with transaction(engine) as s:
        for i in range(n):
            cid = f"{prefix}{i:05d}"
            s.add(
                Customer(
                    id=cid,
                    name="王小明",
                    id_number="110101199001011234",
                    phone=f"139{i:08d}",
                    email=f"{cid.lower()}@example.cn" if email else None,
                    address="北京市东城区测试路1号",
                )
            )
            ids.append(cid)
    return ids


VARS = {
    "name": "王*",
    "loan_id": "L1",
    "dpd": 3,
    "amount": "1234.5",
    "due_date": date(2026, 3, 15),
    "contact_channel": "95500",
    "dispute_channel": "95500",
}


@dataclass
class SmsGateway:
    """A JSON SMS gateway: counts POSTs per idempotency key, answers status queries,
    fails on demand."""

    server: ThreadingHTTPServer
    posts: Counter[str] = field(default_factory=Counter)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    known: dict[str, str] = field(default_factory=dict)
    fail_next: int = 0
    fail_status: int = 503
    reject_numbers: set[str] = field(default_factory=set)
    signatures: list[str | None] = field(default_factory=list)
    delay: float = 0.0  # seconds each accepted POST takes
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"


@pytest.fixture
def sms_gateway() -> Iterator[SmsGateway]:
    gateway: SmsGateway

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as two writes

        def _reply(self, status: int, data: dict[str, Any]) -> None:
            payload = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            key = self.headers["Idempotency-Key"]
            with gateway.lock:
                gateway.posts[key] += 1
                gateway.bodies.append(body)
                gateway.signatures.append(self.headers.get("X-Signature"))
                if gateway.fail_next > 0:
                    gateway.fail_next -= 1
                    self._reply(gateway.fail_status, {"error": "busy"})
                    return
                if body["to"] in gateway.reject_numbers:
                    self._reply(400, {"error": "invalid number"})
                    return
                pid = gateway.known.setdefault(key, f"P{len(gateway.known) + 1}")
            if gateway.delay:
                time.sleep(gateway.delay)
            self._reply(200, {"message_id": pid})

        def do_GET(self) -> None:
            key = self.path.rsplit("/", 1)[-1]
            with gateway.lock:
                pid = gateway.known.get(key)
            if pid is None:
                self._reply(404, {})
            else:
                self._reply(200, {"message_id": pid})

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.handle_error = lambda request, address: None  # type: ignore[method-assign]
    gateway = SmsGateway(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield gateway
    server.shutdown()
    server.server_close()


def settings_for(gateway: SmsGateway | None, tmp_path: Path, **extra: Any) -> NotifySettings:
    data: dict[str, Any] = {
        "letters_dir": str(tmp_path / "letters"),
        "retry": {"base_seconds": 60, "max_attempts": 3},
        "concurrency": 2,
    }
    if gateway is not None:
        data["sms"] = {
            "url": f"{gateway.url}/sms",
            "status_url": f"{gateway.url}/status/{{key}}",
            "secret": "s3cret",
        }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return NotifySettings.model_validate(data)
