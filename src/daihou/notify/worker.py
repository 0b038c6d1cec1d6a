"""``daihou worker``: deliver due outbox messages through the gate and the channels.

One cycle:

1. **Recover** messages left in ``sending`` whose lease ran out (a worker died between
   handing a message over and recording the result): ask the provider by idempotency
   key (SMS status query). Known → ``sent``; unknown → queued again (through the gate
   again); a channel that cannot tell (SMTP) follows ``email_unknown_outcome``.
2. **Claim** a batch of due messages (``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL,
   the single write lock on SQLite), and in the same transaction decide each: cancel
   (hold, cured or closed case, closed loan, opt-out), defer to the gate's next
   allowed time, or mark ``sending`` with a fresh attempt token and a lease, recording
   the contact attempt with the gate. Commit — before anything leaves the building.
3. **Send** the claimed messages (a few in parallel), the message id as the
   provider's idempotency key.
4. **Record** each result in one transaction, guarded by the attempt token: ``sent``;
   or ``failed`` with the next try after exponential backoff; or ``dead`` after
   ``max_attempts``; a permanent refusal is ``failed`` with no next try.

Letters are rendered to PDF (stored, hashed into the audit chain) and written to the
letters directory for print; the file name is the message id, so doing it twice is
harmless.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, Row, Table, bindparam, insert, select, update

from daihou.compliance.gate.batch import check_batch
from daihou.compliance.gate.packs import EffectiveRules, load_rules
from daihou.compliance.gate.schema import ContactRequest
from daihou.db.engine import transaction
from daihou.notify.channels.base import (
    Accepted,
    Channel,
    DeliveryError,
    NoIdempotency,
    Outgoing,
)
from daihou.notify.eligibility import BatchContext
from daihou.notify.models import DUE_STATUSES, MessageEvent, OutboxMessage
from daihou.notify.outbox import add_event, utc_naive
from daihou.notify.settings import NotifySettings

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Stats:
    claimed: int = 0
    sent: int = 0
    deferred: int = 0
    cancelled: int = 0
    failed: int = 0
    dead: int = 0
    recovered: int = 0
    letters: int = 0

    def add(self, other: Stats) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class Claim:
    message_id: str
    token: str
    channel: str
    attempt: int
    outgoing: Outgoing


@dataclass
class Worker:
    """Deliver messages from the outbox of ``engine``.

    ``channels`` maps ``sms``/``email`` to a ``Channel`` (built from the settings when
    not given); ``clock`` gives the aware current time (tests pass a fixed one).
    """

    engine: Engine
    settings: NotifySettings
    channels: Mapping[str, Channel] = field(default_factory=dict)
    clock: Clock = wall_clock
    rules: EffectiveRules | None = None
    _rules_cache: dict[date, EffectiveRules] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not self.channels:
            self.channels = build_channels(self.settings)
        self.zone = ZoneInfo(self.settings.timezone)

    # --- the loop -------------------------------------------------------------------

    def run_once(self, *, batch: int | None = None, max_batches: int | None = None) -> Stats:
        """Recover, then deliver due messages batch after batch until none is due.

        Pipelined: while one batch is being sent (``concurrency`` threads), the next
        is claimed; results are recorded when the batch's sends are done.
        """
        total = Stats()
        total.add(self.recover())
        size = batch or self.settings.batch_size
        with ThreadPoolExecutor(max_workers=self.settings.concurrency) as pool:
            stats = Stats()
            claims = self.claim(size, stats)
            done = 1
            while claims:
                pending = [
                    (c, pool.submit(self._letter if c.channel == "letter" else self._send, c))
                    for c in claims
                ]
                following = Stats()
                more = max_batches is None or done < max_batches
                claims = self.claim(size, following) if more else []
                results = [(c, future.result()) for c, future in pending]
                self.finish(results, stats)
                total.add(stats)
                stats = following
                done += 1
            total.add(stats)
        return total

    def run_forever(self, *, batch: int | None = None, stop: threading.Event | None = None) -> None:
        stop = stop or threading.Event()
        while not stop.is_set():
            stats = self.run_once(batch=batch)
            if stats.claimed == 0:
                stop.wait(self.settings.poll_seconds)

    # --- claim ----------------------------------------------------------------------

    def _rules(self, on: date) -> EffectiveRules:
        if self.rules is not None:
            return self.rules
        if on not in self._rules_cache:
            self._rules_cache[on] = load_rules(on=on)
        return self._rules_cache[on]

    def claim(self, limit: int, stats: Stats) -> list[Claim]:
        """Claim up to ``limit`` due messages: cancel, fail or defer (as the gate says)
        those that must not go now, lease the rest. Reads and writes the rows with Core
        statements built once (a batch is hundreds of rows)."""
        now = self.clock()
        stamp = utc_naive(now)
        lease = stamp + timedelta(seconds=self.settings.retry.lease_seconds)
        claims: list[Claim] = []
        with transaction(self.engine) as session:
            params = {"channels": sorted({*self.channels, "letter"}), "stamp": stamp, "n": limit}
            query = _DUE
            if session.get_bind().dialect.name == "postgresql":
                query = _DUE_LOCKED
            messages = sorted(
                session.execute(query, params).all(), key=lambda m: (m.customer_id, m.id)
            )
            if not messages:
                return claims
            stats.claimed = len(messages)
            context = BatchContext.load(session, messages)
            local = now.astimezone(self.zone)
            rules = self._rules(local.date())
            closed: list[dict[str, Any]] = []  # cancelled or failed: nothing due any more
            deferred: list[dict[str, Any]] = []
            leased: list[dict[str, Any]] = []
            events: list[dict[str, Any]] = []

            def close(m: Row[Any], status: str, detail: str) -> None:
                closed.append({"mid": m.id, "st": status, "err": detail[:2000]})
                events.append(_row_event(m.id, status, m.attempts, stamp, detail))

            pending: list[tuple[Row[Any], str, ContactRequest]] = []
            for m in messages:
                reason = context.cancel_reason(m)
                if reason is not None:
                    close(m, "cancelled", reason)
                    stats.cancelled += 1
                    continue
                address = context.address(m)
                if not address:
                    what = {"sms": "phone number", "email": "e-mail address"}.get(
                        m.channel, "postal address"
                    )
                    close(m, "failed", f"the customer has no {what}")
                    stats.failed += 1
                    continue
                request = ContactRequest(
                    customer_id=m.customer_id,
                    channel=m.channel,
                    party="borrower",
                    at=local,
                    tz=self.settings.timezone,
                    loan_id=m.loan_id,
                    case_id=m.case_id,
                    address=address,
                    purpose=m.purpose,
                )
                pending.append((m, address, request))
            decisions = check_batch(session, [r for _, _, r in pending], rules=rules)
            for (m, address, _), decision in zip(pending, decisions, strict=True):
                if not decision.allowed:
                    detail = f"{decision.rule}: {decision.message_en}"
                    if decision.next_allowed_at is None:
                        close(m, "cancelled", detail)
                        stats.cancelled += 1
                    else:
                        nxt = utc_naive(decision.next_allowed_at)
                        deferred.append({"mid": m.id, "nxt": nxt, "err": detail[:2000]})
                        events.append(_row_event(m.id, "deferred", m.attempts, stamp, detail))
                        stats.deferred += 1
                    continue
                token = secrets.token_hex(16)
                leased.append({"mid": m.id, "tok": token, "n": m.attempts + 1})
                claims.append(
                    Claim(
                        m.id,
                        token,
                        m.channel,
                        m.attempts + 1,
                        Outgoing(m.id, address, m.body, m.subject),
                    )
                )
            if closed:
                session.execute(_CLOSE, [{**c, "stamp": stamp} for c in closed])
            if deferred:
                session.execute(_DEFER, [{**d, "stamp": stamp} for d in deferred])
            if leased:
                session.execute(_LEASE, [{**c, "stamp": stamp, "lease": lease} for c in leased])
            if events:
                session.execute(insert(_EVENTS), events)
        return claims

    # --- send -----------------------------------------------------------------------

    def _send(self, claim: Claim) -> Accepted | DeliveryError:
        channel = self.channels.get(claim.channel)
        if channel is None:
            return DeliveryError(f"no {claim.channel} channel is configured")
        try:
            return channel.send(claim.outgoing)
        except DeliveryError as exc:
            return exc
        except Exception as exc:  # a bug or an unexpected library error: retry later
            log.exception("sending %s failed", claim.message_id)
            return DeliveryError(f"{type(exc).__name__}: {exc}")

    def _letter(self, claim: Claim) -> Accepted | DeliveryError:
        from daihou.documents.letters import produce_letter

        try:
            document_id = produce_letter(
                self.engine, message_id=claim.message_id, settings=self.settings, now=self.clock()
            )
        except (ValueError, LookupError) as exc:
            return DeliveryError(f"letter: {exc}", permanent=True)
        return Accepted(provider_message_id=f"document:{document_id}")

    # --- record ---------------------------------------------------------------------

    def finish(self, results: list[tuple[Claim, Accepted | DeliveryError]], stats: Stats) -> None:
        if not results:
            return
        stamp = utc_naive(self.clock())
        retry = self.settings.retry
        sent: list[dict[str, Any]] = []
        other: list[dict[str, Any]] = []
        history: list[dict[str, Any]] = []
        for claim, result in results:
            base = {"mid": claim.message_id, "tok": claim.token, "stamp": stamp}
            if isinstance(result, Accepted):
                stats.letters += claim.channel == "letter"
                sent.append({**base, "pid": result.provider_message_id})
                history.append(_event(claim, "sent", stamp, result.provider_message_id))
                stats.sent += 1
                continue
            if result.permanent:
                status, next_at = "failed", None
                stats.failed += 1
            elif claim.attempt >= retry.max_attempts:
                status, next_at = "dead", None
                stats.dead += 1
            else:
                status = "failed"
                next_at = stamp + timedelta(seconds=retry.delay(claim.attempt))
                stats.failed += 1
            other.append({**base, "st": status, "nxt": next_at, "err": str(result)[:2000]})
            history.append(_event(claim, status, stamp, str(result)))
        with transaction(self.engine) as session:
            if sent:
                session.execute(_SENT, sent)
            if other:
                session.execute(_RETRY, other)
            session.execute(insert(_EVENTS), history)

    # --- recover --------------------------------------------------------------------

    def recover(self) -> Stats:
        """Resolve messages stuck in ``sending`` past their lease (see the module)."""
        stats = Stats()
        stamp = utc_naive(self.clock())
        with transaction(self.engine) as session:
            query = select(OutboxMessage).where(
                OutboxMessage.status == "sending", OutboxMessage.lease_until <= stamp
            )
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            for m in session.scalars(query).all():
                outcome = self._resolve(m)
                if outcome is None:
                    continue  # the provider cannot be asked now: next cycle
                status, detail, provider_id = outcome
                m.attempt_token = m.lease_until = None
                if status == "sent":
                    m.provider_message_id, m.sent_at = provider_id, stamp
                    m.next_attempt_at = None
                elif status == "queued":
                    m.next_attempt_at = stamp
                else:
                    m.next_attempt_at = None
                m.status, m.updated_at, m.last_error = status, stamp, detail
                add_event(session, m.id, status, attempt=m.attempts, detail=detail, at=stamp)
                stats.recovered += 1
        return stats

    def _resolve(self, m: OutboxMessage) -> tuple[str, str, str | None] | None:
        if m.channel == "letter":
            return "queued", "recovered: letter produced again (idempotent by message id)", None
        channel = self.channels.get(m.channel)
        if channel is None:
            return None
        try:
            found = channel.lookup(m.id)
        except NoIdempotency:
            if self.settings.email_unknown_outcome == "resend":
                return "queued", "recovered: outcome unknown, sending again (same Message-ID)", None
            return (
                "failed",
                "outcome unknown after a crash; not sent again automatically (SMTP has no "
                "idempotency): check the mail log, then `daihou messages retry` if needed",
                None,
            )
        except DeliveryError as exc:
            log.warning("cannot resolve %s now: %s", m.id, exc)
            return None
        if found is not None:
            return "sent", "recovered: the provider has it", found.provider_message_id
        return "queued", "recovered: the provider does not have it; queued again", None


_OUTBOX = cast(Table, OutboxMessage.__table__)
_EVENTS = cast(Table, MessageEvent.__table__)
# The claim's statements, built once.
_DUE = (
    select(
        _OUTBOX.c.id,
        _OUTBOX.c.customer_id,
        _OUTBOX.c.loan_id,
        _OUTBOX.c.case_id,
        _OUTBOX.c.channel,
        _OUTBOX.c.purpose,
        _OUTBOX.c.subject,
        _OUTBOX.c.body,
        _OUTBOX.c.attempts,
    )
    .where(
        # a channel this worker has no provider for stays queued for another
        _OUTBOX.c.channel.in_(bindparam("channels", expanding=True)),
        _OUTBOX.c.status.in_(DUE_STATUSES),
        _OUTBOX.c.next_attempt_at.is_not(None),
        _OUTBOX.c.next_attempt_at <= bindparam("stamp"),
    )
    .order_by(_OUTBOX.c.next_attempt_at, _OUTBOX.c.id)
    .limit(bindparam("n"))
)
_DUE_LOCKED = _DUE.with_for_update(skip_locked=True)
_BY_ID = _OUTBOX.c.id == bindparam("mid")
_CLOSE = (
    update(_OUTBOX)
    .where(_BY_ID)
    .values(
        status=bindparam("st"),
        updated_at=bindparam("stamp"),
        last_error=bindparam("err"),
        next_attempt_at=None,
    )
)
_DEFER = (
    update(_OUTBOX)
    .where(_BY_ID)
    .values(
        status="deferred",
        updated_at=bindparam("stamp"),
        last_error=bindparam("err"),
        next_attempt_at=bindparam("nxt"),
    )
)
_LEASE = (
    update(_OUTBOX)
    .where(_BY_ID)
    .values(
        status="sending",
        attempt_token=bindparam("tok"),
        lease_until=bindparam("lease"),
        attempts=bindparam("n"),
        updated_at=bindparam("stamp"),
    )
)


# The finish's statements: guarded by the attempt token (a recovered lease is not
# overwritten by a late result).
_LEASED = _BY_ID & (_OUTBOX.c.attempt_token == bindparam("tok")) & (_OUTBOX.c.status == "sending")
_SENT = (
    update(_OUTBOX)
    .where(_LEASED)
    .values(
        status="sent",
        provider_message_id=bindparam("pid"),
        sent_at=bindparam("stamp"),
        updated_at=bindparam("stamp"),
        attempt_token=None,
        lease_until=None,
        last_error=None,
    )
)
_RETRY = (
    update(_OUTBOX)
    .where(_LEASED)
    .values(
        status=bindparam("st"),
        next_attempt_at=bindparam("nxt"),
        last_error=bindparam("err"),
        updated_at=bindparam("stamp"),
        attempt_token=None,
        lease_until=None,
    )
)


def _row_event(
    message_id: str, status: str, attempt: int, stamp: datetime, detail: str
) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "at": stamp,
        "status": status,
        "attempt": attempt,
        "detail": detail[:2000] if detail else None,
    }


def _event(claim: Claim, status: str, stamp: datetime, detail: str | None) -> dict[str, Any]:
    return {
        "message_id": claim.message_id,
        "at": stamp,
        "status": status,
        "attempt": claim.attempt,
        "detail": detail[:2000] if detail else None,
    }


def build_channels(settings: NotifySettings) -> dict[str, Channel]:
    """The channels the settings configure: e-mail always, SMS when a URL is set."""
    from daihou.notify.channels.smtp import SmtpChannel

    channels: dict[str, Channel] = {"email": SmtpChannel(settings.smtp)}
    if settings.sms.url:
        from daihou.notify.channels.sms_http import SmsHttpChannel

        channels["sms"] = SmsHttpChannel(settings.sms)
    return channels
