"""A loan's state as a pure function of its terms, its transactions and a date.

``replay`` walks the loan's life day by day over the dates where something happens —
installments falling due, payments, prepayments, fees, refunds, LPR repricings — and
returns the schedule with due and paid per component, how each transaction's money is
applied now, the customer credit (溢缴款), and the settlement date. Backdated postings
and reversals are handled by replaying again with the new list of transactions: the
result is the history in which that list had always been there.

Order within one day: repricing, then older credit pays what falls due, then the day's
transactions in posting order, then any credit left pays what is still due.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext

from daihou.kernel.allocation import COMPONENTS, Applied, Outstanding, allocate
from daihou.kernel.dates import first_due_and_anchor
from daihou.kernel.floating import floating_rate, lpr_on, repricing_dates
from daihou.kernel.money import ZERO, q2, to_fen
from daihou.kernel.prepayment import accrued_interest, prepayment_penalty, split_prepayment
from daihou.kernel.reamortise import reamortise
from daihou.kernel.restructure import WAIVABLE, accelerate, restructure, sort_rows
from daihou.kernel.schedule import ScheduledInstallment, ScheduleTerms, schedule_rows
from daihou.kernel.state import InstallmentState


class ReplayError(ValueError):
    """The transactions cannot all stand (e.g. a refund larger than the credit)."""

    def __init__(self, txn_id: int | None, message: str) -> None:
        super().__init__(message)
        self.txn_id = txn_id


@dataclass(frozen=True, slots=True)
class FloatingTerms:
    tenor: str
    repricing: str  # "anniversary" | "january-1"
    spread_bps: int


@dataclass(frozen=True, slots=True)
class LoanTerms:
    principal: Decimal
    annual_rate: Decimal
    months: int
    method: str
    start: date
    first_due: date | None = None
    repayment_day: int | None = None
    rounding: str = ROUND_HALF_UP
    odd_period_basis: str = "actual/360"
    annuity_factor_decimals: int | None = None
    components: tuple[str, ...] = COMPONENTS
    allocate_by: str = "installment"
    newest_first: bool = False
    prepayment_tiers: tuple[tuple[int, Decimal], ...] = ()
    floating: FloatingTerms | None = None
    penalty_markup: Decimal = Decimal("0.5")  # 罚息 rate = contract rate × (1 + markup)
    compound_interest: bool = True  # 复利 on overdue interest at the penalty rate
    grace_days: int = 0
    accrue_from: date | None = None  # no 罚息/复利 for nights before (the import date)
    accrue_until: date | None = None  # no 罚息/复利 for nights after (the write-off, 核销)

    def schedule_terms(self) -> ScheduleTerms:
        return ScheduleTerms(
            principal=self.principal,
            annual_rate=self.annual_rate,
            months=self.months,
            method=self.method,
            start=self.start,
            first_due=self.first_due,
            repayment_day=self.repayment_day,
            rounding=self.rounding,
            odd_period_basis=self.odd_period_basis,
            annuity_factor_decimals=self.annuity_factor_decimals,
        )


@dataclass(frozen=True, slots=True)
class Event:
    """A posted, not reversed, transaction as the replay sees it."""

    txn_id: int
    kind: str  # repayment | prepayment | fee | refund | waiver | recovery | restructure | …
    value_date: date
    amount: Decimal
    full: bool = False
    mode: str = "reduce-installment"
    plan: tuple[tuple[date, Decimal], ...] = ()  # restructure: (due date, amount) per row
    plan_number: int = 0  # restructure / plan-break: which plan of the loan


@dataclass(frozen=True, slots=True)
class RateChangeRecord:
    effective_on: date
    old_rate: Decimal
    new_rate: Decimal
    lpr: Decimal


@dataclass(frozen=True, slots=True)
class ReplayResult:
    installments: tuple[InstallmentState, ...]
    allocations: dict[int, list[Applied]]  # per transaction, credit included
    charges: dict[int, list[tuple[str, Decimal]]]  # amounts a transaction charged (fees)
    notes: dict[int, str]
    credit_balance: Decimal
    outstanding_principal: Decimal
    closed_on: date | None
    current_rate: Decimal
    rate_changes: tuple[RateChangeRecord, ...]


@dataclass(slots=True)
class _Credit:
    """Money of one transaction not yet applied (溢缴款), used oldest first."""

    txn_id: int
    remaining: Decimal


_NO_MONEY = dict.fromkeys(COMPONENTS, ZERO)


def _new_state(
    period: int,
    start_date: date,
    due_date: date,
    principal: Decimal,
    interest: Decimal,
    remaining: Decimal,
    annual_rate: Decimal,
    kind: str = "regular",
) -> InstallmentState:
    """A state with nothing paid, from a schedule row's fields (``schedule_rows``).

    Positional, with the dicts copied from one template: a replay makes a state per
    installment of the schedule (360 for a mortgage), and keyword arguments plus the
    ``paid`` default factory were half of building them."""
    return InstallmentState(
        period,
        start_date,
        due_date,
        annual_rate,
        dict(_NO_MONEY, principal=principal, interest=interest),
        _NO_MONEY.copy(),
        None,
        kind,
    )


def _state(row: ScheduledInstallment, kind: str = "regular") -> InstallmentState:
    return _new_state(
        row.period,
        row.start_date,
        row.due_date,
        row.principal,
        row.interest,
        row.remaining_principal,
        row.annual_rate,
        kind,
    )


class _Replay:
    def __init__(
        self,
        terms: LoanTerms,
        events: Sequence[Event],
        lpr_history: Sequence[tuple[str, date, Decimal]],
    ) -> None:
        self.terms = terms
        self.events = sorted(events, key=lambda e: (e.value_date, e.txn_id))
        self.lpr_history = lpr_history
        self.inst = list(schedule_rows(terms.schedule_terms(), _new_state))
        self.pool: list[_Credit] = []
        self.alloc: dict[int, list[Applied]] = {e.txn_id: [] for e in self.events}
        self.charges: dict[int, list[tuple[str, Decimal]]] = {}
        self.notes: dict[int, str] = {}
        self.rate = terms.annual_rate
        # Re-amortised tails keep the loan's day of month (a clipped 29 Feb must not pull
        # later due dates to the 29th).
        self.anchor_day = first_due_and_anchor(
            start=terms.start, first_due=terms.first_due, repayment_day=terms.repayment_day
        )[1]
        self.rate_changes: list[RateChangeRecord] = []
        self.closed_on: date | None = None

    # -- the rows ------------------------------------------------------------------------
    @property
    def inst(self) -> list[InstallmentState]:
        return self._inst

    @inst.setter
    def inst(self, rows: list[InstallmentState]) -> None:
        # Every change of the rows or of their due dates assigns the list anew, so the
        # index of due dates below is rebuilt when it is next asked for.
        self._inst = rows
        self._dues: list[date] | None = None
        self._in_order = False

    def _sorted_dues(self) -> list[date]:
        if self._dues is None:
            dues = [r.due_date for r in self._inst]
            self._dues = sorted(dues)
            # False only after a prepayment row went in before a later plan row
            self._in_order = self._dues == dues
        return self._dues

    def _rows_due_by(self, day: date) -> list[InstallmentState]:
        """The rows due on or before ``day``, in list order: a prefix of the list when
        the rows are in due-date order (a mortgage's 360 rows are not all looked at
        on every step of the replay)."""
        dues = self._sorted_dues()
        if self._in_order:
            return self._inst[: bisect_right(dues, day)]
        return [i for i in self._inst if i.due_date <= day]

    def _next_due_after(self, day: date | None) -> date | None:
        """The first due date after ``day`` (the first of all when ``day`` is None)."""
        dues = self._sorted_dues()
        k = 0 if day is None else bisect_right(dues, day)
        return dues[k] if k < len(dues) else None

    # -- helpers -------------------------------------------------------------------------
    def _open_rows(self, day: date) -> list[InstallmentState]:
        return [i for i in self._rows_due_by(day) if not i.settled]

    def _due_rows(self, rows: list[InstallmentState]) -> list[Outstanding]:
        return [Outstanding(i.period, {c: i.owed(c) for c in COMPONENTS}) for i in rows]

    def _apply(
        self, txn_id: int, parts: list[Applied], day: date, rows: list[InstallmentState]
    ) -> None:
        """Apply ``parts`` to ``rows`` (the rows that were allocated over; periods are
        unique within a schedule)."""
        by_period = {i.period: i for i in rows}
        for part in parts:
            assert part.period is not None
            row = by_period[part.period]
            row.paid[part.component] += part.amount
            if row.settled and row.paid_on is None:
                row.paid_on = day
        self.alloc[txn_id].extend(parts)

    def _pay_due(self, txn_id: int, amount: Decimal, day: date) -> Decimal:
        t = self.terms
        rows = self._open_rows(day)
        parts, left = allocate(
            amount,
            self._due_rows(rows),
            components=t.components,
            by=t.allocate_by,
            newest_first=t.newest_first,
        )
        self._apply(txn_id, parts, day, rows)
        return left

    def _apply_credit(self, day: date) -> None:
        for entry in self.pool:
            if entry.remaining > ZERO:
                entry.remaining = self._pay_due(entry.txn_id, entry.remaining, day)

    def _to_pool(self, txn_id: int, amount: Decimal) -> None:
        if amount > ZERO:
            self.pool.append(_Credit(txn_id, amount))

    def _tail_index(self, day: date) -> int | None:
        """Index of the first contractual installment not yet due on ``day`` (repayment
        plan rows are never re-amortised)."""
        for idx, row in enumerate(self.inst):
            if row.due_date > day and row.kind != "plan":
                return idx
        return None

    # -- events --------------------------------------------------------------------------
    def _reprice(self, day: date) -> None:
        fl = self.terms.floating
        assert fl is not None
        lpr = lpr_on(self.lpr_history, fl.tenor, day)
        new = floating_rate(lpr, fl.spread_bps)
        if new == self.rate:
            return
        self.rate_changes.append(RateChangeRecord(day, self.rate, new, lpr))
        self.rate = new
        idx = next(
            (
                k
                for k, r in enumerate(self.inst)
                if r.start_date >= day and r.due_date > day and r.kind != "plan"
            ),
            None,
        )
        if idx is None:
            return
        tail = self.inst[idx:]
        self._replace_tail(idx, tail[0].start_date, tail[0].due_date, len(tail), new, None)

    def _replace_tail(
        self,
        idx: int,
        from_date: date,
        next_due: date,
        periods: int,
        rate: Decimal,
        current_payment: Decimal | None,
        *,
        principal: Decimal | None = None,
        mode: str = "reduce-installment",
        first_period: int | None = None,
    ) -> None:
        t = self.terms
        plans = [r for r in self.inst[idx:] if r.kind == "plan"]
        tail = [r for r in self.inst[idx:] if r.kind != "plan"]
        owed = sum((r.due["principal"] for r in tail), ZERO) if principal is None else principal
        rows = reamortise(
            principal=owed,
            annual_rate=rate,
            from_date=from_date,
            next_due=next_due,
            remaining_periods=periods,
            method=t.method,
            mode=mode,  # type: ignore[arg-type]
            current_payment=current_payment,
            first_period=tail[0].period if first_period is None else first_period,
            repayment_day=self.anchor_day,
            rounding=t.rounding,
            odd_period_basis=t.odd_period_basis,
            annuity_factor_decimals=t.annuity_factor_decimals,
        )
        self.inst = [*self.inst[:idx], *sort_rows([*(_state(r) for r in rows), *plans])]

    def _repayment(self, e: Event) -> None:
        self._to_pool(e.txn_id, self._pay_due(e.txn_id, e.amount, e.value_date))

    def _fee(self, e: Event) -> None:
        day = e.value_date
        target = next((i for i in self.inst if i.due_date <= day and not i.settled), None)
        if target is None:
            target = next((i for i in self.inst if i.due_date > day), None)
        if target is None:
            raise ReplayError(e.txn_id, "the loan is settled; a fee cannot be charged")
        target.due["fee"] += e.amount
        self.charges[e.txn_id] = [("fee", e.amount)]

    def _refund(self, e: Event) -> None:
        need = e.amount
        for entry in self.pool:
            take = min(entry.remaining, need)
            entry.remaining -= take
            need -= take
            if need <= ZERO:
                return
        raise ReplayError(
            e.txn_id,
            f"refund of {e.amount} exceeds the customer credit available on {e.value_date}",
        )

    def _prepayment(self, e: Event) -> None:
        t = self.terms
        day = e.value_date
        left = self._pay_due(e.txn_id, e.amount, day)
        idx = self._tail_index(day)
        if left <= ZERO or idx is None or self._open_rows(day):
            self._to_pool(e.txn_id, left)
            if idx is None:
                self.notes[e.txn_id] = "no installment left to prepay; kept as customer credit"
            elif left > ZERO:
                self.notes[e.txn_id] = "arrears remain unpaid; kept as customer credit"
            return
        current = self.inst[idx]
        plans = [r for r in self.inst[idx:] if r.kind == "plan"]
        owed = sum((r.due["principal"] for r in self.inst[idx:] if r.kind != "plan"), ZERO)
        accrued = accrued_interest(
            principal=owed,
            annual_rate=current.annual_rate,
            from_date=current.start_date,
            to_date=day,
            basis=t.odd_period_basis,
            rounding=t.rounding,
        )
        quote = prepayment_penalty(
            prepaid_principal=owed,
            tiers=t.prepayment_tiers,
            disbursed_on=t.start,
            on=day,
            rounding=t.rounding,
        )
        payoff = accrued + owed + quote.amount
        if left <= accrued:
            self._to_pool(e.txn_id, left)
            self.notes[e.txn_id] = (
                f"amount after arrears ({left}) does not exceed interest accrued to {day} "
                f"({accrued}); kept as customer credit"
            )
            return
        if left >= payoff:
            principal, penalty, kind = owed, quote.amount, "payoff"
            note = f"full prepayment: principal {owed} + interest {accrued} + {quote.explanation}"
        else:
            principal, penalty = split_prepayment(
                available=left - accrued, rate=quote.rate, max_principal=owed, rounding=t.rounding
            )
            kind = "payoff" if principal == owed else "prepayment"
            pen_quote = prepayment_penalty(
                prepaid_principal=principal,
                tiers=t.prepayment_tiers,
                disbursed_on=t.start,
                on=day,
                rounding=t.rounding,
            )
            note = (
                f"{'full' if kind == 'payoff' else 'partial'} prepayment ({e.mode}): "
                f"principal {principal} + interest {accrued} + {pen_quote.explanation}"
            )
            if e.full and kind != "payoff":
                note = f"insufficient for full payoff ({q2(payoff)}); applied as {note}"
        if principal <= ZERO:
            self._to_pool(e.txn_id, left)
            self.notes[e.txn_id] = "nothing left to prepay principal; kept as customer credit"
            return
        due = dict.fromkeys(COMPONENTS, ZERO)
        due.update(principal=principal, interest=accrued, fee=penalty)
        row = InstallmentState(
            period=current.period,
            start_date=current.start_date,
            due_date=day,
            annual_rate=current.annual_rate,
            due=due,
            kind=kind,
        )
        periods = len(self.inst) - idx - len(plans)
        regular_payment = current.due["principal"] + current.due["interest"]
        if kind == "payoff":
            self.inst = [*self.inst[:idx], *sort_rows([row, *plans])]
        else:
            self.inst = [*self.inst[:idx], row, *self.inst[idx:]]
            self._replace_tail(
                idx + 1,
                day,
                current.due_date,
                periods,
                current.annual_rate,
                regular_payment,
                principal=owed - principal,
                mode=e.mode,
                first_period=current.period + 1,
            )
        if penalty > ZERO:
            self.charges[e.txn_id] = [("fee", penalty)]
        self.notes[e.txn_id] = note
        self._to_pool(e.txn_id, self._pay_due(e.txn_id, left, day))

    def _waiver(self, e: Event) -> None:
        """减免罚息: the waived amount settles 罚息/复利 owed on the day, oldest first;
        what finds nothing to settle is noted and left unapplied."""
        rows = self._open_rows(e.value_date)
        parts, left = allocate(
            e.amount, self._due_rows(rows), components=WAIVABLE, by="installment"
        )
        self._apply(e.txn_id, parts, e.value_date, rows)
        if left > ZERO:
            self.notes[e.txn_id] = f"{left} of the waiver found no 罚息/复利 outstanding"

    def _restructure(self, e: Event) -> None:
        self.inst = restructure(
            self.inst,
            day=e.value_date,
            plan=e.plan,
            number=e.plan_number,
            components=self.terms.components,
            rate=self.rate,
        )

    def _plan_break(self, e: Event) -> None:
        self.inst = accelerate(self.inst, day=e.value_date, number=e.plan_number)

    # -- main loop -----------------------------------------------------------------------
    def _accrue(self, first_night: date, last_night: date) -> None:
        """Accrue 罚息 and 复利 for the nights ``first_night``..``last_night`` on what is
        unpaid at the end of ``first_night`` (nothing changes in between).

        The night of day d counts for an installment when d ≥ due date + grace days, so
        a payment k days after the end of grace owes k days. Exact: the bases are
        integer fen·days and the posted amount is the rounded total, so N nights accrued
        one by one equal one N-night accrual (the remainder is carried).
        """
        t = self.terms
        if t.accrue_from is not None:
            first_night = max(first_night, t.accrue_from)
        if t.accrue_until is not None:
            last_night = min(last_night, t.accrue_until)
        if last_night < first_night:
            return
        grace = timedelta(days=t.grace_days)
        for row in self._rows_due_by(last_night - grace):
            start = max(first_night, row.due_date + grace)
            nights = (last_night - start).days + 1
            principal = row.owed("principal")
            interest = row.owed("interest")
            if principal > ZERO:
                row.penalty_base += to_fen(principal) * nights
                row.due["penalty"] = row.penalty_carried + accrued_amount(
                    row.penalty_base, row.annual_rate, t.penalty_markup, t.rounding
                )
            if t.compound_interest and interest > ZERO:
                row.compound_base += to_fen(interest) * nights
                row.due["compound"] = row.compound_carried + accrued_amount(
                    row.compound_base, row.annual_rate, t.penalty_markup, t.rounding
                )

    def run(self, as_of: date, accrue_through: date) -> ReplayResult:
        t = self.terms
        for e in self.events:
            if e.value_date < t.start:
                raise ReplayError(e.txn_id, f"value date {e.value_date} is before disbursement")
            if e.value_date > as_of:
                raise ReplayError(e.txn_id, f"value date {e.value_date} is after {as_of}")
        reprices = (
            repricing_dates(disbursed_on=t.start, repricing=t.floating.repricing, until=as_of)  # type: ignore[arg-type]
            if t.floating is not None
            else []
        )
        handlers = {
            "repayment": self._repayment,
            "prepayment": self._prepayment,
            "fee": self._fee,
            "refund": self._refund,
            "recovery": self._repayment,  # a payment after write-off (核销后收回)
            "waiver": self._waiver,
            "restructure": self._restructure,
            "plan-break": self._plan_break,
        }
        ev = 0
        last: date | None = None
        while True:
            candidates = [r for r in reprices if last is None or r > last]
            due = self._next_due_after(last)
            if due is not None:
                candidates.append(due)
            if ev < len(self.events):
                candidates.append(self.events[ev].value_date)
            day = min(candidates, default=None)
            if day is None or day > as_of:
                break
            if last is not None:
                self._accrue(last, min(day - timedelta(days=1), accrue_through))
            if day in reprices:
                self._reprice(day)
            self._apply_credit(day)
            while ev < len(self.events) and self.events[ev].value_date == day:
                event = self.events[ev]
                handler = handlers.get(event.kind)
                if handler is None:
                    raise ReplayError(event.txn_id, f"unknown transaction kind {event.kind!r}")
                handler(event)
                ev += 1
            self._apply_credit(day)
            if self.closed_on is None and all(i.settled for i in self.inst):
                self.closed_on = day
            elif self.closed_on is not None and not all(i.settled for i in self.inst):
                self.closed_on = None
            last = day
        if last is not None:
            self._accrue(last, accrue_through)
        return self._result()

    def _result(self) -> ReplayResult:
        amounts = {e.txn_id: e for e in self.events}
        allocations: dict[int, list[Applied]] = {}
        for txn_id, parts in self.alloc.items():
            event = amounts[txn_id]
            if event.kind == "waiver":
                allocations[txn_id] = list(parts)
                continue
            if event.kind not in ("repayment", "prepayment", "recovery"):
                allocations[txn_id] = []
                continue
            merged: dict[tuple[int | None, str], Decimal] = {}
            for p in parts:
                merged[(p.period, p.component)] = (
                    merged.get((p.period, p.component), ZERO) + p.amount
                )
            rows = [Applied(k[0], k[1], v) for k, v in merged.items()]
            credit = event.amount - sum((p.amount for p in rows), ZERO)
            if credit > ZERO:
                rows.append(Applied(None, "credit", credit))
            allocations[txn_id] = rows
        credit_balance = sum((e.remaining for e in self.pool), ZERO)
        outstanding = sum([i.due.get("principal", ZERO) for i in self.inst], ZERO) - sum(
            [i.paid["principal"] for i in self.inst], ZERO
        )
        return ReplayResult(
            # a _Replay runs once and is dropped (see ``replay``): its rows are handed
            # over, not copied
            installments=tuple(self.inst),
            allocations=allocations,
            charges=self.charges,
            notes=self.notes,
            credit_balance=credit_balance,
            outstanding_principal=outstanding,
            closed_on=self.closed_on,
            current_rate=self.rate,
            rate_changes=tuple(self.rate_changes),
        )


def accrued_amount(
    base_fen_days: int, annual_rate: Decimal, markup: Decimal, rounding: str
) -> Decimal:
    """Posted 罚息/复利 for an accrued base: base × rate × (1 + markup) / 360, in yuan."""
    with localcontext() as ctx:
        ctx.prec = 60
        exact = Decimal(base_fen_days) * annual_rate * (1 + markup) / 36000
    return q2(exact, rounding)


def replay(
    terms: LoanTerms,
    events: Sequence[Event],
    *,
    as_of: date,
    lpr_history: Sequence[tuple[str, date, Decimal]] = (),
    accrue_through: date | None = None,
) -> ReplayResult:
    """The loan's state on business date ``as_of`` given its posted, not reversed,
    transactions. Penalty and compound interest are accrued for the nights of closed
    business dates, i.e. through ``as_of`` − 1 unless ``accrue_through`` says otherwise."""
    through = accrue_through if accrue_through is not None else as_of - timedelta(days=1)
    return _Replay(terms, events, lpr_history).run(as_of, through)
