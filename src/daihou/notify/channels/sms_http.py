"""A configurable JSON-over-HTTP SMS gateway adapter.

POST ``url`` with a JSON body built from ``SmsSettings.fields`` (our ``to``, ``text``
and ``id`` → the gateway's keys) plus ``static`` keys; headers carry the idempotency
key (the message id) and, when a secret is set, an HMAC-SHA256 signature of the body.
A different signature scheme plugs in as ``signer(body, headers)``. The provider's
message id is read from the answer at the dotted path ``response_id``.

HTTP 2xx: accepted. 408, 425, 429, 5xx, timeouts and connection errors: temporary
(retried). Other 4xx: permanent. Connections are kept alive, one per thread.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from daihou.notify.channels.base import Accepted, DeliveryError, Outgoing
from daihou.notify.settings import SmsSettings

Signer = Callable[[bytes, dict[str, str]], None]
TEMPORARY = {408, 425, 429}


def sign(secret: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``body``: the default signature (also of receipts)."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def dig(data: Any, path: str) -> Any:
    """``dig({"a": {"b": 1}}, "a.b")`` → 1; None when a step is missing."""
    for part in path.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


class SmsHttpChannel:
    name = "sms"

    def __init__(self, settings: SmsSettings, *, signer: Signer | None = None) -> None:
        if not settings.url:
            raise ValueError("the SMS gateway URL is not configured (sms.url)")
        self.settings = settings
        self.signer = signer
        self._local = threading.local()

    # --- HTTP plumbing -------------------------------------------------------------

    def _connection(self, url: str) -> tuple[http.client.HTTPConnection, str, bool]:
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        pool: dict[tuple[str, str], http.client.HTTPConnection] = getattr(self._local, "pool", {})
        self._local.pool = pool
        reused = key in pool
        if not reused:
            cls = (
                http.client.HTTPSConnection
                if parts.scheme == "https"
                else http.client.HTTPConnection
            )
            pool[key] = cls(parts.netloc, timeout=self.settings.timeout_seconds)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        return pool[key], target, reused

    def _drop(self, url: str) -> None:
        parts = urlsplit(url)
        pool = getattr(self._local, "pool", {})
        conn = pool.pop((parts.scheme, parts.netloc), None)
        if conn is not None:
            conn.close()

    def _request(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        for _ in range(2):
            conn, target, reused = self._connection(url)
            try:
                conn.request(method, target, body=body, headers=headers)
                response = conn.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # A kept-alive connection the server had closed: nothing was processed.
                self._drop(url)
                if not reused:
                    raise
            except Exception:
                self._drop(url)
                raise
        raise ConnectionError("unreachable")  # pragma: no cover - loop always returns

    def _headers(self, message_id: str, body: bytes) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Accept": "application/json",
            self.settings.idempotency_header: message_id,
        }
        if self.settings.secret:
            headers[self.settings.signature_header] = sign(self.settings.secret, body)
        if self.signer is not None:
            self.signer(body, headers)
        return headers

    # --- the channel ---------------------------------------------------------------

    def payload(self, message: Outgoing) -> dict[str, Any]:
        fields = self.settings.fields
        data: dict[str, Any] = dict(self.settings.static)
        data[fields.get("to", "to")] = message.to
        data[fields.get("text", "text")] = message.body
        data[fields.get("id", "client_ref")] = message.message_id
        return data

    def send(self, message: Outgoing) -> Accepted:
        assert self.settings.url
        body = json.dumps(self.payload(message), ensure_ascii=False).encode()
        try:
            status, answer = self._request(
                "POST", self.settings.url, body, self._headers(message.message_id, body)
            )
        except (OSError, http.client.HTTPException) as exc:
            raise DeliveryError(f"SMS gateway unreachable: {exc}") from None
        if 200 <= status < 300:
            return Accepted(provider_message_id=self._provider_id(answer))
        text = answer[:200].decode(errors="replace")
        permanent = 400 <= status < 500 and status not in TEMPORARY
        raise DeliveryError(f"SMS gateway answered {status}: {text}", permanent=permanent)

    def _provider_id(self, answer: bytes) -> str | None:
        try:
            value = dig(json.loads(answer or b"{}"), self.settings.response_id)
        except ValueError:
            return None
        return None if value is None else str(value)

    def lookup(self, message_id: str) -> Accepted | None:
        """Ask ``status_url`` whether the gateway has the message; without one, None
        (the gateway deduplicates on the idempotency key, so sending again is safe)."""
        if not self.settings.status_url:
            return None
        url = self.settings.status_url.replace("{key}", message_id)
        try:
            status, answer = self._request("GET", url, None, self._headers(message_id, b""))
        except (OSError, http.client.HTTPException) as exc:
            raise DeliveryError(f"SMS gateway unreachable: {exc}") from None
        if status == 404:
            return None
        if not 200 <= status < 300:
            raise DeliveryError(f"SMS status query answered {status}")
        try:
            data = json.loads(answer or b"{}")
        except ValueError:
            raise DeliveryError("SMS status answer is not JSON") from None
        if dig(data, self.settings.status_found) is None:
            return None
        found = dig(data, self.settings.response_id)
        return Accepted(provider_message_id=None if found is None else str(found))
