"""Templates that must pass the check, notes flagged to the supervisor, QA scores —
on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select

import daihou.compliance.language.models  # noqa: F401  (registers the tables)
from daihou.auth.actor import Actor
from daihou.auth.permissions import PermissionDenied
from daihou.compliance.language.models import LanguageCheck, MessageTemplate
from daihou.compliance.language.service import (
    LanguageCheckFailed,
    activate_template,
    check_template,
    create_template,
    decide_flag,
    list_flags,
    qa_scores,
    retire_template,
    review_note,
)
from daihou.db.engine import transaction

AUTHOR = Actor(user_id="ops1", roles=frozenset({"operations"}))
COMPLIANCE = Actor(user_id="comp1", roles=frozenset({"compliance-officer"}))
SUPERVISOR = Actor(user_id="sup1", roles=frozenset({"supervisor"}))
COLLECTOR = Actor(user_id="c1", roles=frozenset({"collector-junior"}))

CLEAN_BODY = "尊敬的{{ name }}，您的贷款本期应还{{ amount }}元，请于{{ due_date }}前还款。"
BAD_BODY = "{{ name }}，再不还钱就起诉你家人，让你坐牢。"


def _create(session, body: str, purpose: str = "reminder") -> MessageTemplate:  # type: ignore[no-untyped-def]
    return create_template(
        session, channel="sms", language="zh-CN", purpose=purpose, body=body, actor=AUTHOR
    )


def test_a_clean_template_activates_and_retires_the_previous_version(engine: Engine) -> None:
    with transaction(engine) as session:
        first = _create(session, CLEAN_BODY)
        activate_template(session, first.id, COMPLIANCE)
        second = _create(session, CLEAN_BODY + "如已还款请忽略。")
        assert (first.version, second.version) == (1, 2)
        activate_template(session, second.id, COMPLIANCE)
    with transaction(engine) as session:
        rows = session.scalars(select(MessageTemplate).order_by(MessageTemplate.version)).all()
        assert [r.status for r in rows] == ["retired", "active"]
        assert rows[1].activated_by == "comp1" and rows[1].activated_at is not None
        assert rows[1].lexicon_version and "language-zh-CN@" in rows[1].lexicon_version
        assert rows[0].retired_at is not None


def test_a_failing_template_cannot_be_activated(engine: Engine) -> None:
    with transaction(engine) as session:
        template_id = _create(session, BAD_BODY).id
    with transaction(engine) as session, pytest.raises(LanguageCheckFailed) as err:
        activate_template(session, template_id, COMPLIANCE)
    message = str(err.value)
    assert "third_party" in message and "threat" in message and "起诉你家人" in message
    assert isinstance(err.value, ValueError)
    assert {h.category.value for h in err.value.result.hits} >= {"third_party", "threat"}
    with transaction(engine) as session:
        template = session.get(MessageTemplate, template_id)
        assert template is not None and template.status == "draft"
        assert not check_template(session, template_id).passed


def test_template_rules(engine: Engine) -> None:
    with transaction(engine) as session:
        template = _create(session, CLEAN_BODY)
        with pytest.raises(PermissionDenied):
            activate_template(session, template.id, COLLECTOR)
        activate_template(session, template.id, COMPLIANCE)
        with pytest.raises(ValueError, match="only a draft can be activated"):
            activate_template(session, template.id, COMPLIANCE)
        retire_template(session, template.id, COMPLIANCE)
        with pytest.raises(ValueError, match="already retired"):
            retire_template(session, template.id, COMPLIANCE)
        with pytest.raises(LookupError):
            activate_template(session, 999_999, COMPLIANCE)
        with pytest.raises(ValueError, match="body is required"):
            _create(session, "  ")


def test_a_failing_note_is_flagged_and_a_supervisor_decides(engine: Engine) -> None:
    with transaction(engine) as session:
        ok = review_note(
            session,
            text="客户承诺周五还款5000元。",
            author_id="c1",
            object_type="contact_note",
            object_id="n1",
        )
        bad = review_note(
            session,
            text="跟客户说：你这个老赖，不还钱就起诉你家人。",
            author_id="c1",
            agency_id="ag1",
            object_type="contact_note",
            object_id="n2",
        )
        assert ok.passed and not bad.passed
    with transaction(engine) as session:
        assert session.scalar(select(func.count(LanguageCheck.id))) == 2
        (flag,) = list_flags(session)
        assert (flag.author_id, flag.agency_id, flag.object_id) == ("c1", "ag1", "n2")
        assert flag.max_severity == "high" and flag.status == "open"
        categories = {h["category"] for h in flag.hits}
        assert categories >= {"insult", "third_party"}
        hit = next(h for h in flag.hits if h["category"] == "insult")
        start, end = hit["span"]
        assert "跟客户说：你这个老赖，不还钱就起诉你家人。"[start:end] == hit["text"] == "老赖"
        assert "老赖" in hit["context"]
        flag_id = flag.id
    with transaction(engine) as session:
        with pytest.raises(ValueError, match="own flag"):
            decide_flag(
                session,
                flag_id=flag_id,
                decision="confirmed",
                reviewer=Actor(user_id="c1", roles=frozenset({"supervisor"})),
                note="x",
            )
        with pytest.raises(ValueError, match="note is required"):
            decide_flag(
                session, flag_id=flag_id, decision="confirmed", reviewer=SUPERVISOR, note=" "
            )
        decided = decide_flag(
            session,
            flag_id=flag_id,
            decision="confirmed",
            reviewer=SUPERVISOR,
            note="录音核实，确有辱骂和牵连家人，已约谈。",
        )
        assert decided.status == "confirmed" and decided.reviewer_id == "sup1"
    with transaction(engine) as session:
        assert list_flags(session) == []
        assert len(list_flags(session, status="confirmed", agency_id="ag1")) == 1
        with pytest.raises(ValueError, match="already confirmed"):
            decide_flag(
                session, flag_id=flag_id, decision="dismissed", reviewer=SUPERVISOR, note="n"
            )


def test_qa_scores_count_every_checked_note(engine: Engine) -> None:
    notes = [
        ("c1", None, "客户承诺周五还款。"),
        ("c1", None, "再不还钱就让你坐牢。"),
        ("c1", None, "已发送还款提醒短信。"),
        ("c2", "ag1", "客户称下月还款。"),
        ("c2", "ag1", "客户失联，已发信函。"),
        ("c3", "ag1", "打到你接为止。"),
        ("c3", "ag1", "你给我等着。"),
    ]
    with transaction(engine) as session:
        for n, (author, agency, text) in enumerate(notes):
            review_note(
                session,
                text=text,
                author_id=author,
                agency_id=agency,
                object_type="contact_note",
                object_id=str(n),
                at=datetime(2026, 3, 2, 10, n),
            )
        review_note(
            session,
            text="你这个老赖",
            author_id="c2",
            agency_id="ag1",
            object_type="contact_note",
            object_id="late",
            at=datetime(2026, 4, 1, 9, 0),
        )
    with transaction(engine) as session:
        by_collector = qa_scores(session, since=date(2026, 3, 1), until=date(2026, 4, 1))
        by_agency = qa_scores(session, since=date(2026, 3, 1), until=date(2026, 4, 1), by="agency")
        april = qa_scores(session, since=date(2026, 4, 1), until=date(2026, 5, 1))
    assert [tuple(s) for s in by_collector] == [
        ("c3", 2, 2, Decimal("0.00")),
        ("c1", 3, 1, Decimal("66.67")),
        ("c2", 2, 0, Decimal("100.00")),
    ]
    assert [tuple(s) for s in by_agency] == [
        ("ag1", 4, 2, Decimal("50.00")),
        (None, 3, 1, Decimal("66.67")),
    ]
    assert [tuple(s) for s in april] == [("c2", 1, 1, Decimal("0.00"))]
    with pytest.raises(ValueError, match="by must be"):
        qa_scores(session, since=date(2026, 3, 1), until=date(2026, 4, 1), by="team")  # type: ignore[arg-type]
