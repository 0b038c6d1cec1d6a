"""Use cases of the language check: templates that must pass before activation, notes
and transcripts flagged to the supervisor, QA scores per collector and per agency.

Template functions live here until the notifications issue gives templates their own
module (rendering, preview); it should call ``check_template`` / keep the refusal.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal, NamedTuple

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from daihou.auth.actor import Actor
from daihou.auth.permissions import authorize
from daihou.compliance.language.check import CheckResult, Hit, check_text
from daihou.compliance.language.matcher import Lexicon
from daihou.compliance.language.models import LanguageCheck, LanguageFlag, MessageTemplate

CONTEXT_CHARS = 20  # characters of the note kept either side of a hit in a flag


class LanguageCheckFailed(ValueError):
    """A template body that fails the check; ``result`` holds every hit."""

    def __init__(self, message: str, result: CheckResult) -> None:
        super().__init__(message)
        self.result = result


def _now(at: datetime | None) -> datetime:
    """Naive UTC, as stored; an aware ``at`` is converted."""
    if at is None:
        return datetime.now(UTC).replace(tzinfo=None)
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at


def _required(value: str, name: str, limit: int) -> str:
    value = value.strip()
    if not value:
        raise ValueError(f"{name} is required")
    if len(value) > limit:
        raise ValueError(f"{name} is longer than {limit} characters")
    return value


# --- templates ----------------------------------------------------------------------


def create_template(
    session: Session,
    *,
    channel: str,
    language: str,
    purpose: str,
    body: str,
    actor: Actor,
) -> MessageTemplate:
    """A new draft, numbered one past the latest version of (channel, language, purpose).

    Drafts may fail the check; only activation refuses.
    """
    channel = _required(channel, "channel", 16)
    language = _required(language, "language", 16)
    purpose = _required(purpose, "purpose", 48)
    if not body.strip():
        raise ValueError("body is required")
    latest = session.execute(
        select(func.max(MessageTemplate.version)).where(
            MessageTemplate.channel == channel,
            MessageTemplate.language == language,
            MessageTemplate.purpose == purpose,
        )
    ).scalar_one()
    template = MessageTemplate(
        channel=channel,
        language=language,
        purpose=purpose,
        version=(latest or 0) + 1,
        body=body,
        status="draft",
        created_by=actor.user_id,
    )
    session.add(template)
    session.flush()
    return template


def _template(session: Session, template_id: int) -> MessageTemplate:
    template = session.get(MessageTemplate, template_id)
    if template is None:
        raise LookupError(f"no message template {template_id}")
    return template


def check_template(
    session: Session, template_id: int, *, lexicon: Lexicon | None = None
) -> CheckResult:
    """The check on a template's body, as activation would run it."""
    return check_text(_template(session, template_id).body, lexicon=lexicon)


def activate_template(
    session: Session,
    template_id: int,
    actor: Actor,
    *,
    lexicon: Lexicon | None = None,
    at: datetime | None = None,
) -> MessageTemplate:
    """Make a draft the active version; the previously active one is retired.

    Refuses (``LanguageCheckFailed``, a ``ValueError`` listing every hit) when the body
    fails the prohibited-language check, and refuses templates that are not drafts.
    Needs the ``template.activate`` permission (compliance officer).
    """
    authorize(actor, "template.activate")
    template = _template(session, template_id)
    if template.status != "draft":
        raise ValueError(
            f"template {template_id} is {template.status}, only a draft can be activated"
        )
    result = check_text(template.body, lexicon=lexicon)
    if not result.passed:
        raise LanguageCheckFailed(
            f"template {template_id} fails the prohibited-language check: {result.describe()}",
            result,
        )
    when = _now(at)
    current = session.scalars(
        select(MessageTemplate).where(
            MessageTemplate.channel == template.channel,
            MessageTemplate.language == template.language,
            MessageTemplate.purpose == template.purpose,
            MessageTemplate.status == "active",
        )
    ).all()
    for old in current:
        old.status = "retired"
        old.retired_at = when
    template.status = "active"
    template.activated_by = actor.user_id
    template.activated_at = when
    template.lexicon_version = result.lexicon_version
    session.flush()
    return template


def retire_template(
    session: Session, template_id: int, actor: Actor, *, at: datetime | None = None
) -> MessageTemplate:
    template = _template(session, template_id)
    if template.status == "retired":
        raise ValueError(f"template {template_id} is already retired")
    template.status = "retired"
    template.retired_at = _now(at)
    session.flush()
    return template


# --- notes, transcripts and the supervisor queue ------------------------------------


def _hit_record(text: str, hit: Hit) -> dict[str, Any]:
    start, end = hit.span
    return {
        "category": hit.category.value,
        "severity": hit.severity.value,
        "rule_id": hit.rule_id,
        "span": [start, end],
        "text": hit.text,
        "context": text[max(0, start - CONTEXT_CHARS) : end + CONTEXT_CHARS],
    }


