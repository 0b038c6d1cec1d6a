"""``log_contacts`` writes what ``log_contact`` writes one by one: the same gate
decisions (holds, quiet hours, open and new promises, caps, lost contact), attempts,
denials, contact logs, promises, holds, case changes and audit records — also when a
debtor comes twice in one list and the first contact changes the gate's answer to the
second."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text, update
from sqlalchemy.orm import Session

from daihou.auth.actor import SYSTEM
from daihou.collection.contact_models import ContactLog, PromiseToPay
from daihou.collection.contacts import ContactDenied, log_contact
from daihou.collection.contacts_batch import Contact, log_contacts
from daihou.collection.models import CaseStatusChange, CollectionCase
from daihou.compliance.audit.models import AuditRecord
from daihou.compliance.gate.holds import place_hold
from daihou.compliance.gate.models import ContactAttempt, ContactDenial, Hold
from daihou.db.engine import session_factory, transaction
from tests.collection.contact_helpers import LI, TODAY, WANG, at, make_book


def _book(engine: Engine, tmp_path: Path) -> dict[str, int]:
    ids = make_book(engine, tmp_path, {f"L{n}": {} for n in range(1, 9)})
    c = CollectionCase
    with transaction(engine) as s:
        s.execute(update(c).where(c.loan_id == "L1").values(promise_until=TODAY + timedelta(2)))
        s.execute(
            update(c)
            .where(c.loan_id == "L2")
            .values(contact_status="lost", lost_contact_since=TODAY - timedelta(1))
        )
        s.execute(update(c).where(c.loan_id == "L6").values(promise_until=TODAY - timedelta(1)))
        place_hold(
            s, customer_id="C-L4", loan_id="L4", kind="dispute", reason="disputed", actor=SYSTEM
        )
    return ids


def _contacts(ids: dict[str, int]) -> list[Contact]:
    def call(loan: str, clock: str, outcome: str, **kw: Any) -> Contact:
        return Contact(ids[loan], "call", outcome, at(f"{TODAY.isoformat()}T{clock}"), **kw)

    promise = {"promise_amount": Decimal("500.00"), "promise_date": TODAY + timedelta(3)}
    return [
        call("L1", "10:00", "rpc", duration_seconds=60),  # open promise: refused
        call("L2", "10:00", "rpc", task_id=7),  # lost contact: reachable again
        call("L3", "07:30", "no-answer"),  # before the allowed hours
        call("L4", "11:00", "rpc"),  # the loan's dispute hold
        call("L5", "10:00", "refused", duration_seconds=120),
        call("L6", "10:00", "promise", **promise),  # the old promise ended yesterday
        call("L6", "10:30", "rpc"),  # the new promise pauses contact: refused
        call("L7", "10:00", "dispute"),  # places a dispute hold
        call("L7", "11:00", "no-answer"),  # ... which holds the next call
        call("L3", "10:00", "no-answer", party="contact-person"),
        call("L5", "12:00", "rpc"),
        call("L5", "13:00", "rpc"),  # the third conversation of the day
        call("L5", "14:00", "rpc"),  # the fourth: over the cap
        # two contacts of a debtor in one gate run: the first's audit shows the case
        # as it left it, not as the second left it
        call("L8", "10:00", "no-answer"),
        call("L8", "10:05", "refused", party="borrower"),
    ]


WALL_CLOCK = {"created_at", "recorded_at", "placed_at", "updated_at"}


def _state(s: Session) -> dict[str, Any]:
    def rows(model: Any, *skip: str) -> list[tuple[Any, ...]]:
        cols = [c for c in model.__table__.c if c.name not in WALL_CLOCK | set(skip)]
        return [tuple(r) for r in s.execute(select(*cols).order_by(cols[0]))]

    return {
        "attempts": rows(ContactAttempt),
        "denials": rows(ContactDenial),
        "logs": rows(ContactLog, "phone"),  # encrypted with a fresh nonce; phone_hash kept
        "promises": rows(PromiseToPay),
        "holds": rows(Hold),
        "changes": rows(CaseStatusChange),
        "cases": rows(CollectionCase),
        # the wall-clock time (and so the hash) differs between the runs
        "audit": rows(AuditRecord, "at", "hash", "prev_hash"),
    }


def _same_ids(s: Session) -> None:
    """PostgreSQL does not roll sequences back: both runs start them at the same value,
    so ids (and the audit digests that hold them) compare."""
    if s.get_bind().dialect.name != "postgresql":
        return
    for model in (ContactAttempt, ContactDenial, ContactLog, PromiseToPay, Hold, CaseStatusChange):
        s.execute(
            text("SELECT setval(pg_get_serial_sequence(:t, 'id'), 1000, false)"),
            {"t": model.__tablename__},
        )


def _run(engine: Engine, contacts: list[Contact], *, batched: bool) -> tuple[Any, ...]:
    with session_factory(engine)() as s:
        s.begin()
        _same_ids(s)
        if batched:
            results = [
                (r.decision.allowed, r.decision.rule, r.logged is not None)
                for r in log_contacts(s, actor=LI, contacts=contacts)
            ]
        else:
            results = []
            for c in contacts:
                try:
                    logged = log_contact(
                        s, actor=LI, case_id=c.case_id, channel=c.channel, outcome=c.outcome,
                        at=c.at, party=c.party, duration_seconds=c.duration_seconds,
                        task_id=c.task_id, promise_amount=c.promise_amount,
                        promise_date=c.promise_date,
                    )  # fmt: skip
                    assert logged.decision is not None
                    results.append((True, logged.decision.rule, True))
                except ContactDenied as denied:
                    results.append((False, denied.decision.rule, False))
        state = _state(s)
        s.rollback()
    return results, state


def test_batch_logs_as_one_by_one(engine: Engine, tmp_path: Path) -> None:
    contacts = _contacts(_book(engine, tmp_path))
    expected = _run(engine, contacts, batched=False)
    got = _run(engine, contacts, batched=True)
    assert got[0] == expected[0]
    for table, rows in expected[1].items():
        assert got[1][table] == rows, table
    results, state = expected
    rules = [rule and rule.removeprefix("cn-2026/") for _, rule, _ in results]
    assert rules == [
        "open-promise",
        None,
        "quiet-hours",
        "holds",
        None,
        None,
        "open-promise",
        None,
        "holds",
        None,
        None,
        None,
        "daily-connected-calls",
        None,
        None,
    ]
    assert len(state["logs"]) == rules.count(None) == len(state["attempts"])
    assert len(state["denials"]) == len(rules) - rules.count(None)
    assert len(state["promises"]) == 1 and len(state["changes"]) == 1


def test_bad_input_or_a_foreign_case_writes_nothing(engine: Engine, tmp_path: Path) -> None:
    ids = _book(engine, tmp_path)
    good = _contacts(ids)[1]
    bad = [
        (Contact(ids["L2"], "call", "sent", good.at), "does not fit channel"),
        (Contact(ids["L2"], "call", "promise", good.at), "promise amount and date"),
        (Contact(ids["L2"], "in-branch", "rpc", good.at), "inbound"),
        (Contact(ids["L2"], "call", "rpc", good.at, party="neighbour"), "party"),
        (Contact(10**6, "call", "rpc", good.at), "no collection case"),
    ]
    for contact, message in bad:
        with transaction(engine) as s, pytest.raises((ValueError, LookupError), match=message):
            log_contacts(s, actor=LI, contacts=[good, contact])
    with transaction(engine) as s:
        with pytest.raises(PermissionError):
            log_contacts(s, actor=WANG, contacts=[good])  # team B: not their case
        assert s.scalar(select(ContactLog.id)) is None
        assert s.scalar(select(ContactAttempt.id)) is None


def test_promises_of_one_run_as_one_by_one(engine: Engine, tmp_path: Path) -> None:
    """Promises on several cases in one gate run are checked against the overdue totals
    and open promises read once for the run, and written as ``log_contact`` writes them
    one by one (ids, amounts, the cases' promise dates, the audit)."""
    ids = _book(engine, tmp_path)

    def promise(loan: str, clock: str, amount: str, days: int) -> Contact:
        return Contact(
            ids[loan], "call", "promise", at(f"{TODAY.isoformat()}T{clock}"),
            promise_amount=Decimal(amount), promise_date=TODAY + timedelta(days),
        )  # fmt: skip

    contacts = [
        promise("L3", "10:00", "120.00", 2),
        Contact(ids["L8"], "call", "no-answer", at(f"{TODAY.isoformat()}T10:05")),
        promise("L5", "10:10", "250.50", 5),
        promise("L8", "10:20", "500.00", 3),
    ]
    expected = _run(engine, contacts, batched=False)
    got = _run(engine, contacts, batched=True)
    assert got[0] == expected[0]
    for table, rows in expected[1].items():
        assert got[1][table] == rows, table
    amounts = sorted(str(row[6]) for row in expected[1]["promises"])
    assert amounts == ["120.00", "250.50", "500.00"]


def test_a_promise_above_the_overdue_total_is_refused_alike(engine: Engine, tmp_path: Path) -> None:
    ids = _book(engine, tmp_path)
    contacts = [
        Contact(ids["L3"], "call", "rpc", at(f"{TODAY.isoformat()}T10:00")),
        Contact(
            ids["L5"],
            "call",
            "promise",
            at(f"{TODAY.isoformat()}T10:10"),
            promise_amount=Decimal("9999999.00"),
            promise_date=TODAY + timedelta(3),
        ),
    ]
    messages = []
    for batched in (False, True):
        with pytest.raises(ValueError, match="more than the overdue total") as refused:
            _run(engine, contacts, batched=batched)
        messages.append(str(refused.value))
    assert messages[0] == messages[1]
    with transaction(engine) as s:
        assert s.scalar(select(PromiseToPay.id)) is None
