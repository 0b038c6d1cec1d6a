"""Message templates (消息模板): sandboxed Jinja2, versioned, checked, previewed.

A template is a ``message_templates`` row (``daihou.compliance.language.models``) per
channel (sms, email), language (zh-CN, en) and name (the ``purpose`` column), with a
version number. Life: ``add_template`` (a draft; the syntax and the variables it uses
are checked) → ``preview_template`` (rendered with sample data, language-checked,
recorded) → ``activate`` (refused unless the current text was previewed and passes the
prohibited-language check; the previous active version is retired).

Rendering uses Jinja2's immutable sandbox with undefined variables as errors, so a
template cannot reach Python internals, change data, or print a blank amount.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment
from sqlalchemy import select
from sqlalchemy.orm import Session

from daihou.auth.actor import Actor
from daihou.auth.permissions import authorize
from daihou.compliance.audit.service import record
from daihou.compliance.language.check import CheckResult, check_text
from daihou.compliance.language.matcher import Lexicon
from daihou.compliance.language.models import MessageTemplate
from daihou.compliance.language.service import (
    LanguageCheckFailed,
    activate_template,
    create_template,
)

TEMPLATE_CHANNELS = ("sms", "email")
LANGUAGES = ("zh-CN", "en")

VARIABLES: dict[str, str] = {
    "name": "borrower's name, masked (张*)",
    "loan_id": "loan number",
    "amount": "total amount due now (yuan)",
    "principal": "overdue principal",
    "interest": "overdue interest",
    "penalty": "penalty interest (罚息) and compound interest (复利)",
    "penalty_detail": "how the penalty was calculated (text)",
    "due_date": "due date (YYYY-MM-DD)",
    "dpd": "days past due (逾期天数)",
    "payment_methods": "how to pay (list)",
    "contact_channel": "how to reach the lender",
    "dispute_channel": "how to dispute (异议渠道)",
    "lender": "the lender's name",
}

SAMPLE: dict[str, dict[str, Any]] = {
    "zh-CN": {
        "name": "张*",
        "loan_id": "L-000123",
        "amount": "1,236.50",
        "principal": "1,000.00",
        "interest": "200.00",
        "penalty": "36.50",
        "penalty_detail": "逾期本金 1,000.00 元 × 日利率 0.0667% × 30 天 = 20.00 元",
        "due_date": "2026-03-15",
        "dpd": 30,
        "payment_methods": ["手机银行", "网点柜台"],
        "contact_channel": "客服热线 95500",
        "dispute_channel": "客服热线 95500 或 网点柜台",
        "lender": "示例银行",
    },
    "en": {
        "name": "Z*",
        "loan_id": "L-000123",
        "amount": "1,236.50",
        "principal": "1,000.00",
        "interest": "200.00",
        "penalty": "36.50",
        "penalty_detail": "overdue principal 1,000.00 × daily rate 0.0667% × 30 days = 20.00",
        "due_date": "2026-03-15",
        "dpd": 30,
        "payment_methods": ["mobile banking", "branch counter"],
        "contact_channel": "hotline 95500",
        "dispute_channel": "hotline 95500 or any branch",
        "lender": "Example Bank",
    },
}


class TemplateError(ValueError):
    """A template that cannot be used: bad syntax, unknown variables, a missing value."""


def money(value: Any) -> str:
    """``1234.5`` → ``1,234.50`` (an already formatted string passes through)."""
    if isinstance(value, str) and not value.replace(".", "").replace("-", "").isdigit():
        return value
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    return f"{amount.quantize(Decimal('0.01')):,}"


def _join(value: Any, sep: str = "、") -> str:
    if isinstance(value, list | tuple):
        return sep.join(str(v) for v in value)
    return str(value)


def _environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False
    )
    env.filters["money"] = money
    env.filters["items"] = _join
    return env


ENV = _environment()


def _parse(source: str, field: str) -> set[str]:
    try:
        ast = ENV.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"{field}: line {exc.lineno}: {exc.message}") from None
    used = meta.find_undeclared_variables(ast)
    unknown = sorted(used - set(VARIABLES))
    if unknown:
        raise TemplateError(f"{field} uses unknown variables {unknown}; known: {sorted(VARIABLES)}")
    return used


@lru_cache(maxsize=256)
def _compiled(source: str) -> Any:
    return ENV.from_string(source)


_GLOBALS = dict(ENV.globals)  # the names every template sees besides its variables


def render_text(source: str, variables: Mapping[str, Any]) -> str:
    """Render one template text; a missing variable or a sandbox breach is an error.

    The context is built here rather than by ``Template.render``, which copies the
    environment's globals out of a ``ChainMap`` twice per call (a dict and a set of its
    keys, the set only for ``{% import %}``, which a message template cannot do): half
    the time of rendering a short message, and the collections run renders one per
    planned message. The template sees the same names (the globals, then the
    variables) and runs the same compiled code, so the text is the same; a test
    compares it with ``Template.render``.
    """
    try:
        template = _compiled(source)
        context = ENV.context_class(ENV, {**_GLOBALS, **variables}, template.name, template.blocks)
        return str(ENV.concat(template.root_render_func(context))).strip()
    except Exception as exc:  # undefined variable, sandbox security error, filter error
        raise TemplateError(f"cannot render template: {exc}") from None


def render(template: MessageTemplate, variables: Mapping[str, Any]) -> tuple[str | None, str]:
    """(subject, body) of a template with the given variables."""
    subject = render_text(template.subject, variables) if template.subject else None
    return subject, render_text(template.body, variables)


def source_digest(template: MessageTemplate) -> str:
    text = f"{template.subject or ''}\x00{template.body}"
    return hashlib.sha256(text.encode()).hexdigest()


def _now(at: datetime | None) -> datetime:
    moment = at or datetime.now(UTC)
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _state(t: MessageTemplate) -> dict[str, Any]:
    return {
        "id": t.id,
        "channel": t.channel,
        "language": t.language,
        "name": t.purpose,
        "version": t.version,
        "status": t.status,
        "source_sha256": source_digest(t),
    }


def add_template(
    session: Session,
    *,
    channel: str,
    language: str,
    name: str,
    body: str,
    subject: str | None = None,
    actor: Actor,
) -> MessageTemplate:
    """A new draft version of template ``name`` for a channel and language."""
    authorize(actor, "template.edit")
    if channel not in TEMPLATE_CHANNELS:
        raise TemplateError(f"channel must be one of {list(TEMPLATE_CHANNELS)}, not {channel!r}")
    if language not in LANGUAGES:
        raise TemplateError(f"language must be one of {list(LANGUAGES)}, not {language!r}")
    if channel == "email" and not (subject or "").strip():
        raise TemplateError("an e-mail template needs a subject")
    if channel == "sms" and subject:
        raise TemplateError("an SMS template has no subject")
    _parse(body, "body")
    if subject:
        _parse(subject, "subject")
    template = create_template(
        session, channel=channel, language=language, purpose=name, body=body, actor=actor
    )
    template.subject = subject
    session.flush()
    record(
        session,
        actor=actor,
        action="template.create",
        object_type="message_template",
        object_id=str(template.id),
        after=_state(template),
        basis={"permission": "template.edit"},
    )
    return template


@dataclass(frozen=True)
class Preview:
    template_id: int
    subject: str | None
    body: str
    check: CheckResult


def _template(session: Session, template_id: int) -> MessageTemplate:
    template = session.get(MessageTemplate, template_id)
    if template is None:
        raise LookupError(f"no message template {template_id}")
    return template


def preview_template(
    session: Session,
    template_id: int,
    *,
    actor: Actor,
    variables: Mapping[str, Any] | None = None,
    lexicon: Lexicon | None = None,
    at: datetime | None = None,
) -> Preview:
    """Render with sample data (or ``variables``), check the rendered text, and record
    that this exact text was previewed (activation requires it)."""
    authorize(actor, "template.edit")
    template = _template(session, template_id)
    data = dict(SAMPLE.get(template.language, SAMPLE["zh-CN"]))
    data.update(variables or {})
    subject, body = render(template, data)
    result = check_text(f"{subject or ''}\n{body}", lexicon=lexicon)
    if template.status == "draft":
        template.previewed_at = _now(at)
        template.previewed_by = actor.user_id
        template.preview_sha256 = source_digest(template)
        session.flush()
    return Preview(template.id, subject, body, result)


def activate(
    session: Session,
    template_id: int,
    *,
    actor: Actor,
    lexicon: Lexicon | None = None,
    at: datetime | None = None,
) -> MessageTemplate:
    """Activate a previewed draft that passes the prohibited-language check (subject
    and body); the active version of the same name is retired."""
    authorize(actor, "template.activate")
    template = _template(session, template_id)
    if template.preview_sha256 is None:
        raise TemplateError(f"template {template_id} has not been previewed; preview it first")
    if template.preview_sha256 != source_digest(template):
        raise TemplateError(f"template {template_id} changed since its preview; preview again")
    if template.subject:
        result = check_text(template.subject, lexicon=lexicon)
        if not result.passed:
            raise LanguageCheckFailed(
                f"template {template_id}'s subject fails the prohibited-language check: "
                f"{result.describe()}",
                result,
            )
    before = _state(template)
    activate_template(session, template_id, actor, lexicon=lexicon, at=at)
    record(
        session,
        actor=actor,
        action="template.activate",
        object_type="message_template",
        object_id=str(template.id),
        before=before,
        after=_state(template),
        basis={"permission": "template.activate", "lexicon": template.lexicon_version},
    )
    return template


def active_template(session: Session, *, channel: str, language: str, name: str) -> MessageTemplate:
    template = session.scalars(
        select(MessageTemplate)
        .where(
            MessageTemplate.channel == channel,
            MessageTemplate.language == language,
            MessageTemplate.purpose == name,
            MessageTemplate.status == "active",
        )
        .order_by(MessageTemplate.version.desc())
        .limit(1)
    ).first()
    if template is None:
        raise LookupError(f"no active {channel} template {name!r} in {language}")
    return template


def list_templates(
    session: Session, *, channel: str | None = None, name: str | None = None
) -> Sequence[MessageTemplate]:
    query = select(MessageTemplate)
    if channel:
        query = query.where(MessageTemplate.channel == channel)
    if name:
        query = query.where(MessageTemplate.purpose == name)
    return session.scalars(
        query.order_by(
            MessageTemplate.purpose,
            MessageTemplate.channel,
            MessageTemplate.language,
            MessageTemplate.version,
        )
    ).all()
