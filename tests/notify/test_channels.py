"""Channels and settings without a database: SMTP with STARTTLS and login against a
real aiosmtpd server, the receipt ASGI app, settings from a file and the environment."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from daihou.notify.channels.base import DeliveryError, Outgoing
from daihou.notify.channels.smtp import SmtpChannel
from daihou.notify.settings import SettingsError, SmtpSettings, load_settings


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class Inbox:
    def __init__(self) -> None:
        self.mails: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append(envelope.content)
        return "250 OK"


def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"daihou", b"pw")
    return AuthResult(success=ok)


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[Inbox, int, Path]]:
    cert, key = self_signed(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(
        inbox,
        hostname="localhost",
        port=port,
        tls_context=server_context,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    )
    controller.start()
    yield inbox, port, cert
    controller.stop()


def test_starttls_and_login(tls_server: tuple[Inbox, int, Path]) -> None:
    inbox, port, cert = tls_server
    client_context = ssl.create_default_context(cafile=str(cert))
    settings = SmtpSettings(
        host="localhost", port=port, security="starttls", username="daihou", password="pw"
    )
    mail = Outgoing(message_id="m" * 32, to="a@example.cn", body="您好", subject="提醒")
    accepted = SmtpChannel(settings, context=client_context).send(mail)
    assert accepted.provider_message_id == f"<{'m' * 32}@daihou.local>"
    assert len(inbox.mails) == 1
    plain = settings.model_copy(update={"security": "none"})
    with pytest.raises(DeliveryError):  # the server requires STARTTLS first
        SmtpChannel(plain, context=client_context).send(mail)
    assert len(inbox.mails) == 1


def test_receipt_asgi_app_refuses_unsigned(tmp_path: Path) -> None:
    from sqlalchemy import create_engine

    from daihou.notify.receipts import asgi_app
    from daihou.notify.settings import NotifySettings

    settings = NotifySettings.model_validate({"sms": {"secret": "s"}})
    app = asgi_app(create_engine("sqlite://"), settings)  # refused before any query
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b'{"status": "DELIVERED"}'}

    async def send(event: dict[str, Any]) -> None:
        sent.append(event)

    scope = {"type": "http", "method": "POST", "headers": [(b"x-signature", b"bad")]}
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 401
    assert json.loads(sent[1]["body"])["detail"] == "bad or missing signature"


def test_settings_from_file_and_environment(tmp_path: Path) -> None:
    config = tmp_path / "notify.yaml"
    config.write_text("smtp:\n  host: mail.example.cn\n  port: 587\nretry:\n  max_attempts: 9\n")
    settings = load_settings(
        config,
        env={
            "DAIHOU_NOTIFY__SMTP__SECURITY": "starttls",
            "DAIHOU_NOTIFY__SMS__URL": "http://gw/send",
            "DAIHOU_NOTIFY__SMS__FIELDS": '{"to": "mobile", "text": "content"}',
            "DAIHOU_NOTIFY__RETRY__BASE_SECONDS": "30",
        },
    )
    assert (settings.smtp.host, settings.smtp.port, settings.smtp.security) == (
        "mail.example.cn",
        587,
        "starttls",
    )
    assert settings.sms.fields == {"to": "mobile", "text": "content"}
    assert settings.retry.max_attempts == 9
    assert [settings.retry.delay(n) for n in (1, 2, 3)] == [30.0, 60.0, 120.0]
    with pytest.raises(SettingsError, match=r"smtp\.port"):
        load_settings(env={"DAIHOU_NOTIFY__SMTP__PORT": "0"})
    with pytest.raises(SettingsError, match="timezone"):
        load_settings(env={"DAIHOU_NOTIFY__TIMEZONE": "Mars/Olympus"})
