"""What a delivery channel is: send one message, and (where the provider can) say
whether it already has a message with a given idempotency key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message as handed to a provider. ``message_id`` is the idempotency key."""

    message_id: str
    to: str
    body: str
    subject: str | None = None


@dataclass(frozen=True, slots=True)
class Accepted:
    """The provider took the message; its own id when it gave one."""

    provider_message_id: str | None = None


class DeliveryError(Exception):
    """A send that did not go through. ``permanent``: retrying cannot help (a refused
    address, a rejected request); otherwise the worker retries with backoff."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class NoIdempotency(Exception):
    """The channel cannot tell whether an earlier send went through (SMTP)."""


class Channel(Protocol):
    name: str

    def send(self, message: Outgoing) -> Accepted:
        """Hand the message over; raise ``DeliveryError`` when it was not accepted."""
        ...

    def lookup(self, message_id: str) -> Accepted | None:
        """``Accepted`` when the provider already has the message with this idempotency
        key, None when it has not; ``NoIdempotency`` when the channel cannot tell,
        ``DeliveryError`` when the provider cannot be asked now."""
        ...
