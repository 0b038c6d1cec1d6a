"""One loan through 120 days past due: the treatments of every day match POLICY.md §5.

600,000 CNY at 24% over 12 months from 15 Jan 2026, never paid: the first installment
(≈ 56,700) falls due on 15 Feb, so the overdue amount is above 50,000 from T+0 and the
litigation referral can fire. Nobody ever reaches the borrower (no contact is logged).

The expected table is written here from the policy text, not from the engine:

- §3: SMS 15 and 7 days before the first due date; SMS + email 3 days before and
  SMS + call 1 day before every due date, while nothing is overdue;
- §5: T+0 SMS; T+1..T+3 two calls a day; T+4..T+29 a call and a call to the contacts
  every day (M1); no right-party contact for 5 days (T+5) → lost contact: contact repair
  every day and a field visit that day and every 7 days after; 30–59 junior: a call
  every 5 days from T+30, the overdue notice letter at T+30 and its delivery check call
  two days later; T+31 agency placement review; 60+ senior: a call every 5 days from
  T+60; T+60 litigation file; T+90 with lost contact > 30 days and overdue > 50,000:
  litigation referral.

The run for date D plans the next day's contacts: T+n is n days past due at D's close.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from daihou.collection.models import CaseStatusChange, CollectionCase
from daihou.db.engine import transaction
from tests.collection.helpers import actions, close_and_run, open_case
from tests.factories import add_loans, init_book, loan_row

START = date(2026, 1, 15)
FIRST_DUE = date(2026, 2, 15)
DUES = [date(2026, m, 15) for m in range(2, 13)]
T = FIRST_DUE  # the missed due date: T+n = T + n days


def expected(d: date) -> Counter[str]:
    """Treatments (action → slots) of the run for D, from the policy text alone."""
    out: Counter[str] = Counter()
    work = d + timedelta(days=1)
    n = (d - T).days
    if n < 0:  # nothing overdue: reminders (§3)
        for due in DUES:
            k = (due - work).days
            if due == FIRST_DUE and k in (15, 7):
                out["sms"] += 1
            if k == 3:
                out.update(["sms", "email"])
            if k == 1:
                out.update(["sms", "call"])
        return out
    lost_on = T + timedelta(days=5)  # 5 days without reaching anyone (§4, 002)
    if n == 0:
        out["sms"] += 1
    elif 1 <= n <= 3:
        out["call"] += 2
    elif 4 <= n <= 29:
        out.update(["call", "contact-call"])
    elif 30 <= n <= 59:
        if (n - 30) % 5 == 0:
            out["call"] += 1
        if n == 30:
            out["letter"] += 1
        if n == 32:
            out["call"] += 1
    else:
        if (n - 60) % 5 == 0:
            out["call"] += 1
    if d >= lost_on:
        out["contact-repair"] += 1
        if (d - lost_on).days % 7 == 0:
            out["visit"] += 1
    if n == 31:
        out["agency-placement"] += 1
    if n == 60:
        out["legal-file"] += 1
    if n == 90 and (d - lost_on).days > 30:
        out["legal-referral"] += 1
    return out


def test_one_loan_120_days(engine: Engine, tmp_path: Path) -> None:
    init_book(engine, START)
    add_loans(engine, tmp_path, [loan_row("L1", principal="600000.00", disbursed_on=START)])
    stages: dict[int, str] = {}
    d = START
    end = T + timedelta(days=120)
    mismatches = []
    while d <= end:
        report = close_and_run(engine, d)
        assert not report.already_run
        got = actions(engine, d, "L1")
        if got != expected(d):
            mismatches.append((d, (d - T).days, dict(got), dict(expected(d))))
        case = open_case(engine, "L1")
        n = (d - T).days
        assert (case is not None) == (n >= 1), d
        if case is not None:
            stages[n] = case.stage
            assert case.contact_status == ("lost" if n >= 5 else "reachable"), d
        d += timedelta(days=1)
    assert mismatches == []
    assert {stages[n] for n in range(1, 30)} == {"early"}
    assert {stages[n] for n in range(30, 60)} == {"junior"}
    assert {stages[n] for n in range(60, 121)} == {"senior"}
    with transaction(engine) as s:
        history = [
            (h.field, h.old_value, h.new_value, h.business_date)
            for h in s.scalars(select(CaseStatusChange).order_by(CaseStatusChange.id))
        ]
        assert s.scalar(select(CollectionCase.id).where(CollectionCase.loan_id == "L1"))
    assert history == [
        ("status", None, "open", T + timedelta(days=1)),
        ("stage", None, "early", T + timedelta(days=1)),
        ("contact", "reachable", "lost", T + timedelta(days=5)),
        ("stage", "early", "junior", T + timedelta(days=30)),
        ("stage", "junior", "senior", T + timedelta(days=60)),
    ]
