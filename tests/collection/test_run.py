"""The daily run: idempotency, refusals, holds, promises, the gate, closing cases, 共债."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select, update

from daihou.auth.actor import SYSTEM, Actor
from daihou.auth.permissions import PermissionDenied
from daihou.collection.casefile import case_file
from daihou.collection.cases import case_view
from daihou.collection.models import CaseStatusChange, CollectionCase
from daihou.collection.run import NotClosed, run_collections
from daihou.collection.tables import CollectionTask, CollectionTreatment
from daihou.collection.treatments import plan_treatments
from daihou.compliance.gate.holds import opt_out, place_hold, release_hold
from daihou.db.engine import transaction
from daihou.eod.runner import run_eod
from daihou.loans import access
from daihou.loans.models import Loan
from daihou.policy.loader import load_pack
from tests.collection.conftest import FIRST_DUE
from tests.collection.helpers import actions, close_and_run, open_case, treatments
from tests.eod.helpers import pay

OFFICER = Actor(user_id="officer", roles=frozenset({"compliance-officer"}))
T5 = FIRST_DUE + timedelta(days=5)


def snapshot(engine: Engine) -> list[tuple[object, ...]]:
    with transaction(engine) as s:
        t = CollectionTreatment
        rows = s.execute(select(t.id, t.loan_id, t.rule_id, t.slot, t.status).order_by(t.id)).all()
        tasks = s.execute(select(CollectionTask.id, CollectionTask.status)).all()
        changes = s.scalar(select(func.count()).select_from(CaseStatusChange))
    return [tuple(r) for r in rows] + [tuple(r) for r in tasks] + [(changes,)]


def test_run_is_idempotent(book: Engine) -> None:
    run_eod(book, through=T5)
    first = run_collections(book, T5)
    assert not first.already_run and first.counts["cases"]["opened"] == 7
    before = snapshot(book)
    again = run_collections(book, T5)
    assert again.already_run and again.counts == first.counts
    # the steps are idempotent on their own too (a crashed run is simply run again)
    with transaction(book) as s:
        result = plan_treatments(s, business_date=T5, settings=load_pack().collections)
        assert result.inserted == 0 and result.existing == len(result.planned) > 0
    assert snapshot(book) == before


def test_refuses_dates_not_closed_or_not_latest(book: Engine) -> None:
    with pytest.raises(NotClosed, match="has not closed"):
        run_collections(book, FIRST_DUE)
    run_eod(book, through=FIRST_DUE)
    with pytest.raises(NotClosed, match="latest close"):
        run_collections(book, FIRST_DUE - timedelta(days=1))
    assert run_collections(book).business_date == FIRST_DUE  # default: latest closed


def test_hold_stops_every_treatment_until_released(book: Engine) -> None:
    run_eod(book, through=T5)
    with transaction(book) as s:
        hold = place_hold(s, customer_id="C-L2", kind="dispute", reason="disputes", actor=OFFICER)
    report = run_collections(book)
    held = [r for r in treatments(book, report.business_date, status=None) if r.loan_id == "L2"]
    assert held and {r.status for r in held} == {"skipped-hold"}
    assert {r.action for r in held} >= {"call", "contact-call", "contact-repair", "visit"}
    assert actions(book, report.business_date, "L3")["call"] == 1  # others go on
    with transaction(book) as s:
        kinds = s.scalars(select(CollectionTask.kind).where(CollectionTask.loan_id == "L2"))
        assert list(kinds) == []
        release_hold(s, hold_id=hold.id, reason="resolved", actor=OFFICER)
    nxt = close_and_run(book, T5 + timedelta(days=1)).business_date
    assert actions(book, nxt, "L2")["call"] == 1


def test_loan_level_hold_spares_the_other_loan(book: Engine) -> None:
    run_eod(book, through=T5)
    with transaction(book) as s:
        place_hold(s, customer_id="C-L1", loan_id="L1", kind="complaint", reason="x", actor=OFFICER)
    run_collections(book, T5)
    rows = treatments(book, T5, status=None)
    assert {r.status for r in rows if r.loan_id == "L1"} == {"skipped-hold"}
    assert {r.status for r in rows if r.loan_id == "L1B"} == {"planned"}


def test_open_promise_pauses_then_treatments_resume(book: Engine) -> None:
    run_eod(book, through=FIRST_DUE + timedelta(days=2))
    run_collections(book)
    with transaction(book) as s:
        s.execute(
            update(CollectionCase)
            .where(CollectionCase.loan_id == "L4")
            .values(promise_until=FIRST_DUE + timedelta(days=4))
        )
    d = close_and_run(book, FIRST_DUE + timedelta(days=3)).business_date
    paused = [r for r in treatments(book, d, status=None) if r.loan_id == "L4"]
    assert paused and {r.status for r in paused} == {"skipped-promise"}
    d = close_and_run(book, FIRST_DUE + timedelta(days=4)).business_date  # contacts on the 5th
    assert actions(book, d, "L4") == {"call": 1, "contact-call": 1}


def test_opt_out_is_denied_by_the_gate_with_its_rule(book: Engine) -> None:
    with transaction(book) as s:
        opt_out(s, customer_id="C-L3", channel="sms", reason="退订", actor=OFFICER)
    run_eod(book, through=FIRST_DUE)
    run_collections(book)
    rows = {r.loan_id: r for r in treatments(book, FIRST_DUE, status=None) if r.action == "sms"}
    assert rows["L3"].status == "denied-by-gate" and rows["L3"].gate_rule
    assert rows["L2"].status == "queued" and rows["L2"].gate_rule is None
    assert rows["L2"].message_id is not None and rows["L3"].message_id is None
    assert rows["L3"].case_id is None  # T+0 SMS comes before the case


def test_cases_close_on_cure_settlement_and_write_off(book: Engine) -> None:
    run_eod(book, through=FIRST_DUE + timedelta(days=1))
    run_collections(book)
    assert open_case(book, "L1") is not None
    pay(book, "L1", "3000.00", "P-CURE")  # more than installment 1 with penalties
    with transaction(book) as s:
        s.execute(update(Loan).where(Loan.id == "L2").values(status="written-off"))
        s.execute(update(Loan).where(Loan.id == "L3").values(status="closed"))
    close_and_run(book, FIRST_DUE + timedelta(days=2))
    with transaction(book) as s:
        closed = dict(
            s.execute(
                select(CollectionCase.loan_id, CollectionCase.close_reason).where(
                    CollectionCase.status == "closed"
                )
            ).all()
        )
        assert closed == {"L1": "cured", "L2": "written-off", "L3": "settled"}
        reasons = set(
            s.scalars(
                select(CaseStatusChange.reason).where(
                    CaseStatusChange.field == "status", CaseStatusChange.new_value == "closed"
                )
            )
        )
        assert reasons == {"cured", "written-off", "settled"}
    assert open_case(book, "L4") is not None


def test_case_view_shows_the_customers_other_loans(book: Engine) -> None:
    run_eod(book, through=FIRST_DUE + timedelta(days=3))
    run_collections(book)
    case = open_case(book, "L1")
    assert case is not None
    with transaction(book) as s:
        view = case_view(s, case_id=case.id, actor=SYSTEM)
        assert view.loan.loan_id == "L1" and view.loan.dpd == 3
        assert [x.loan_id for x in view.other_loans] == ["L1B"]
        other = view.other_loans[0]
        assert other.dpd == 3 and other.overdue > 0 and other.open_case_id is not None
        assert view.loan.overdue > other.overdue  # 12,000 vs 5,000 principal
        assert [(h.field, h.new_value) for h in view.history] == [
            ("status", "open"),
            ("stage", "early"),
        ]


def test_other_loans_and_refusals_follow_the_callers_scope(book: Engine) -> None:
    """共债: a collector sees the customer's other loan only when its case is theirs too
    (the loan search's rule), and a refusal names the caller's scope, not the owner."""
    run_eod(book, through=FIRST_DUE + timedelta(days=3))
    run_collections(book)
    mine, theirs = open_case(book, "L1"), open_case(book, "L1B")
    assert mine is not None and theirs is not None
    if mine.id > theirs.id:  # the other collector's case is the customer's latest
        mine, theirs = theirs, mine
    with transaction(book) as s:
        s.execute(
            update(CollectionCase)
            .where(CollectionCase.id == mine.id)
            .values(owner_user_id="ann", team="north")
        )
        s.execute(
            update(CollectionCase)
            .where(CollectionCase.id == theirs.id)
            .values(owner_user_id="bob-owner", team="south")
        )
    ann = Actor("ann", frozenset({"collector-junior"}), "north")
    north = Actor("sup-n", frozenset({"supervisor"}), "north")
    with transaction(book) as s:
        assert case_view(s, case_id=mine.id, actor=ann).other_loans == []
        # the case page: its customer is ann's too, though their latest case is bob's
        page = case_file(s, actor=ann, case_id=mine.id)
        assert page.customer.customer_id == mine.customer_id and page.view.other_loans == []
        assert case_view(s, case_id=mine.id, actor=north).other_loans == []
        others = case_view(s, case_id=mine.id, actor=SYSTEM).other_loans
        assert [x.loan_id for x in others] == [theirs.loan_id]
        with pytest.raises(PermissionDenied) as refused:
            case_view(s, case_id=theirs.id, actor=ann)
        message = str(refused.value)
        assert "outside their scope (own)" in message
        assert "bob-owner" not in message and "south" not in message
    with transaction(book) as s:  # the same owner: the other loan is shown again
        s.execute(
            update(CollectionCase).where(CollectionCase.id == theirs.id).values(owner_user_id="ann")
        )
    with transaction(book) as s:
        view = case_view(s, case_id=mine.id, actor=ann)
        assert [(x.loan_id, x.open_case_id) for x in view.other_loans] == [
            (theirs.loan_id, theirs.id)
        ]
        assert view.other_loans[0].overdue > 0


def test_the_case_page_refuses_what_its_parts_refuse(book: Engine) -> None:
    """The case page reads and authorises the case once; its loan and customer parts
    still check ``loan.view`` on the loan's latest open case, so a case that is not it
    (closed, or an older open case of the same loan) is refused as ``view_loan`` is."""
    run_eod(book, through=FIRST_DUE + timedelta(days=3))
    run_collections(book)
    mine = open_case(book, "L1")
    assert mine is not None
    ann = Actor("ann", frozenset({"collector-junior"}), "north")
    with transaction(book) as s:
        s.execute(
            update(CollectionCase)
            .where(CollectionCase.id == mine.id)
            .values(owner_user_id="ann", team="north")
        )
    with transaction(book) as s:
        assert case_file(s, actor=ann, case_id=mine.id).loan.loan_id == "L1"
    with transaction(book) as s:  # a newer open case of the same loan, someone else's
        newer = CollectionCase(
            loan_id="L1",
            customer_id=mine.customer_id,
            status="open",
            opened_on=mine.opened_on,
            stage=mine.stage,
            strategy=mine.strategy,
            arm=mine.arm,
            owner_user_id="bob-owner",
            team="south",
        )
        s.add(newer)
    with transaction(book) as s:
        assert case_view(s, case_id=mine.id, actor=ann).case.id == mine.id
        with pytest.raises(PermissionDenied):
            access.view_loan(s, actor=ann, loan_id="L1")
        with pytest.raises(PermissionDenied):
            case_file(s, actor=ann, case_id=mine.id)
    with transaction(book) as s:  # only ann's case, now closed: the loan has no open case
        s.execute(
            update(CollectionCase)
            .where(CollectionCase.loan_id == "L1")
            .values(status="closed", owner_user_id="ann", team="north")
        )
    with transaction(book) as s:
        assert case_view(s, case_id=mine.id, actor=ann).case.status == "closed"
        with pytest.raises(PermissionDenied):
            access.view_loan(s, actor=ann, loan_id="L1")
        with pytest.raises(PermissionDenied):
            case_file(s, actor=ann, case_id=mine.id)


def test_treatment_rows_carry_what_the_outbox_needs(book: Engine) -> None:
    run_eod(book, through=FIRST_DUE)
    run_collections(book)
    (sms,) = [r for r in treatments(book, FIRST_DUE) if r.loan_id == "L5"]
    assert (sms.action, sms.channel, sms.party, sms.template) == (
        "sms",
        "sms",
        "borrower",
        "overdue-t0",
    )
    assert sms.work_date == FIRST_DUE + timedelta(days=1)
    # 09:00 in Shanghai is 01:00 UTC
    assert sms.planned_at == datetime(2026, 2, 16, 1, 0)
    assert sms.planned_at.replace(tzinfo=UTC) > datetime(2026, 2, 15, 16, 0, tzinfo=UTC)
    assert sms.rule_id == "t0-sms" and sms.arm == "champion" and sms.dpd == 0
    assert sms.business_date == date(2026, 2, 15)


def test_post_step_hooks_run_in_the_run_and_report(book: Engine) -> None:
    from daihou.collection.run import POST_STEPS, register_post_step

    seen: list[tuple[date, int]] = []

    def promises(session: object, d: date, pack: object) -> dict[str, int]:
        from sqlalchemy.orm import Session

        assert isinstance(session, Session)
        n = session.scalar(select(func.count()).select_from(CollectionCase)) or 0
        seen.append((d, n))
        return {"evaluated": n}

    run_eod(book, through=FIRST_DUE + timedelta(days=1))
    report = run_collections(book, hooks=[("promises", promises)])
    assert seen == [(FIRST_DUE + timedelta(days=1), 7)]  # after the cases were opened
    assert report.counts["promises"] == {"evaluated": 7}
    register_post_step("test-step", promises)
    try:
        with pytest.raises(ValueError, match="already"):
            register_post_step("test-step", promises)
        report = close_and_run(book, FIRST_DUE + timedelta(days=2))
        assert report.counts["test-step"] == {"evaluated": 7}
    finally:
        POST_STEPS[:] = [(n, h) for n, h in POST_STEPS if n != "test-step"]


def test_default_run_settles_promises_before_planning(book: Engine) -> None:
    """A promise whose last day has passed is settled by the run's pre-step, so the
    same run already plans the next day's calls (no pause); a kept one closes too."""
    from daihou.collection.contact_models import PromiseToPay
    from daihou.collection.promises import record_promise

    close_and_run(book, FIRST_DUE)
    close_and_run(book, FIRST_DUE + timedelta(days=1))
    owner = Actor(user_id="col9", roles=frozenset({"collector-junior"}))
    with transaction(book) as s:
        case = s.scalars(select(CollectionCase).where(CollectionCase.loan_id == "L2")).one()
        case.owner_user_id = "col9"
        promise = record_promise(
            s,
            actor=owner,
            case_id=case.id,
            amount="100.00",
            promised_on=FIRST_DUE + timedelta(days=3),
        )
        until, promise_id = promise.until, promise.id
    d = FIRST_DUE + timedelta(days=2)
    while d < until:  # the run for d plans d + 1, which the promise still covers
        report = close_and_run(book, d)
        assert report.counts["promises"] == {"kept": 0, "broken": 0}, d
        assert {r.status for r in treatments(book, d, status=None) if r.loan_id == "L2"} <= {
            "skipped-promise"
        }
        d += timedelta(days=1)
    report = close_and_run(book, d)  # the promise's last day: still open, not yet broken
    assert report.counts["promises"] == {"kept": 0, "broken": 0}
    d += timedelta(days=1)
    report = close_and_run(book, d)  # the day after the promise's last day
    assert report.counts["promises"] == {"kept": 0, "broken": 1}
    assert "placements" in report.counts and "legal_files" in report.counts
    assert actions(book, d, "L2")["call"] >= 1
    with transaction(book) as s:
        assert s.get(PromiseToPay, promise_id).status == "broken"  # type: ignore[union-attr]
