"""E-mail over SMTP (``smtplib``): plain, STARTTLS or implicit TLS, with optional login.

The message id goes into the ``Message-ID`` header (``<id@domain>``) so a mail can be
traced and receivers can recognise a resend; SMTP itself has no idempotency, so
``lookup`` cannot answer (see ``NotifySettings.email_unknown_outcome``).
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from daihou.notify.channels.base import Accepted, DeliveryError, NoIdempotency, Outgoing
from daihou.notify.settings import SmtpSettings


class SmtpChannel:
    name = "email"

    def __init__(self, settings: SmtpSettings, *, context: ssl.SSLContext | None = None) -> None:
        self.settings = settings
        self.context = context or ssl.create_default_context()

    def build(self, message: Outgoing) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.settings.sender
        mail["To"] = message.to
        mail["Subject"] = message.subject or ""
        mail["Date"] = formatdate(localtime=False, usegmt=True)
        mail["Message-ID"] = f"<{message.message_id}@{self.settings.message_id_domain}>"
        mail.set_content(message.body, charset="utf-8")
        return mail

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.security == "tls":
            return smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_seconds, context=self.context)
        client = smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
        if s.security == "starttls":
            client.starttls(context=self.context)
        return client

    def send(self, message: Outgoing) -> Accepted:
        mail = self.build(message)
        try:
            with self._connect() as client:
                if self.settings.username:
                    client.login(self.settings.username, self.settings.password or "")
                refused = client.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"recipient refused: {exc.recipients}", permanent=True) from None
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"SMTP login failed: {exc.smtp_code}") from None
        except smtplib.SMTPResponseException as exc:
            raw = exc.smtp_error
            text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw or "")
            permanent = 500 <= exc.smtp_code < 600
            raise DeliveryError(f"SMTP {exc.smtp_code} {text}", permanent=permanent) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP: {exc}") from None
        if refused:
            raise DeliveryError(f"recipient refused: {sorted(refused)}", permanent=True)
        return Accepted(provider_message_id=str(mail["Message-ID"]))

    def lookup(self, message_id: str) -> Accepted | None:
        raise NoIdempotency("SMTP has no idempotency key to ask about")
