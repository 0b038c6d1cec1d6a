"""Templates: sandboxed rendering, preview before activation, the language check."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select

from daihou.auth.actor import SYSTEM, Actor
from daihou.auth.permissions import PermissionDenied
from daihou.collection.message_templates import default_templates
from daihou.compliance.audit.models import AuditRecord
from daihou.compliance.language.models import MessageTemplate
from daihou.compliance.language.service import LanguageCheckFailed
from daihou.db.engine import transaction
from daihou.notify.templates import (
    ENV,
    SAMPLE,
    TemplateError,
    activate,
    active_template,
    add_template,
    preview_template,
    render_text,
)
from tests.notify.conftest import OFFICER, SMS_ZH

SUPERVISOR = Actor(user_id="sv-1", roles=frozenset({"supervisor"}))


def _add(engine: Engine, body: str, *, subject: str | None = None, channel: str = "sms") -> int:
    with transaction(engine) as s:
        return add_template(
            s,
            channel=channel,
            language="zh-CN",
            name="overdue",
            body=body,
            subject=subject,
            actor=SUPERVISOR,
        ).id


def test_activation_needs_a_preview_and_retires_the_previous_version(engine: Engine) -> None:
    first = _add(engine, SMS_ZH)
    with pytest.raises(TemplateError, match="has not been previewed"), transaction(engine) as s:
        activate(s, first, actor=OFFICER)
    with transaction(engine) as s:
        preview = preview_template(s, first, actor=SUPERVISOR)
        assert preview.check.passed
        assert preview.body.startswith("张*您好，您的贷款L-000123已逾期30天，应还1,236.50元")
        with pytest.raises(PermissionDenied):
            activate(s, first, actor=SUPERVISOR)  # activation is the compliance officer's
        activate(s, first, actor=OFFICER)
    second = _add(engine, SMS_ZH + "谢谢。")
    with transaction(engine) as s:
        preview_template(s, second, actor=OFFICER)
        activate(s, second, actor=OFFICER)
        assert active_template(s, channel="sms", language="zh-CN", name="overdue").id == second
        assert s.get(MessageTemplate, first).status == "retired"  # type: ignore[union-attr]
        actions = s.scalars(select(AuditRecord.action).order_by(AuditRecord.id)).all()
    assert actions == [
        "template.create",
        "template.activate",
        "template.create",
        "template.activate",
    ]


@pytest.mark.parametrize(
    ("body", "subject"),
    [
        ("{{ name }}，再不还钱就让你好看，应还{{ amount }}元", None),
        ("{{ name }}您好，应还{{ amount }}元", "不还就通知你的家人和单位"),
    ],
)
def test_activation_refused_when_the_language_check_fails(
    engine: Engine, body: str, subject: str | None
) -> None:
    template_id = _add(engine, body, subject=subject, channel="email" if subject else "sms")
    with transaction(engine) as s:
        preview = preview_template(s, template_id, actor=SUPERVISOR)
        assert not preview.check.passed
    with pytest.raises(LanguageCheckFailed), transaction(engine) as s:
        activate(s, template_id, actor=OFFICER)
    with transaction(engine) as s:
        assert s.get(MessageTemplate, template_id).status == "draft"  # type: ignore[union-attr]


def test_bad_templates_are_refused_when_added(engine: Engine) -> None:
    with pytest.raises(TemplateError, match="unknown variables \\['password'\\]"):
        _add(engine, "{{ password }}")
    with pytest.raises(TemplateError, match="line 1"):
        _add(engine, "{{ name ")
    with pytest.raises(TemplateError, match="needs a subject"):
        _add(engine, "{{ name }}", channel="email")
    with pytest.raises(PermissionDenied), transaction(engine) as s:
        add_template(s, channel="sms", language="zh-CN", name="x", body="{{ name }}", actor=SYSTEM)


def test_the_sandbox_keeps_templates_away_from_python() -> None:
    with pytest.raises(TemplateError):
        render_text("{{ name.__class__.__mro__ }}", {"name": "x"})
    with pytest.raises(TemplateError):
        render_text("{{ payment_methods.append('x') }}", {"payment_methods": []})
    with pytest.raises(TemplateError, match="undefined"):
        render_text("{{ amount }}", {})
    text = "{{ payment_methods | items }} {{ amount | money }}"
    assert render_text(text, {"payment_methods": ["手机银行", "柜台"], "amount": "1234567.8"}) == (
        "手机银行、柜台 1,234,567.80"
    )


SHAPES = [
    "{% set total = amount | money %}{{ name }}: {{ total }} ({{ dpd }} days)",
    "{% for m in payment_methods %}{{ loop.index }}. {{ m }} {% endfor %}{{ range(2) | list }}",
    "{{ dict(a=1) }} {{ lipsum is defined }} {{ namespace is defined }} {{ due_date }}",
    "{% macro line(x) %}[{{ x }}]{% endmacro %}{{ line(lender) }}{{ line(contact_channel) }}",
]


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_render_text_is_jinjas_own_render(language: str) -> None:
    """``render_text`` builds the template's context itself: the text it gives is the
    one ``Template.render`` gives, for every shipped template and for templates using
    Jinja's globals, loops, ``set`` and macros."""
    data = SAMPLE[language]
    sources = [t.body for t in default_templates() if t.language == language]
    sources += [t.subject for t in default_templates() if t.language == language and t.subject]
    for source in [*sources, SMS_ZH, *SHAPES]:
        assert render_text(source, data) == ENV.from_string(source).render(**data).strip()
        # the context is not shared between renders: a variable set once is not left over
        assert render_text(source, data) == render_text(source, dict(data))
