"""The demo's message delivery: the real outbox worker, with a local sink for SMS and
e-mail standing in for the SMS gateway and the mail server (letters become PDFs)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from daihou.db.engine import transaction
from daihou.demo.simulate import SimContext
from daihou.notify.channels.base import Accepted, DeliveryError, Outgoing
from daihou.notify.models import OutboxMessage
from daihou.notify.settings import NotifySettings
from daihou.notify.worker import Claim, Worker

DELIVERED = ("sent", "delivered")


class LocalSink:
    """Takes every message (a gateway that never fails) and remembers what it took."""

    name = "sink"

    def __init__(self) -> None:
        self.taken: dict[str, Outgoing] = {}
        self._fresh: list[str] = []  # taken since the last ``drain``
        self._lock = threading.Lock()

    def send(self, message: Outgoing) -> Accepted:
        with self._lock:
            self.taken[message.message_id] = message
            self._fresh.append(message.message_id)
        return Accepted(provider_message_id=f"sink-{message.message_id}")

    def drain(self) -> set[str]:
        """The ids taken since the last call (the day's, not the whole run's)."""
        with self._lock:
            fresh, self._fresh = set(self._fresh), []
        return fresh

    def lookup(self, message_id: str) -> Accepted | None:
        with self._lock:
            found = message_id in self.taken
        return Accepted(provider_message_id=f"sink-{message_id}") if found else None


@dataclass
class DemoWorker(Worker):
    """The real worker, which also notes the letters it produced (the sink notes the
    SMS and e-mails): the day's deliveries are then read by id, not found among every
    message ever sent."""

    letters: list[str] = field(default_factory=list)

    def _letter(self, claim: Claim) -> Accepted | DeliveryError:
        result = super()._letter(claim)
        if isinstance(result, Accepted):
            self.letters.append(claim.message_id)  # one append: safe across the senders
        return result


class DemoPost:
    """One sink and one worker configuration for the whole simulation; letters are
    written to ``letters_dir`` (the demo's own folder: see ``run.letters_dir_of``)."""

    def __init__(self, letters_dir: Path, zone: str = "Asia/Shanghai") -> None:
        self.sink = LocalSink()
        self.settings = NotifySettings(letters_dir=letters_dir, timezone=zone)
        self.zone = ZoneInfo(zone)
        self.seen: set[str] = set()

    def deliver(self, engine: Engine, work: date, ctx: SimContext) -> None:
        """Run the worker as at 09:05 on ``work``; what it delivered reaches borrowers
        whose contact details are good."""
        moment = datetime.combine(work, time(9, 5), self.zone)
        worker = DemoWorker(
            engine,
            self.settings,
            channels={"sms": self.sink, "email": self.sink},
            clock=lambda: moment,
        )
        stats = worker.run_once()
        ctx.counts["messages deferred by the gate"] += stats.deferred
        ids = self.sink.drain() - self.seen
        letters = set(worker.letters) - self.seen
        m = OutboxMessage
        columns = (m.id, m.loan_id, m.channel, m.purpose)
        with transaction(engine) as s:
            rows = [
                # a letter counts once its result is recorded as sent
                *(
                    row
                    for chunk in _chunks(sorted(letters))
                    for row in s.execute(
                        select(*columns).where(m.id.in_(chunk), m.status.in_(DELIVERED))
                    )
                ),
                *(
                    row
                    for chunk in _chunks(sorted(ids))
                    for row in s.execute(select(*columns).where(m.id.in_(chunk)))
                ),
            ]
        for message_id, loan_id, channel, purpose in rows:
            if message_id in self.seen or loan_id is None:
                continue
            self.seen.add(message_id)
            ctx.counts[channel] += 1
            if ctx.behaviour.segments[ctx.segment(loan_id)].reachable == 0:
                continue
            if purpose == "reminder":
                ctx.reminded[loan_id] = work
                ctx.reach(loan_id, "reminder")
            else:
                ctx.reach(loan_id, channel)


def _chunks(ids: list[str], size: int = 500) -> list[list[str]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]
