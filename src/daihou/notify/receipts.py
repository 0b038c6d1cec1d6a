"""Delivery receipts (回执) from the SMS gateway: verify, then update the message.

``handle_receipt(session, body, headers, settings)`` is a plain function the REST API
mounts; ``asgi_app(engine, settings)`` and ``serve(engine, settings)`` (stdlib
``http.server``) wrap it for tests and small deployments. A receipt names the message
by the provider's id or by our id (the idempotency key); ``delivered`` and ``failed``
are final, a receipt for an unknown message is refused (404), a receipt that repeats
or arrives after a final state changes nothing but is still acknowledged.
"""

from __future__ import annotations

import hmac
import json
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from daihou.db.engine import transaction
from daihou.notify.channels.sms_http import dig, sign
from daihou.notify.models import OutboxMessage
from daihou.notify.outbox import add_event, utc_naive
from daihou.notify.settings import NotifySettings


@dataclass(frozen=True)
class ReceiptResult:
    """``status_code`` to answer the gateway with, and what happened."""

    status_code: int
    message_id: str | None
    status: str | None
    detail: str


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def handle_receipt(
    session: Session, *, body: bytes, headers: Mapping[str, str], settings: NotifySettings
) -> ReceiptResult:
    """Apply one receipt in the caller's transaction."""
    sms = settings.sms
    secret = sms.receipt_secret or sms.secret
    if secret:
        given = _header(headers, sms.signature_header) or ""
        if not hmac.compare_digest(given, sign(secret, body)):
            return ReceiptResult(401, None, None, "bad or missing signature")
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return ReceiptResult(400, None, None, "the receipt is not JSON")
    if not isinstance(data, dict):
        return ReceiptResult(400, None, None, "the receipt is not a JSON object")
    raw = dig(data, sms.receipt_status)
    if raw in sms.delivered_values:
        new = "delivered"
    elif raw in sms.failed_values:
        new = "failed"
    else:
        return ReceiptResult(400, None, None, f"unknown receipt status {raw!r}")
    message = _find(session, data, settings)
    if message is None:
        return ReceiptResult(404, None, None, "no such message")
    if message.status in ("delivered", "failed", "cancelled", "dead"):
        return ReceiptResult(200, message.id, message.status, f"already {message.status}")
    if message.status not in ("sent", "sending"):
        return ReceiptResult(409, message.id, message.status, f"message is {message.status}")
    now = utc_naive()
    message.status, message.updated_at = new, now
    message.next_attempt_at = None
    message.attempt_token = message.lease_until = None
    if new == "delivered":
        message.delivered_at = now
    else:
        message.last_error = f"receipt: {raw}"
    provider_id = dig(data, sms.receipt_id)
    if provider_id is not None and message.provider_message_id is None:
        message.provider_message_id = str(provider_id)
    add_event(session, message.id, new, attempt=message.attempts, detail=f"receipt: {raw}")
    session.flush()
    return ReceiptResult(200, message.id, new, "updated")


def _find(session: Session, data: dict[str, Any], settings: NotifySettings) -> OutboxMessage | None:
    key = dig(data, settings.sms.receipt_key)
    if key is not None:
        found = session.get(OutboxMessage, str(key))
        if found is not None:
            return found
    provider_id = dig(data, settings.sms.receipt_id)
    if provider_id is None:
        return None
    return session.scalars(
        select(OutboxMessage).where(OutboxMessage.provider_message_id == str(provider_id))
    ).first()


def receive(
    engine: Engine, settings: NotifySettings, body: bytes, headers: Mapping[str, str]
) -> ReceiptResult:
    """One receipt in its own transaction."""
    with transaction(engine) as session:
        return handle_receipt(session, body=body, headers=headers, settings=settings)


def _answer(result: ReceiptResult) -> bytes:
    return json.dumps(
        {"message_id": result.message_id, "status": result.status, "detail": result.detail}
    ).encode()


Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def asgi_app(engine: Engine, settings: NotifySettings) -> Callable[..., Awaitable[None]]:
    """A minimal ASGI app: ``POST`` any path with a receipt."""

    async def app(scope: dict[str, Any], receive_: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            event = await receive_()
            body += event.get("body", b"")
            if not event.get("more_body"):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if scope["method"] != "POST":
            result = ReceiptResult(405, None, None, "POST a receipt")
        else:
            result = receive(engine, settings, body, headers)
        payload = _answer(result)
        await send(
            {
                "type": "http.response.start",
                "status": result.status_code,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    return app


def serve(
    engine: Engine, settings: NotifySettings, *, host: str = "127.0.0.1", port: int = 0
) -> ThreadingHTTPServer:
    """A stdlib receipt endpoint in a daemon thread; ``server.server_address`` tells
    the port, ``server.shutdown()`` stops it."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            result = receive(engine, settings, body, dict(self.headers.items()))
            payload = _answer(result)
            self.send_response(result.status_code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
