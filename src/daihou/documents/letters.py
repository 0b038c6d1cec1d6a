"""Letters (信函): rendered to PDF by the worker, exported by day for print and mail.

The worker calls ``produce_letter`` for a claimed letter message: the document is
generated once per message (found again by message id on a retry) and the message
counts as ``sent`` — handed to the print queue. ``export_letters`` collects the
letters sent on a local day into one ZIP (the PDFs plus ``manifest.csv`` with the
mailing address) with fixed timestamps, marks them with the batch id and records the
batch's hash in the audit chain.
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from daihou.auth.actor import SYSTEM, Actor
from daihou.auth.permissions import authorize
from daihou.compliance.audit.service import record
from daihou.db.engine import transaction
from daihou.documents.models import Document
from daihou.documents.service import document_for_message, generate
from daihou.loans.models import Customer
from daihou.notify.models import OutboxMessage
from daihou.notify.settings import NotifySettings


def produce_letter(
    engine: Engine, *, message_id: str, settings: NotifySettings, now: datetime
) -> int:
    """Generate (once) the PDF of a letter message; returns the document id."""
    with transaction(engine) as session:
        message = session.get(OutboxMessage, message_id)
        if message is None or message.loan_id is None:
            raise LookupError(f"no letter message {message_id}")
        document = document_for_message(session, message_id)
        if document is None:
            document = generate(
                session,
                kind=message.template,
                loan_id=message.loan_id,
                actor=SYSTEM,
                settings=settings,
                case_id=message.case_id,
                message_id=message_id,
            )
        message.document_id = document.id
        return document.id


@dataclass(frozen=True)
class LetterBatch:
    batch_id: str
    path: Path
    count: int
    sha256: str


def _window(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC).replace(tzinfo=None)
    return start, start + timedelta(days=1)


def export_letters(
    session: Session,
    *,
    day: date,
    settings: NotifySettings,
    actor: Actor,
    out_dir: Path | None = None,
    again: bool = False,
) -> LetterBatch:
    """ZIP the letters sent on ``day`` (borrowers' local date) not yet exported (or all
    of that day with ``again``) into ``out_dir`` (default: the letters directory)."""
    authorize(actor, "letter.export")
    zone = ZoneInfo(settings.timezone)
    start, end = _window(day, zone)
    query = (
        select(OutboxMessage, Document)
        .join(Document, Document.id == OutboxMessage.document_id)
        .where(
            OutboxMessage.channel == "letter",
            OutboxMessage.status.in_(("sent", "delivered")),
            OutboxMessage.sent_at >= start,
            OutboxMessage.sent_at < end,
        )
        .order_by(OutboxMessage.id)
    )
    if not again:
        query = query.where(OutboxMessage.export_batch.is_(None))
    rows = session.execute(query).all()
    if not rows:
        raise ValueError(f"no letters to export for {day}")
    customers = {
        c.id: c
        for c in session.scalars(
            select(Customer).where(Customer.id.in_({m.customer_id for m, _ in rows}))
        )
    }
    manifest = io.StringIO()
    writer = csv.writer(manifest)
    writer.writerow(["file", "message_id", "kind", "loan_id", "name", "address", "sha256"])
    buffer = io.BytesIO()
    stamp = (day.year, day.month, day.day, 0, 0, 0)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for message, document in rows:
            name = f"{message.id}.pdf"
            archive.writestr(zipfile.ZipInfo(name, date_time=stamp), document.content)
            customer = customers.get(message.customer_id)
            writer.writerow(
                [
                    name,
                    message.id,
                    document.kind,
                    message.loan_id,
                    customer.name if customer else "",
                    (customer.address or "") if customer else "",
                    document.sha256,
                ]
            )
        archive.writestr(
            zipfile.ZipInfo("manifest.csv", date_time=stamp), manifest.getvalue().encode()
        )
    content = buffer.getvalue()
    digest = hashlib.sha256(content).hexdigest()
    batch_id = f"letters-{day.isoformat()}-{digest[:12]}"
    target = out_dir or settings.letters_dir
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"{batch_id}.zip"
    path.write_bytes(content)
    for message, _ in rows:
        message.export_batch = batch_id
    session.flush()
    record(
        session,
        actor=actor,
        action="letter.export",
        object_type="letter_batch",
        object_id=batch_id,
        after={"day": day, "count": len(rows), "sha256": digest},
        basis={"permission": "letter.export"},
        document=content,
    )
    return LetterBatch(batch_id, path, len(rows), digest)