def review_note(
    session: Session,
    *,
    text: str,
    author_id: str,
    agency_id: str | None = None,
    object_type: str,
    object_id: str,
    at: datetime | None = None,
    lexicon: Lexicon | None = None,
) -> CheckResult:
    """Check a collector's note or a call transcript (催记/录音转写质检).

    Every check is recorded (``language_checks``) so QA scores count clean work too; a
    failing one also opens a ``language_flags`` row for the supervisor queue.
    """
    author_id = _required(author_id, "author_id", 64)
    object_type = _required(object_type, "object_type", 32)
    object_id = _required(str(object_id), "object_id", 64)
    result = check_text(text, lexicon=lexicon)
    when = _now(at)
    severity = result.max_severity
    check = LanguageCheck(
        author_id=author_id,
        agency_id=agency_id,
        object_type=object_type,
        object_id=object_id,
        passed=result.passed,
        max_severity=severity.value if severity else None,
        hit_count=len(result.hits),
        lexicon_version=result.lexicon_version,
        checked_at=when,
    )
    session.add(check)
    session.flush()
    if severity is not None:
        session.add(
            LanguageFlag(
                check_id=check.id,
                author_id=author_id,
                agency_id=agency_id,
                object_type=object_type,
                object_id=object_id,
                max_severity=severity.value,
                hits=[_hit_record(text, hit) for hit in result.hits],
                status="open",
                created_at=when,
            )
        )
        session.flush()
    return result


FlagStatus = Literal["open", "confirmed", "dismissed"]


def list_flags(
    session: Session,
    *,
    status: FlagStatus | None = "open",
    author_id: str | None = None,
    agency_id: str | None = None,
    limit: int = 100,
) -> Sequence[LanguageFlag]:
    """The supervisor queue: oldest first (``status=None`` lists every status)."""
    query = select(LanguageFlag)
    if status is not None:
        query = query.where(LanguageFlag.status == status)
    if author_id is not None:
        query = query.where(LanguageFlag.author_id == author_id)
    if agency_id is not None:
        query = query.where(LanguageFlag.agency_id == agency_id)
    return session.scalars(
        query.order_by(LanguageFlag.created_at, LanguageFlag.id).limit(limit)
    ).all()


def decide_flag(
    session: Session,
    *,
    flag_id: int,
    decision: Literal["confirmed", "dismissed"],
    reviewer: Actor,
    note: str,
    at: datetime | None = None,
) -> LanguageFlag:
    """Confirm (a real violation) or dismiss (a false alarm) an open flag, with a reason.

    The author of the note cannot decide their own flag.
    """
    if decision not in ("confirmed", "dismissed"):
        raise ValueError(f"decision must be confirmed or dismissed, not {decision!r}")
    reason = _required(note, "note", 2000)
    flag = session.get(LanguageFlag, flag_id)
    if flag is None:
        raise LookupError(f"no language flag {flag_id}")
    if flag.status != "open":
        raise ValueError(f"flag {flag_id} was already {flag.status}")
    if reviewer.user_id == flag.author_id:
        raise ValueError("a collector cannot review their own flag")
    flag.status = decision
    flag.reviewer_id = reviewer.user_id
    flag.decision_note = reason
    flag.decided_at = _now(at)
    session.flush()
    return flag


# --- QA scores ------------------------------------------------------------------------


class QaScore(NamedTuple):
    """Checks by one collector or agency in a period; ``score`` is the percentage of
    checks that passed (100.00 = no flagged note). In-house work has ``who=None`` when
    grouped by agency."""

    who: str | None
    checked: int
    flagged: int
    score: Decimal


def _bound(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return _now(value)
    return datetime.combine(value, time.min)


def qa_scores(
    session: Session,
    *,
    since: date | datetime,
    until: date | datetime,
    by: Literal["collector", "agency"] = "collector",
) -> list[QaScore]:
    """Per collector or agency: checks in ``[since, until)`` (dates: from midnight),
    how many were flagged, and the score; worst score first."""
    if by not in ("collector", "agency"):
        raise ValueError(f"by must be collector or agency, not {by!r}")
    who = LanguageCheck.author_id if by == "collector" else LanguageCheck.agency_id
    failed = func.sum(case((LanguageCheck.passed.is_(False), 1), else_=0))
    rows = session.execute(
        select(who, func.count(LanguageCheck.id), failed)
        .where(LanguageCheck.checked_at >= _bound(since), LanguageCheck.checked_at < _bound(until))
        .group_by(who)
    ).all()
    scores = []
    for name, checked, flagged in rows:
        passed = Decimal(int(checked) - int(flagged or 0))
        score = (passed * 100 / int(checked)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        scores.append(QaScore(name, int(checked), int(flagged or 0), score))
    return sorted(scores, key=lambda s: (s.score, s.who or ""))
