"""Promises to pay: validation, kept (exact, within tolerance, late within grace),
broken, idempotence, kept rates, and the gate pausing contact while one is open."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from daihou.collection.casework import overdue_amount
from daihou.collection.contacts import ContactDenied, log_contact
from daihou.collection.gate_providers import register_case_providers
from daihou.collection.promises import (
    cancel_promise,
    evaluate_promises,
    kept_rates,
    list_promises,
    record_promise,
)
from daihou.compliance.gate.schema import ContactRequest
from daihou.compliance.gate.service import check_contact, register_providers
from daihou.db.engine import transaction
from daihou.loans.models import Installment
from daihou.payments.models import Transaction
from daihou.payments.service import reverse_transaction
from tests.collection.contact_helpers import (
    LI,
    SUPERVISOR,
    TODAY,
    WANG,
    at,
    case_of,
    make_book,
    pay,
    set_today,
)

D = Decimal
PROMISED = date(2026, 3, 5)


@pytest.fixture
def cases(engine: Engine, tmp_path: Path) -> dict[str, int]:
    return make_book(engine, tmp_path, {"L1": {}, "L2": {}, "L3": {}, "L4": {}})


def promise(engine: Engine, case_id: int, amount: str, on: date = PROMISED, actor=LI):
    with transaction(engine) as s:
        return record_promise(s, actor=actor, case_id=case_id, amount=amount, promised_on=on)


def evaluate(engine: Engine, day: date):
    with transaction(engine) as s:
        return evaluate_promises(s, day)


def status(engine: Engine, case_id: int) -> tuple[str, Decimal | None, date | None, int]:
    with transaction(engine) as s:
        (p,) = list_promises(s, actor=LI, case_id=case_id)
        case = case_of(s, case_id)
        return p.status, p.paid, case.promise_until, case.broken_promises


def test_the_overdue_total_bounds_the_amount_and_the_horizon_bounds_the_date(
    engine: Engine, cases: dict[str, int]
) -> None:
    with transaction(engine) as s:
        due = s.scalars(
            select(Installment).where(Installment.loan_id == "L1", Installment.due_date < TODAY)
        ).all()
        overdue = overdue_amount(s, "L1", TODAY)
    assert len(due) == 3
    assert overdue == sum((i.principal_due + i.interest_due for i in due), D(0))
    case_id = cases["L1"]
    for amount, message in (("0", "above zero"), ("-5", "above zero"), ("1.001", "two decimals")):
        with pytest.raises(ValueError, match=message):
            promise(engine, case_id, amount)
    with pytest.raises(ValueError, match="more than the overdue total"):
        promise(engine, case_id, str(overdue + D("0.01")))
    with pytest.raises(ValueError, match="must be from 2026-03-02 to 2026-04-01"):
        promise(engine, case_id, "100.00", on=date(2026, 4, 2))
    with pytest.raises(ValueError, match="must be from"):
        promise(engine, case_id, "100.00", on=date(2026, 3, 1))
    full = promise(engine, case_id, str(overdue), on=date(2026, 4, 1))
    assert full.until == date(2026, 4, 3) and full.tolerance == (overdue / 100).quantize(D("0.01"))
    with pytest.raises(ValueError, match="already has open promise"):
        promise(engine, case_id, "100.00")
    with pytest.raises(PermissionError):
        promise(engine, cases["L2"], "100.00", actor=WANG)


def test_kept_exactly_within_tolerance_and_late_within_grace(
    engine: Engine, cases: dict[str, int]
) -> None:
    for loan in ("L1", "L2", "L3", "L4"):
        promise(engine, cases[loan], "1000.00")  # tolerance max(10.00, 1%) = 10.00
    set_today(engine, date(2026, 3, 9))
    pay(engine, "L1", "1000.00", PROMISED, "P1")  # exact, on the date
    pay(engine, "L2", "990.00", date(2026, 3, 4), "P2")  # 10.00 short: within tolerance
    pay(engine, "L3", "989.99", PROMISED, "P3")  # one fen more short: not enough
    pay(engine, "L4", "1000.00", date(2026, 3, 7), "P4")  # the last day of grace
    run = evaluate(engine, PROMISED)
    assert (
        sorted(run.kept) == sorted(p for p in _promise_ids(engine, cases, "L1", "L2"))
        and run.broken == []
    )
    assert status(engine, cases["L1"]) == ("kept", D("1000.00"), None, 0)
    assert status(engine, cases["L2"]) == ("kept", D("990.00"), None, 0)
    assert status(engine, cases["L3"]) == ("open", None, date(2026, 3, 7), 0)
    assert evaluate(engine, date(2026, 3, 6)).kept == []  # L4 paid on the 7th: not yet
    run = evaluate(engine, date(2026, 3, 7))
    assert run.kept == _promise_ids(engine, cases, "L4") and run.broken == []
    run = evaluate(engine, date(2026, 3, 8))
    assert run.broken == _promise_ids(engine, cases, "L3") and run.kept == []
    assert status(engine, cases["L3"]) == ("broken", D("989.99"), None, 1)
    assert status(engine, cases["L4"]) == ("kept", D("1000.00"), None, 0)
    again = evaluate(engine, date(2026, 3, 8))
    assert again.kept == again.broken == []
    assert status(engine, cases["L3"])[3] == 1  # evaluating twice counts once


def _promise_ids(engine: Engine, cases: dict[str, int], *loans: str) -> list[int]:
    with transaction(engine) as s:
        return [list_promises(s, actor=LI, case_id=cases[loan])[0].id for loan in loans]


def test_payments_before_the_promise_after_grace_or_reversed_do_not_count(
    engine: Engine, cases: dict[str, int]
) -> None:
    set_today(engine, date(2026, 3, 1))
    pay(engine, "L1", "500.00", date(2026, 3, 1), "EARLY")
    set_today(engine, TODAY)
    promise(engine, cases["L1"], "1000.00")
    promise(engine, cases["L2"], "1000.00")
    set_today(engine, date(2026, 3, 9))
    pay(engine, "L1", "600.00", date(2026, 3, 8), "LATE")  # a day after the grace ends
    pay(engine, "L2", "1000.00", PROMISED, "BOUNCED")
    with transaction(engine) as s:
        bounced = s.scalars(select(Transaction).where(Transaction.reference == "BOUNCED")).one()
        reverse_transaction(session=s, transaction_id=bounced.id, reason="returned by the bank")
    run = evaluate(engine, date(2026, 3, 8))
    assert sorted(run.broken) == sorted(_promise_ids(engine, cases, "L1", "L2"))
    assert status(engine, cases["L1"]) == ("broken", D("0.00"), None, 1)
    assert status(engine, cases["L2"]) == ("broken", D("0.00"), None, 1)


def test_kept_rate_per_collector_by_count_and_amount(engine: Engine, cases: dict[str, int]) -> None:
    promise(engine, cases["L1"], "1000.00")
    promise(engine, cases["L2"], "500.00")
    promise(engine, cases["L3"], "300.00")
    promise(engine, cases["L4"], "200.00", actor=SUPERVISOR)
    set_today(engine, date(2026, 3, 9))
    pay(engine, "L1", "1000.00", PROMISED, "K1")
    pay(engine, "L2", "500.00", PROMISED, "K2")
    pay(engine, "L4", "50.00", PROMISED, "B4")
    evaluate(engine, date(2026, 3, 8))
    with transaction(engine) as s:
        rates = kept_rates(s, actor=SUPERVISOR, since=date(2026, 3, 1), until=date(2026, 3, 31))
        none = kept_rates(s, actor=SUPERVISOR, since=date(2026, 4, 1), until=date(2026, 4, 30))
        only_sv = kept_rates(
            s, actor=SUPERVISOR, since=date(2026, 3, 1), until=date(2026, 3, 31), collector="sv"
        )
    li, sv = rates
    assert (li.collector, li.kept, li.broken) == ("li", 2, 1)
    assert (li.kept_amount, li.promised_amount) == (D("1500.00"), D("1800.00"))
    assert li.rate == D("66.67") and li.amount_rate == D("83.33")
    assert (sv.collector, sv.kept, sv.broken, sv.rate, sv.amount_rate) == (
        "sv",
        0,
        1,
        D("0.00"),
        D("0.00"),
    )
    assert none == [] and only_sv == [sv]


def test_an_open_promise_pauses_contact_until_it_is_settled(
    engine: Engine, cases: dict[str, int]
) -> None:
    case_id = cases["L1"]
    with transaction(engine) as s:
        log_contact(
            s,
            actor=LI,
            case_id=case_id,
            channel="call",
            outcome="promise",
            at=at("2026-03-02T10:00:00"),
            promise_amount="800.00",
            promise_date=PROMISED,
        )
    with pytest.raises(ContactDenied, match="open-promise"), transaction(engine) as s:
        log_contact(
            s,
            actor=LI,
            case_id=case_id,
            channel="sms",
            outcome="sent",
            at=at("2026-03-03T10:00:00"),
        )
    request = ContactRequest(
        customer_id="C-L1",
        channel="call",
        party="borrower",
        at=at("2026-03-04T10:00:00"),
        loan_id="L1",
    )
    previous = register_case_providers()
    try:
        with transaction(engine) as s:
            assert check_contact(s, request).rule == "cn-2026/open-promise"
    finally:
        register_providers(previous)
    evaluate(engine, date(2026, 3, 8))
    assert status(engine, case_id) == ("broken", D("0.00"), None, 1)
    with transaction(engine) as s:
        log_contact(
            s,
            actor=LI,
            case_id=case_id,
            channel="sms",
            outcome="sent",
            at=at("2026-03-08T10:00:00"),
        )


def test_a_cancelled_promise_counts_neither_way(engine: Engine, cases: dict[str, int]) -> None:
    p = promise(engine, cases["L1"], "100.00")
    with pytest.raises(ValueError, match="reason"), transaction(engine) as s:
        cancel_promise(s, actor=LI, promise_id=p.id, reason=" ")
    with transaction(engine) as s:
        cancel_promise(s, actor=LI, promise_id=p.id, reason="recorded on the wrong case")
    assert status(engine, cases["L1"]) == ("cancelled", None, None, 0)
    assert evaluate(engine, date(2026, 3, 8)).broken == []
    promise(engine, cases["L1"], "100.00")  # a new one may now be recorded
