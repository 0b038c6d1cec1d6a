"""Settings of the notifications worker: SMTP, the SMS gateway, retries, letters.

Loaded from a YAML (or JSON) file named by ``DAIHOU_NOTIFY_CONFIG`` (or ``--config``),
then overridden by environment variables ``DAIHOU_NOTIFY__<SECTION>__<FIELD>`` (double
underscores separate levels, names case-insensitive), e.g.
``DAIHOU_NOTIFY__SMTP__HOST=mail.example.cn``, ``DAIHOU_NOTIFY__SMS__SECRET=...``,
``DAIHOU_NOTIFY__RETRY__MAX_ATTEMPTS=8``. Secrets belong in the environment.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from daihou.yaml_packs import load_yaml

ENV_PREFIX = "DAIHOU_NOTIFY__"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SmtpSettings(_Strict):
    """E-mail over SMTP. ``security``: ``none`` (plain, e.g. a local relay),
    ``starttls`` (upgrade on port 587) or ``tls`` (implicit TLS, port 465)."""

    host: str = "localhost"
    port: int = Field(default=25, gt=0, lt=65536)
    security: Literal["none", "starttls", "tls"] = "none"
    username: str | None = None
    password: str | None = None
    sender: str = "daihou@localhost"  # From:
    message_id_domain: str = "daihou.local"  # Message-ID: <message id@domain>
    timeout_seconds: float = Field(default=30.0, gt=0)


class SmsSettings(_Strict):
    """A JSON-over-HTTP SMS gateway (``daihou.notify.channels.sms_http``).

    ``fields`` maps our names (``to``, ``text``, ``id``) to the gateway's JSON keys;
    ``static`` adds fixed keys (account, sign name). ``response_id`` is the dotted path
    of the provider's message id in the answer. ``status_url`` (``{key}`` replaced by
    the idempotency key) answers whether the gateway already has a message: the
    worker asks it about a message it found in ``sending`` after a crash.
    """

    url: str | None = None
    status_url: str | None = None
    secret: str | None = None  # HMAC-SHA256 of the body, hex, in signature_header
    signature_header: str = "X-Signature"
    idempotency_header: str = "Idempotency-Key"
    fields: dict[str, str] = Field(
        default_factory=lambda: {"to": "to", "text": "text", "id": "client_ref"}
    )
    static: dict[str, str] = Field(default_factory=dict)
    response_id: str = "message_id"
    status_found: str = "message_id"  # a status answer with this path means "known"
    timeout_seconds: float = Field(default=10.0, gt=0)
    # delivery receipts (webhook)
    receipt_secret: str | None = None  # defaults to ``secret``
    receipt_id: str = "message_id"  # provider message id in the receipt
    receipt_key: str = "client_ref"  # or our message id
    receipt_status: str = "status"
    delivered_values: list[str] = Field(default_factory=lambda: ["DELIVERED", "delivered"])
    failed_values: list[str] = Field(
        default_factory=lambda: ["FAILED", "failed", "UNDELIVERABLE", "REJECTED", "EXPIRED"]
    )


class RetrySettings(_Strict):
    """Exponential backoff: attempt n waits ``base × factor^(n-1)`` seconds, at most
    ``max_seconds``; after ``max_attempts`` failed attempts a message is dead."""

    max_attempts: int = Field(default=5, ge=1)
    base_seconds: float = Field(default=60.0, ge=0)
    factor: float = Field(default=2.0, ge=1)
    max_seconds: float = Field(default=6 * 3600.0, ge=0)
    lease_seconds: float = Field(default=300.0, ge=0)  # a "sending" claim older is stale

    def delay(self, attempt: int) -> float:
        return float(min(self.max_seconds, self.base_seconds * self.factor ** max(0, attempt - 1)))


class LenderSettings(_Strict):
    """What templates and letters say about the lender (variables and letterhead)."""

    name: str = "示例银行股份有限公司"
    name_en: str = "Example Bank Co., Ltd."
    hotline: str = "95500"  # contact channel
    dispute_channel: str = "客服热线 95500 或 网点柜台 / hotline 95500 or any branch"
    payment_methods: list[str] = Field(
        default_factory=lambda: ["手机银行 / mobile banking", "网点柜台 / branch counter"]
    )
    address: str = ""


class NotifySettings(_Strict):
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    sms: SmsSettings = Field(default_factory=SmsSettings)
    retry: RetrySettings = Field(default_factory=RetrySettings)
    lender: LenderSettings = Field(default_factory=LenderSettings)
    letters_dir: Path = Path("letters")
    timezone: str = "Asia/Shanghai"  # borrowers' time zone for the contact gate
    batch_size: int = Field(default=200, ge=1)
    concurrency: int = Field(default=4, ge=1)  # sends in flight per worker
    poll_seconds: float = Field(default=5.0, gt=0)
    # A mail found in "sending" after a crash: "hold" marks it failed for a person to
    # check and retry (at most once); "resend" sends it again with the same Message-ID
    # (at least once; receivers may show a duplicate).
    email_unknown_outcome: Literal["hold", "resend"] = "hold"

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


class SettingsError(ValueError):
    """Settings that do not validate; the message names each bad field."""


def _env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for name, value in env.items():
        if not name.upper().startswith(ENV_PREFIX):
            continue
        path = [p.lower() for p in name[len(ENV_PREFIX) :].split("__") if p]
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        if path:
            text = value.strip()
            node[path[-1]] = json.loads(text) if text[:1] in "[{" else value
    return tree


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_settings(
    path: str | Path | None = None, *, env: Mapping[str, str] | None = None
) -> NotifySettings:
    """File (``path`` or ``$DAIHOU_NOTIFY_CONFIG``), then environment overrides."""
    env = os.environ if env is None else env
    source = path or env.get("DAIHOU_NOTIFY_CONFIG")
    data: dict[str, Any] = {}
    if source:
        file = Path(source)
        if not file.is_file():
            raise SettingsError(f"notify config {file} does not exist")
        loaded = load_yaml(file.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise SettingsError(f"notify config {file} must be a mapping")
        data = loaded
    data = _merge(data, _env_overrides(env))
    try:
        return NotifySettings.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise SettingsError(f"notify settings are invalid: {problems}") from None
