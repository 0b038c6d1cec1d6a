"""Complaints on SQLite and PostgreSQL: lifecycle, holds, overdue alerts, extension,
illegal transitions, permissions and the monthly analysis on a hand-made set."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from daihou.auth.actor import SYSTEM, Actor
from daihou.auth.models import User, UserRole
from daihou.auth.permissions import PermissionDenied
from daihou.compliance.audit.models import AuditRecord
from daihou.compliance.audit.service import verify
from daihou.compliance.complaints.models import Complaint
from daihou.compliance.complaints.service import (
    ComplaintError,
    IllegalTransition,
    close,
    create_complaint,
    extend,
    history,
    record_investigation,
    reopen,
    resolve,
    respond,
)
from daihou.compliance.complaints.sla import ComplaintSettings, monthly_analysis, overdue_timers
from daihou.compliance.gate.holds import active_holds
from daihou.compliance.privacy.crypto import Keyring, use_keyring
from daihou.db.engine import transaction
from daihou.loans.models import Customer, Loan

CST = timezone(timedelta(hours=8))
CORA = Actor("cora", frozenset({"compliance-officer"}))
LI = Actor("li", frozenset({"collector-junior"}), team="team-a")
AUDITOR = Actor("audit", frozenset({"auditor"}))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=CST)


@pytest.fixture
def db(engine: Engine) -> Iterator[Engine]:
    with use_keyring(Keyring.generate()):
        seed(engine)
        yield engine


def seed(engine: Engine) -> None:
    with transaction(engine) as session:
        for username, role in (
            ("li", "collector-junior"),
            ("wang", "collector-senior"),
            ("cora", "compliance-officer"),
        ):
            session.add(User(username=username, password_hash="x", role_rows=[UserRole(role=role)]))
        session.add(Customer(id="C1", name="张三", id_number="x", phone="x"))
        session.add(
            Loan(
                id="L1",
                customer_id="C1",
                product="consumer",
                principal=Decimal("12000.00"),
                annual_rate=Decimal("0.12"),
                current_rate=Decimal("0.12"),
                term_months=12,
                method="equal-installment",
                disbursed_on=date(2025, 1, 15),
                outstanding_principal=Decimal("8000.00"),
            )
        )


def new(session: Session, received: str, *, actor: Actor = CORA, **kwargs: Any) -> Complaint:
    values: dict[str, Any] = {
        "channel": "hotline",
        "category": "other",
        "description": "催收电话太频繁",
        "received_at": at(received),
    }
    values.update(kwargs)
    return create_complaint(session, actor=actor, **values)


def test_lifecycle_with_hold_history_and_audit(db: Engine) -> None:
    with transaction(db) as session:
        c = new(
            session,
            "2025-09-30T15:00",
            actor=LI,
            category="harassment",
            loan_id="L1",
            collector_user_id="li",
        )
        assert (c.customer_id, c.state, c.priority) == ("C1", "received", "normal")
        assert c.investigation_due_at == at("2025-10-12T00:00")
        assert [h.kind for h in active_holds(session, "C1")] == ["complaint"]
        cid = c.id
    with transaction(db) as session:
        respond(
            session, actor=CORA, complaint_id=cid, note="已致电客户致歉", at=at("2025-10-01T09:00")
        )
        record_investigation(
            session,
            actor=CORA,
            complaint_id=cid,
            findings="录音显示一天拨打9次",
            complete=False,
            at=at("2025-10-09T10:00"),
        )
        record_investigation(
            session,
            actor=CORA,
            complaint_id=cid,
            findings="违反频次规定",
            at=at("2025-10-10T10:00"),
        )
        resolve(
            session,
            actor=CORA,
            complaint_id=cid,
            result="已处理催收员并反馈客户",
            fed_back_at=at("2025-10-11T16:00"),
            upheld=True,
        )
        assert active_holds(session, "C1")  # held until closed
        c = close(session, actor=CORA, complaint_id=cid, at=at("2025-10-13T09:00"))
        assert c.state == "closed" and c.hold_id is None
        assert active_holds(session, "C1") == []
        steps = [
            (e.action, e.to_state, e.actor_id)
            for e in history(session, actor=AUDITOR, complaint_id=cid)
        ]
        assert steps == [
            ("create", "received", "li"),
            ("respond", "responded", "cora"),
            ("investigate", "investigating", "cora"),
            ("investigate", "investigating", "cora"),
            ("resolve", "resolved", "cora"),
            ("close", "closed", "cora"),
        ]
        assert c.findings == "录音显示一天拨打9次\n违反频次规定"
        assert c.investigation_completed_at == at("2025-10-10T10:00")
        audited = list(
            session.scalars(
                select(AuditRecord.action).where(AuditRecord.object_type == "complaint")
            )
        )
        assert audited == [
            "complaint.create",
            "complaint.respond",
            "complaint.investigate",
            "complaint.investigate",
            "complaint.resolve",
            "complaint.close",
        ]
        assert verify(session).broken is None
    with transaction(db) as session:  # reopening places the hold again
        reopen(
            session,
            actor=CORA,
            complaint_id=cid,
            reason="客户不认可处理结果",
            at=at("2025-10-14T09:00"),
        )
        assert active_holds(session, "C1")


def test_hold_follows_the_settings(db: Engine) -> None:
    with transaction(db) as session:
        new(session, "2026-03-02T10:00", category="fees-interest", customer_id="C1")
        assert active_holds(session, "C1") == []  # fees are not a hold category by default
        settings = ComplaintSettings(hold_categories=("fees-interest",), hold_scope="loan")
        new(session, "2026-03-02T10:00", category="fees-interest", loan_id="L1", settings=settings)
        assert [(h.kind, h.loan_id) for h in active_holds(session, "C1")] == [("complaint", "L1")]
        new(
            session,
            "2026-03-02T10:00",
            category="harassment",
            settings=ComplaintSettings(hold_categories=()),
            customer_id="C1",
        )
        assert len(active_holds(session, "C1")) == 1


Step = Callable[[Session, int], object]


def RESPOND(s: Session, i: int) -> object:
    return respond(s, actor=CORA, complaint_id=i, note="n", at=at("2026-03-03T09:00"))


def INVESTIGATE(s: Session, i: int) -> object:
    return record_investigation(
        s, actor=CORA, complaint_id=i, findings="f", at=at("2026-03-03T10:00")
    )


def RESOLVE(s: Session, i: int) -> object:
    return resolve(s, actor=CORA, complaint_id=i, result="r", fed_back_at=at("2026-03-04T10:00"))


def CLOSE(s: Session, i: int) -> object:
    return close(s, actor=CORA, complaint_id=i, at=at("2026-03-05T10:00"))


def REOPEN(s: Session, i: int) -> object:
    return reopen(s, actor=CORA, complaint_id=i, reason="r", at=at("2026-03-06T10:00"))


def EXTEND(s: Session, i: int) -> object:
    return extend(s, actor=CORA, complaint_id=i, reason="r", at=at("2026-03-06T10:00"))


@pytest.mark.parametrize(
    ("before", "illegal"),
    [
        ([], INVESTIGATE),  # investigate before the first response
        ([], RESOLVE),
        ([], CLOSE),
        ([], REOPEN),
        ([RESPOND], RESPOND),  # respond twice
        ([RESPOND], RESOLVE),  # resolve without investigating
        ([RESPOND, INVESTIGATE], CLOSE),  # close before the result is fed back
        ([RESPOND, INVESTIGATE, RESOLVE], INVESTIGATE),
        ([RESPOND, INVESTIGATE, RESOLVE], EXTEND),  # nothing left to extend
        ([RESPOND, INVESTIGATE, RESOLVE, CLOSE], RESPOND),
        ([RESPOND, INVESTIGATE, RESOLVE, CLOSE], CLOSE),
    ],
)
def test_illegal_transitions_are_refused(db: Engine, before: list[Step], illegal: Step) -> None:
    with transaction(db) as session:
        cid = new(session, "2026-03-02T10:00").id
        for step in before:
            step(session, cid)
        state = session.get(Complaint, cid).state  # type: ignore[union-attr]
        with pytest.raises(IllegalTransition, match=f"is {state}; cannot"):
            illegal(session, cid)
        assert session.get(Complaint, cid).state == state  # type: ignore[union-attr]


def test_bad_input_lists_every_problem(db: Engine) -> None:
    with transaction(db) as session:
        with pytest.raises(ComplaintError) as caught:
            create_complaint(
                session,
                actor=CORA,
                channel="fax",
                category="rude",  # type: ignore[arg-type]
                description=" ",
                received_at=datetime(2026, 3, 2, 10, 0),
                loan_id="NOPE",
                collector_user_id="ghost",
            )
        message = str(caught.value)
        for part in (
            "channel 'fax'",
            "category 'rude'",
            "description is empty",
            "received_at must include a time zone",
            "no loan 'NOPE'",
            "no user 'ghost'",
        ):
            assert part in message, part
        cid = new(session, "2026-03-02T10:00").id
        with pytest.raises(ComplaintError, match="before the complaint was received"):
            respond(session, actor=CORA, complaint_id=cid, note="n", at=at("2026-03-01T10:00"))
        with pytest.raises(ComplaintError, match="loan 'L1' belongs to customer 'C1'"):
            new(session, "2026-03-02T10:00", loan_id="L1", customer_id="C2")


def test_who_may_take_and_handle_complaints(db: Engine) -> None:
    with transaction(db) as session:
        cid = new(session, "2026-03-02T10:00", actor=LI).id  # anyone at the front takes one
        with pytest.raises(PermissionDenied, match=r"complaint\.handle"):
            respond(session, actor=LI, complaint_id=cid, note="n", at=at("2026-03-02T11:00"))
        with pytest.raises(PermissionDenied, match=r"complaint\.create"):
            new(session, "2026-03-02T10:00", actor=AUDITOR)
        with pytest.raises(PermissionDenied, match=r"complaint\.view"):
            overdue_timers(session, now=at("2026-03-02T11:00"), actor=LI)
        assert overdue_timers(session, now=at("2026-03-02T11:00"), actor=AUDITOR) == []


def test_overdue_detection(db: Engine) -> None:
    with transaction(db) as session:
        a = new(session, "2026-03-06T17:30").id  # Friday: investigation due end of Wed 11th
        b = new(session, "2026-03-09T09:00", channel="regulator-referral").id
        respond(session, actor=CORA, complaint_id=b, note="n", at=at("2026-03-09T10:00"))

        assert overdue_timers(session, now=at("2026-03-07T17:30")) == []  # exactly 24 h
        alerts = overdue_timers(session, now=at("2026-03-07T17:31"))
        assert [(x.complaint.id, x.timer, x.overdue_by) for x in alerts] == [
            (a, "response", timedelta(minutes=1))
        ]
        respond(session, actor=CORA, complaint_id=a, note="n", at=at("2026-03-07T18:00"))
        assert overdue_timers(session, now=at("2026-03-11T23:59")) == []
        alerts = overdue_timers(session, now=at("2026-03-12T08:00"))
        assert [(x.complaint.id, x.timer, x.due_at) for x in alerts] == [
            (a, "investigation", at("2026-03-12T00:00"))
        ]
        late = at("2026-03-24T12:00")  # a: result due end of 21st, b: end of 24th
        alerts = overdue_timers(session, now=late)
        assert [(x.complaint.id, x.timer) for x in alerts] == [
            (a, "investigation"),
            (b, "investigation"),
            (a, "resolution"),
        ]
        assert alerts[0].overdue_by == late - at("2026-03-12T00:00")
        assert alerts[1].complaint.priority == "urgent"
        record_investigation(session, actor=CORA, complaint_id=a, findings="f", at=late)
        resolve(session, actor=CORA, complaint_id=a, result="r", fed_back_at=late)
        assert [(x.complaint.id, x.timer) for x in overdue_timers(session, now=late)] == [
            (b, "investigation")
        ]


def test_extension_moves_the_regulatory_deadline_once(db: Engine) -> None:
    with transaction(db) as session:
        cid = new(session, "2026-03-02T10:00").id
        respond(session, actor=CORA, complaint_id=cid, note="n", at=at("2026-03-02T11:00"))
        record_investigation(
            session, actor=CORA, complaint_id=cid, findings="f", at=at("2026-03-04T11:00")
        )
        day_16 = at("2026-03-18T09:00")
        assert [x.timer for x in overdue_timers(session, now=day_16)] == ["resolution"]
        with pytest.raises(ComplaintError, match="reason for the extension is empty"):
            extend(session, actor=CORA, complaint_id=cid, reason="  ", at=day_16)
        c = extend(
            session,
            actor=CORA,
            complaint_id=cid,
            reason="需调取外包机构录音",
            at=at("2026-03-16T09:00"),
        )
        assert c.regulatory_due_at == at("2026-04-02T00:00")  # received 2 Mar + 15 + 15 days
        assert c.extensions == 1
        assert overdue_timers(session, now=day_16) == []
        with pytest.raises(ComplaintError, match="at most 1"):
            extend(session, actor=CORA, complaint_id=cid, reason="again", at=day_16)
        event = history(session, actor=CORA, complaint_id=cid)[-1]
        assert event.action == "extend" and event.note.startswith("需调取外包机构录音")  # type: ignore[union-attr]
        twice = ComplaintSettings(max_extensions=2)
        c = extend(session, actor=CORA, complaint_id=cid, reason="again", at=day_16, settings=twice)
        assert c.regulatory_due_at == at("2026-04-17T00:00")


def test_monthly_analysis_on_a_hand_made_set(db: Engine) -> None:
    with transaction(db) as session:

        def go(cid: int, *steps: tuple[str, str]) -> None:
            for step, when in steps:
                if step == "respond":
                    respond(session, actor=CORA, complaint_id=cid, note="n", at=at(when))
                elif step == "investigate":
                    record_investigation(
                        session, actor=CORA, complaint_id=cid, findings="f", at=at(when)
                    )
                elif step == "progress":
                    record_investigation(
                        session,
                        actor=CORA,
                        complaint_id=cid,
                        findings="f",
                        at=at(when),
                        complete=False,
                    )
                else:
                    resolve(
                        session,
                        actor=CORA,
                        complaint_id=cid,
                        result="r",
                        fed_back_at=at(when),
                        upheld=step == "upheld",
                    )

        a = new(session, "2026-03-02T10:00", category="harassment", collector_user_id="li").id
        go(
            a,
            ("respond", "2026-03-02T12:00"),
            ("investigate", "2026-03-04T15:00"),
            ("upheld", "2026-03-10T10:00"),
        )
        b = new(
            session,
            "2026-03-05T09:00",
            channel="app",
            category="fees-interest",
            agency_id="agency-x",
        ).id
        go(
            b,
            ("respond", "2026-03-06T10:00"),
            ("investigate", "2026-03-12T10:00"),
            ("not upheld", "2026-03-15T10:00"),
        )
        c = new(
            session,
            "2026-03-20T11:00",
            channel="regulator-referral",
            category="collection-conduct",
            collector_user_id="li",
            agency_id="agency-x",
        ).id
        go(c, ("respond", "2026-03-20T12:00"), ("progress", "2026-03-24T12:00"))
        new(session, "2026-03-31T20:00", channel="email", category="privacy")
        e = new(session, "2026-03-01T01:00", channel="walk-in", collector_user_id="wang").id
        go(
            e,
            ("respond", "2026-03-01T09:00"),
            ("investigate", "2026-03-04T18:00"),
            ("not upheld", "2026-03-20T10:00"),
        )
        new(session, "2026-04-01T08:00", collector_user_id="li")  # April
        new(session, "2026-02-28T15:00", agency_id="agency-x")  # February

        march = monthly_analysis(session, month=date(2026, 3, 17), actor=AUDITOR)

    assert march.month == date(2026, 3, 1) and march.as_of == at("2026-04-01T00:00")
    assert march.total == 5 and march.upheld == 1
    assert march.by_category == {
        "collection-conduct": 1,
        "harassment": 1,
        "privacy": 1,
        "fees-interest": 1,
        "repayment-dispute": 0,
        "other": 1,
    }
    assert march.by_channel == {
        "hotline": 1,
        "app": 1,
        "letter": 0,
        "regulator-referral": 1,
        "email": 1,
        "walk-in": 1,
    }
    assert march.by_priority == {"normal": 4, "urgent": 1}
    assert march.by_collector == {"li": 2, "wang": 1}
    assert march.by_agency == {"agency-x": 2}
    figures = {k: (v.met, v.breached, v.pending) for k, v in march.sla.items()}
    assert figures == {
        "response": (3, 1, 1),  # b answered after 25 h; d still within 24 h at month end
        "investigation": (2, 2, 1),  # b finished late; c open past its deadline
        "resolution": (2, 1, 2),  # e fed back after day 15; c and d still running
    }
    assert march.sla["response"].rate == pytest.approx(0.75)
    assert march.sla_rate == pytest.approx(7 / 11)

    with transaction(db) as session:  # the same month seen later: d's response is now late
        later = monthly_analysis(session, month=date(2026, 3, 1), as_of=at("2026-04-03T00:00"))
        assert (later.sla["response"].breached, later.sla["resolution"].breached) == (2, 1)
        empty = monthly_analysis(session, month=date(2025, 1, 1), actor=SYSTEM)
        assert empty.total == 0 and empty.sla_rate is None
