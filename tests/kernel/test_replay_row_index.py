"""The replay finds due rows and next due dates through a sorted index of due dates
(``_rows_due_by``, ``_next_due_after``). These tests replay random loan lives both
ways — with the index, and with the straightforward scan of every row — and require
the same result: restructurings, plan breaks, prepayments, LPR repricings, fees,
waivers and refunds all reshape the rows."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from daihou.kernel.replay import (
    Event,
    FloatingTerms,
    LoanTerms,
    ReplayResult,
    _Replay,
)
from daihou.kernel.state import InstallmentState

D = Decimal
START = date(2024, 1, 15)
LPR = (("1y", date(2023, 1, 1), D("0.0365")), ("1y", date(2024, 6, 1), D("0.0345")))


class _Scan(_Replay):
    """The general path: every row looked at, no assumption on their order."""

    def _rows_due_by(self, day: date) -> list[InstallmentState]:
        return [i for i in self.inst if i.due_date <= day]

    def _next_due_after(self, day: date | None) -> date | None:
        return min((i.due_date for i in self.inst if day is None or i.due_date > day), default=None)


def both(
    terms: LoanTerms, events: list[Event], as_of: date
) -> tuple[ReplayResult | str, ReplayResult | str]:
    out: list[ReplayResult | str] = []
    for kind in (_Replay, _Scan):
        try:
            out.append(kind(terms, events, LPR).run(as_of, as_of - timedelta(days=1)))
        except ValueError as e:  # ReplayError included
            out.append(f"{type(e).__name__} {getattr(e, 'txn_id', None)}: {e}")
    return out[0], out[1]


def test_a_prepayment_before_a_later_plan_row_puts_the_rows_out_of_order() -> None:
    """Plan signed 20 Mar with a row due 1 Apr; a prepayment on 25 Mar goes in before
    the 15 Apr row, so after the plan row: the index must notice and scan."""
    terms = LoanTerms(D("12000.00"), D("0.24"), 12, "equal-installment", START)
    plan = ((date(2024, 4, 1), D("50.00")),)
    events = [
        Event(1, "restructure", date(2024, 3, 20), D("0"), plan=plan, plan_number=1),
        Event(2, "prepayment", date(2024, 3, 25), D("3000.00")),
        Event(3, "repayment", date(2024, 4, 20), D("900.00")),
    ]
    replay = _Replay(terms, events, ())
    fast = replay.run(date(2024, 6, 1), date(2024, 5, 31))
    assert not replay._in_order
    dues = [i.due_date for i in fast.installments]
    assert dues != sorted(dues)
    assert fast == _Scan(terms, events, ()).run(date(2024, 6, 1), date(2024, 5, 31))


_KINDS = ("repayment", "repayment", "prepayment", "fee", "waiver", "refund", "restructure")


@st.composite
def lives(draw: st.DrawFn) -> tuple[LoanTerms, list[Event], date]:
    method = draw(st.sampled_from(["equal-installment", "equal-principal", "interest-only"]))
    months = draw(st.integers(1, 24))
    floating = draw(st.booleans())
    terms = LoanTerms(
        principal=D(draw(st.integers(1000, 50000))),
        annual_rate=D("0.0395") if floating else D(draw(st.sampled_from(["0.12", "0.24", "0"]))),
        months=months,
        method=method,
        start=START,
        allocate_by=draw(st.sampled_from(["installment", "component"])),
        newest_first=draw(st.booleans()),
        grace_days=draw(st.integers(0, 5)),
        prepayment_tiers=((12, D("0.01")),) if draw(st.booleans()) else (),
        floating=FloatingTerms("1y", "january-1", 50) if floating else None,
    )
    events: list[Event] = []
    plans = 0
    day = START
    for txn_id in range(1, draw(st.integers(0, 8)) + 1):
        day += timedelta(days=draw(st.integers(0, 70)))
        kind = draw(st.sampled_from(_KINDS))
        amount = D(draw(st.integers(1, 6000))) / 4
        if kind == "restructure":
            plans += 1
            dues = sorted({day + timedelta(days=draw(st.integers(1, 120))) for _ in range(3)})
            plan = tuple((d, D(draw(st.integers(10, 3000)))) for d in dues)
            events.append(Event(txn_id, kind, day, D("0"), plan=plan, plan_number=plans))
        elif kind == "prepayment":
            mode = draw(st.sampled_from(["reduce-installment", "shorten-term"]))
            events.append(Event(txn_id, kind, day, amount, full=draw(st.booleans()), mode=mode))
        else:
            events.append(Event(txn_id, kind, day, amount))
        if plans and draw(st.integers(0, 4)) == 0:
            breaks = day + timedelta(days=draw(st.integers(0, 40)))
            events.append(Event(100 + txn_id, "plan-break", breaks, D("0"), plan_number=plans))
            day = breaks
    as_of = day + timedelta(days=draw(st.integers(1, 400)))
    return terms, events, as_of


@settings(max_examples=300, deadline=None)
@given(life=lives())
def test_the_index_gives_what_scanning_every_row_gives(
    life: tuple[LoanTerms, list[Event], date],
) -> None:
    terms, events, as_of = life
    fast, scan = both(terms, events, as_of)
    assert fast == scan
