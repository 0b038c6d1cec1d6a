"""The batched contact gate (``check_batch``) decides exactly as ``check_contact`` one by
one, against real collection cases: quiet hours, caps per debtor and per number that
count the batch's own earlier contacts, holds, open and expired promises, lost contact
and third parties (also after the batch's own call found the number invalid). The case
dates come from the batched ``case_dates`` provider in one query; a gate with only the
per-subject providers decides the same."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select, update

from daihou.auth.actor import SYSTEM
from daihou.collection.gate_providers import case_providers
from daihou.collection.models import CollectionCase
from daihou.compliance.gate import ContactRequest, Providers, check_contact, record_attempt
from daihou.compliance.gate.batch import check_batch
from daihou.compliance.gate.holds import place_hold
from daihou.compliance.gate.models import ContactAttempt, ContactDenial
from daihou.compliance.gate.packs import load_rules
from daihou.compliance.gate.schema import Outcome
from daihou.db.engine import session_factory, transaction
from tests.collection.contact_helpers import TODAY, at, make_book

Result = tuple[bool, str | None, datetime | None]


def _book(engine: Engine, tmp_path: Path) -> None:
    make_book(engine, tmp_path, {f"L{n}": {} for n in range(1, 7)})
    c = CollectionCase
    with transaction(engine) as s:
        s.execute(update(c).where(c.loan_id == "L1").values(promise_until=TODAY + timedelta(2)))
        s.execute(
            update(c)
            .where(c.loan_id == "L2")
            .values(contact_status="lost", lost_contact_since=TODAY - timedelta(1))
        )
        s.execute(
            update(c)
            .where(c.loan_id == "L3")
            .values(contact_status="lost", lost_contact_since=TODAY + timedelta(1))
        )
        s.execute(update(c).where(c.loan_id == "L6").values(promise_until=TODAY - timedelta(1)))
        place_hold(
            s, customer_id="C-L4", loan_id="L4", kind="dispute", reason="disputed", actor=SYSTEM
        )


def _requests() -> list[tuple[ContactRequest, Outcome]]:
    def call(
        loan: str | None,
        clock: str,
        *,
        customer: str | None = None,
        party: str = "borrower",
        address: str | None = None,
        channel: str = "call",
    ) -> ContactRequest:
        return ContactRequest(
            customer_id=customer or f"C-{loan}",
            channel=channel,
            party=party,  # type: ignore[arg-type]
            at=at(f"{TODAY.isoformat()}T{clock}"),
            tz="Asia/Shanghai",
            loan_id=loan,
            address=address,
            purpose="leave-message" if party == "third-party" else "collection",
        )

    out: list[tuple[ContactRequest, Outcome]] = [
        (call("L1", "10:00"), "connected"),  # open promise: paused
        (call(None, "10:05", customer="C-L1"), "connected"),  # any loan's promise
        (call("L1", "10:10", channel="sms", address="13800000001"), "sent"),
        (call("L2", "10:00", party="third-party"), "connected"),  # lost since yesterday
        (call("L2", "10:30"), "unanswered"),
        (call("L3", "10:00", party="third-party"), "connected"),  # lost only tomorrow
        (call("L3", "07:30"), "connected"),  # before the allowed hours
        (call("L3", "22:30"), "connected"),  # after them
        (call("L4", "11:00"), "connected"),  # the loan's dispute hold
        (call("L6", "09:00"), "connected"),  # a promise that ended yesterday
    ]
    # four conversations with one debtor in a day: the cap of three stops the fourth
    out += [(call("L6", f"1{n}:00"), "connected") for n in range(4)]
    # seven unanswered calls to one number, from two debtors: six per number a day
    out += [
        (call("L5" if n % 2 else "L3", f"15:{n:02d}", address="13800000005"), "unanswered")
        for n in range(7)
    ]
    # a borrower's number found invalid opens third-party contact at once: the batch
    # must see its own attempt when it reads reachability
    out += [
        (call("L5", "16:00"), "invalid-number"),
        (call("L5", "16:05", party="third-party"), "connected"),
    ]
    return out


def _decide(engine: Engine, providers: Providers, *, batched: bool) -> tuple[list[Result], ...]:
    asks = _requests()
    rules = load_rules(on=TODAY)
    make = session_factory(engine)
    with make() as s:
        s.begin()
        if batched:
            decisions = check_batch(
                s,
                [r for r, _ in asks],
                rules=rules,
                providers=providers,
                outcomes=[o for _, o in asks],
            )
        else:
            decisions = []
            for request, outcome in asks:
                decision = check_contact(s, request, rules=rules, providers=providers)
                if decision.allowed:
                    record_attempt(s, request=request, outcome=outcome, providers=providers)
                decisions.append(decision)
        a, d = ContactAttempt, ContactDenial
        attempts = sorted(s.execute(select(a.customer_id, a.party, a.outcome)).tuples())
        denials = sorted(s.execute(select(d.customer_id, d.party, d.rule)).tuples())
        s.rollback()
    results = [(x.allowed, x.rule, x.next_allowed_at) for x in decisions]
    return results, attempts, denials  # type: ignore[return-value]


def test_batch_decides_as_one_by_one_on_real_cases(engine: Engine, tmp_path: Path) -> None:
    _book(engine, tmp_path)
    providers = case_providers()
    expected = _decide(engine, providers, batched=False)
    assert _decide(engine, providers, batched=True) == expected
    per_subject = Providers(
        open_promise_until=providers.open_promise_until,
        lost_contact_since=providers.lost_contact_since,
    )
    assert _decide(engine, per_subject, batched=True) == expected
    assert _decide(engine, per_subject, batched=False) == expected

    results = expected[0]
    rules = [rule and rule.removeprefix("cn-2026/") for _, rule, _ in results]
    assert rules[:10] == [
        "open-promise",
        "open-promise",
        "open-promise",
        None,
        None,
        "third-party",
        "quiet-hours",
        "quiet-hours",
        "holds",
        None,
    ]
    # the 09:00 call was a conversation too: 10:00 and 11:00 are the 2nd and 3rd
    assert rules[10:14] == [None, None, "daily-connected-calls", "daily-connected-calls"]
    assert rules[14:21] == [None] * 6 + ["daily-unanswered-per-number"]
    assert rules[21:] == [None, None]
    # the promise pauses contact to the day after it ends
    assert results[0][2] is not None and results[0][2].date() == TODAY + timedelta(3)
    # denials and attempts are written alike: one denial per refused request
    attempts, denials = expected[1], expected[2]
    assert len(denials) == sum(not allowed for allowed, _, _ in results)
    assert len(attempts) == sum(allowed for allowed, _, _ in results)


def test_case_dates_answers_many_subjects_at_once(engine: Engine, tmp_path: Path) -> None:
    _book(engine, tmp_path)
    providers = case_providers()
    assert providers.case_dates is not None
    subjects: list[tuple[str, str | None]] = [
        ("C-L1", "L1"),
        ("C-L1", None),
        ("C-L1", "L2"),  # not that customer's loan
        ("C-L2", "L2"),
        ("C-L3", "L3"),
        ("C-L6", "L6"),
        ("C-NONE", None),
    ]
    with transaction(engine) as s:
        found = providers.case_dates(s, subjects=subjects, on=TODAY)
        one_by_one = {}
        for customer, loan in subjects:
            assert providers.open_promise_until is not None
            assert providers.lost_contact_since is not None
            pair = (
                providers.open_promise_until(s, customer_id=customer, loan_id=loan, on=TODAY),
                providers.lost_contact_since(s, customer_id=customer, loan_id=loan, on=TODAY),
            )
            if pair != (None, None):
                one_by_one[(customer, loan)] = pair
    assert found == one_by_one
    assert found == {
        ("C-L1", "L1"): (TODAY + timedelta(2), None),
        ("C-L1", None): (TODAY + timedelta(2), None),
        ("C-L2", "L2"): (None, TODAY - timedelta(1)),
    }


def test_a_closed_case_asks_nothing(engine: Engine, tmp_path: Path) -> None:
    _book(engine, tmp_path)
    with transaction(engine) as s:
        s.execute(
            update(CollectionCase).where(CollectionCase.loan_id == "L1").values(status="closed")
        )
    providers = case_providers()
    assert providers.case_dates is not None
    with transaction(engine) as s:
        assert providers.case_dates(s, subjects=[("C-L1", "L1")], on=date(2026, 3, 2)) == {}
