"""PostgreSQL: the generated book's rows as ``COPY`` text, computed from the plan here.

On PostgreSQL the server backend of the load's one transaction did all the work of the
``INSERT … SELECT`` statements (``demo.generate.book_statements``) on one core: each
row inserted one by one (a WAL record per row and per unique-index entry), after a
join and a sort. Here this process computes the same rows from the plan, a slice of
loans at a time, and streams them with ``COPY`` (batched inserts, no join, no sort)
while the server stores the previous ones — the two cores work at once.

Every value is the one the statements write (``BookRows`` follows their ``CASE``s
line by line), ids included: the statements numbered installments, allocations and
journal lines by their ``ORDER BY`` from 1 (a fresh book), transactions and journal
entries ``n`` / ``loans + n``; here the ids are written explicitly in the same order and
the sequences are moved past them afterwards. A test holds the book equal, row for row,
to the one the statements write.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from daihou.demo import copy_binary as cb
from daihou.ledger.accounts import FUNDING, INTEREST_INCOME, LOAN_PRINCIPAL, clearing

if TYPE_CHECKING:
    from daihou.demo.generate import Template

COLUMNS: dict[str, tuple[str, ...]] = {
    "loans": (
        "id",
        "customer_id",
        "product",
        "principal",
        "annual_rate",
        "current_rate",
        "term_months",
        "method",
        "disbursed_on",
        "outstanding_principal",
        "serviced_from",
        "status",
        "credit_balance",
        "version",
        "dpd",
        "bucket",
        "risk_class",
    ),
    "transactions": (
        "id",
        "loan_id",
        "kind",
        "value_date",
        "booked_on",
        "amount",
        "channel",
        "reference",
        "status",
    ),
    "journal_entries": (
        "id",
        "loan_id",
        "transaction_id",
        "kind",
        "entry_date",
        "booked_on",
        "memo",
    ),
    "journal_lines": ("id", "entry_id", "account", "debit", "credit"),
    "allocations": ("id", "transaction_id", "loan_id", "period", "component", "amount"),
    "installments": (
        "id",
        "loan_id",
        "period",
        "start_date",
        "due_date",
        "annual_rate",
        "principal_due",
        "interest_due",
        "principal_paid",
        "interest_paid",
        "status",
        "paid_on",
        "fee_due",
        "fee_paid",
        "penalty_paid",
        "compound_paid",
    ),
}
"""The tables in the order they are written, and the columns ``COPY`` fills."""

NULL = "\\N"
ZEROS = "\t0" * 4  # fee_due … compound_paid
BINARY = frozenset({"installments"})
"""Tables sent in ``COPY``'s binary format (``demo.copy_binary``): the biggest, whose
``COPY`` waits on the server (parsing its text fields was a third of that). The others
wait on this process, where the binary rows cost more to build."""
_ZEROS = cb.int8(0) * 4


class BookRows:
    """``COPY`` text of each table for a slice of plan rows (``generate.iter_plan``:
    ``n, loan_id, customer_id, template, start, paid, partial, pay_on, paid_principal,
    paid_interest``), slices in order of ``n``. ``dues`` is the plan's dict of due dates
    per disbursement date (filled as the plan is read)."""

    def __init__(
        self,
        loans: int,
        today: date,
        memo: str,
        channel: str,
        tpls: Sequence[Template],
        dues: dict[date, list[date]],
    ) -> None:
        self.n = loans
        self.today = today
        self.memo = memo
        self.channel = channel
        self.dues = dues
        self.installments = 0  # rows written so far (the last id)
        self.allocations = 0
        self.lines = 2 * loans  # journal lines: the disbursements' come first
        self.repayments = 0
        self._days: dict[date | None, str] = {None: NULL}
        self._heads: dict[date, tuple[list[str], int]] = {}
        self._loan = [
            f"{t.product}\t{t.principal_fen}\t{t.rate_units}\t{t.rate_units}\t{t.term}"
            f"\t{t.method}\t"
            for t in tpls
        ]
        self._principal = [t.principal_fen for t in tpls]
        self._amounts = [tuple(zip(t.principal, t.interest, strict=True)) for t in tpls]
        self._paid = [
            [
                f"{t.rate_units}\t{p}\t{i}\t{p}\t{i}\tpaid\t"
                for p, i in zip(t.principal, t.interest, strict=True)
            ]
            for t in tpls
        ]
        self._unpaid = [
            [
                {
                    s: f"{t.rate_units}\t{p}\t{i}\t0\t0\t{s}\t{NULL}{ZEROS}\n"
                    for s in ("due", "pending")
                }
                for p, i in zip(t.principal, t.interest, strict=True)
            ]
            for t in tpls
        ]
        self._rates = [t.rate_units for t in tpls]
        # the same pieces in the binary format (``block``)
        self._bdays: dict[date | None, bytes] = {None: cb.NULL}
        self._bheads: dict[date, tuple[list[bytes], int]] = {}
        self._bamounts = [
            [(cb.int8(p), cb.int8(i)) for p, i in zip(t.principal, t.interest, strict=True)]
            for t in tpls
        ]
        self._bpaid = [
            [cb.int8(t.rate_units) + p + i + p + i + cb.text("paid") for p, i in amounts]
            for t, amounts in zip(tpls, self._bamounts, strict=True)
        ]
        self._bunpaid = [
            [
                {
                    s: cb.int8(t.rate_units)
                    + p
                    + i
                    + cb.int8(0) * 2
                    + cb.text(s)
                    + cb.NULL
                    + _ZEROS
                    for s in ("due", "pending")
                }
                for p, i in amounts
            ]
            for t, amounts in zip(tpls, self._bamounts, strict=True)
        ]

    def _day(self, d: date | None) -> str:
        s = self._days.get(d)
        if s is None:
            s = self._days[d] = d.isoformat()  # type: ignore[union-attr]
        return s

    def _periods(self, start: date) -> tuple[list[tuple[int, date, date]], int]:
        """Each period's number, start and due date for loans disbursed on ``start``, and
        how many of those due dates are on or before today."""
        due = self.dues[start]
        starts = [start, *due[:-1]]
        periods = [(k, s, d) for k, (s, d) in enumerate(zip(starts, due, strict=True), 1)]
        return periods, bisect.bisect_right(due, self.today)

    def _head(self, start: date) -> tuple[list[str], int]:
        """Per period ``period\\tstart_date\\tdue_date\\t`` for loans disbursed on
        ``start``, and how many of those due dates are on or before today."""
        head = self._heads.get(start)
        if head is None:
            periods, n_due = self._periods(start)
            day = self._day
            fields = [f"{k}\t{day(s)}\t{day(d)}\t" for k, s, d in periods]
            head = self._heads[start] = (fields, n_due)
        return head

    def _bday(self, d: date | None) -> bytes:
        b = self._bdays.get(d)
        if b is None:
            b = self._bdays[d] = cb.day(d)
        return b

    def _bhead(self, start: date) -> tuple[list[bytes], int]:
        """``_head`` in the binary format."""
        head = self._bheads.get(start)
        if head is None:
            periods, n_due = self._periods(start)
            day = self._bday
            fields = [cb.int4(k) + day(s) + day(d) for k, s, d in periods]
            head = self._bheads[start] = (fields, n_due)
        return head

    def text(self, table: str, plan: Sequence[tuple[Any, ...]]) -> str:
        write: Callable[[Sequence[tuple[Any, ...]]], str] = getattr(self, "_" + table)
        return write(plan)

    def block(self, table: str, plan: Sequence[tuple[Any, ...]]) -> str | bytes:
        """The rows of ``table`` for ``plan``: binary for the tables in ``BINARY``
        (without the stream's signature and trailer), else text."""
        if table in BINARY:
            write: Callable[[Sequence[tuple[Any, ...]]], bytes] = getattr(self, "_b" + table)
            return write(plan)
        return self.text(table, plan)

    # -- one method per table, each the rows of its statement in ``book_statements`` ---
    def _loans(self, plan: Sequence[tuple[Any, ...]]) -> str:
        today, day, loan, principal = self._day(self.today), self._day, self._loan, self._principal
        return "".join(
            f"{r[1]}\t{r[2]}\t{loan[r[3]]}{day(r[4])}\t{principal[r[3]] - r[8]}\t{today}"
            "\tactive\t0\t1\t0\tM0\tnormal\n"
            for r in plan
        )

    def _transactions(self, plan: Sequence[tuple[Any, ...]]) -> str:
        today, day, n, principal = self._day(self.today), self._day, self.n, self._principal
        out = [
            f"{r[0]}\t{r[1]}\tdisbursement\t{day(r[4])}\t{today}\t{principal[r[3]]}"
            f"\t{NULL}\t{NULL}\tposted\n"
            for r in plan
        ]
        repaid = [
            f"{n + r[0]}\t{r[1]}\trepayment\t{day(r[7])}\t{today}\t{r[8] + r[9]}"
            f"\t{self.channel}\topening-{r[1]}\tposted\n"
            for r in plan
            if r[7] is not None
        ]
        self.repayments += len(repaid)
        return "".join(out) + "".join(repaid)

    def _journal_entries(self, plan: Sequence[tuple[Any, ...]]) -> str:
        today, day, n = self._day(self.today), self._day, self.n
        out = [
            f"{r[0]}\t{r[1]}\t{r[0]}\tdisbursement\t{day(r[4])}\t{today}\t{self.memo}\n"
            for r in plan
        ]
        out += [
            f"{n + r[0]}\t{r[1]}\t{n + r[0]}\trepayment\t{day(r[7])}\t{today}\t{NULL}\n"
            for r in plan
            if r[7] is not None
        ]
        return "".join(out)

    def _journal_lines(self, plan: Sequence[tuple[Any, ...]]) -> str:
        principal, n = self._principal, self.n
        out = [
            f"{2 * r[0] - 1}\t{r[0]}\t{LOAN_PRINCIPAL}\t{principal[r[3]]}\t0\n"
            f"{2 * r[0]}\t{r[0]}\t{FUNDING}\t0\t{principal[r[3]]}\n"
            for r in plan
        ]
        line, cleared = self.lines, clearing(self.channel)
        for r in plan:
            if r[7] is None:
                continue
            e, paid_p, paid_i = n + r[0], r[8], r[9]
            line += 1
            out.append(f"{line}\t{e}\t{cleared}\t{paid_p + paid_i}\t0\n")
            if paid_i > 0:
                line += 1
                out.append(f"{line}\t{e}\t{INTEREST_INCOME}\t0\t{paid_i}\n")
            if paid_p > 0:
                line += 1
                out.append(f"{line}\t{e}\t{LOAN_PRINCIPAL}\t0\t{paid_p}\n")
        self.lines = line
        return "".join(out)

    def _allocations(self, plan: Sequence[tuple[Any, ...]]) -> str:
        out: list[str] = []
        add, aid, n = out.append, self.allocations, self.n
        for r in plan:
            if r[7] is None:
                continue
            tid, loan, paid, partial = n + r[0], r[1], r[5], r[6]
            amounts = self._amounts[r[3]]
            for k in range(min(paid + 1, len(amounts))):
                p, i = amounts[k]
                if k >= paid:  # the period after the last one settled: part of it
                    i, p = (i, partial - i) if partial > i else (partial, 0)
                if i > 0:
                    aid += 1
                    add(f"{aid}\t{tid}\t{loan}\t{k + 1}\tinterest\t{i}\n")
                if p > 0:
                    aid += 1
                    add(f"{aid}\t{tid}\t{loan}\t{k + 1}\tprincipal\t{p}\n")
        self.allocations = aid
        return "".join(out)

    def _installments(self, plan: Sequence[tuple[Any, ...]]) -> str:
        out: list[str] = []
        add, iid, day = out.append, self.installments, self._day
        for r in plan:
            loan, ti, paid, partial = r[1], r[3], r[5], r[6]
            head, n_due = self._head(r[4])
            term = len(self._amounts[ti])
            if paid:
                tail = f"{day(r[7])}{ZEROS}\n"
                body = self._paid[ti]
                for k in range(paid):
                    iid += 1
                    add(f"{iid}\t{loan}\t{head[k]}{body[k]}{tail}")
            unpaid = self._unpaid[ti]
            for k in range(paid, term):
                iid += 1
                status = "due" if k < n_due else "pending"
                if k == paid and partial:
                    p, i = self._amounts[ti][k]
                    ip, pp = (i, partial - i) if partial > i else (partial, 0)
                    add(
                        f"{iid}\t{loan}\t{head[k]}{self._rates[ti]}\t{p}\t{i}\t{pp}\t{ip}"
                        f"\t{status}\t{NULL}{ZEROS}\n"
                    )
                else:
                    add(f"{iid}\t{loan}\t{head[k]}{unpaid[k][status]}")
        self.installments = iid
        return "".join(out)

    # -- installments in the binary format: the same rows as ``_installments`` (a test
    # holds the book equal to the statements' book); each row's pieces are added to the
    # block as they are (``extend``) rather than concatenated per row, which cost more
    def _binstallments(self, plan: Sequence[tuple[Any, ...]]) -> bytes:
        out: list[bytes] = []
        add, iid = out.extend, self.installments
        row, fields = cb.ROW_INT8.pack, len(COLUMNS["installments"])
        for r in plan:
            loan, ti, paid, partial = cb.text(r[1]), r[3], r[5], r[6]
            head, n_due = self._bhead(r[4])
            term = len(self._amounts[ti])
            if paid:
                tail = self._bday(r[7]) + _ZEROS
                body = self._bpaid[ti]
                for k in range(paid):
                    iid += 1
                    add((row(fields, 8, iid), loan, head[k], body[k], tail))
            unpaid = self._bunpaid[ti]
            for k in range(paid, term):
                iid += 1
                status = "due" if k < n_due else "pending"
                if k == paid and partial:
                    i = self._amounts[ti][k][1]
                    ip, pp = (i, partial - i) if partial > i else (partial, 0)
                    p_b, i_b = self._bamounts[ti][k]
                    add(
                        (
                            row(fields, 8, iid),
                            loan,
                            head[k],
                            cb.int8(self._rates[ti]),
                            p_b,
                            i_b,
                            cb.int8(pp),
                            cb.int8(ip),
                            cb.text(status),
                            cb.NULL,
                            _ZEROS,
                        )
                    )
                else:
                    add((row(fields, 8, iid), loan, head[k], unpaid[k][status]))
        self.installments = iid
        return b"".join(out)
