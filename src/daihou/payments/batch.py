"""Batch repayment posting (批量代扣/还款文件): many repayments, few statements.

``post_payments`` gives every row the result ``post_payment`` would give it if the rows
were posted one by one in order, each in its own unit of work: the same checks and
error messages, the same idempotent channel reference (the original posting returned,
a different request under a used reference refused), the same allocations, journal
entries (one per transaction whose target moved, a reallocation when a backdated row
moves an earlier payment's money, an accrual adjustment when 罚息/复利 change), the same
loan caches, closed days replayed after backdated rows, and one audit record per
posting with the same content and chain as ``post_payment`` appends.

How it is fast: rows are taken in chunks (``chunk`` rows, one database transaction
each). A chunk locks its loans in id order, loads their loans, active transactions,
posted journal lines and accrued amounts with one query each, then walks the rows in
order entirely in memory: checks, a pure replay of the loan with the new payment
(under a provisional id, larger than every real one so the replay order is the
final order), the journal deltas. Nothing is written until the walk ends, so a bad row
is only reported and never half-written; then transactions, installments,
allocations, loans, journal entries and lines, accruals and audit records go in with
a few multi-row statements.

Known difference from one-by-one posting: a loan with several backdated rows in one
chunk has its closed days replayed once, from the earliest value date, with all of
them; the snapshots, DPD, buckets and live (not superseded) loan events are the same,
only fewer superseded events are written. (If an earlier backdated row settles the
loan before a later row's value date, one-by-one posting also writes one extra
settled-day snapshot on that later date; the batch does not.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from daihou.auth.actor import SYSTEM, Actor
from daihou.auth.permissions import authorize
from daihou.compliance.audit.service import Entry, canonical_json, record_many
from daihou.db.engine import transaction
from daihou.eod.calendar import ensure_open
from daihou.eod.steps import accrual_lines
from daihou.kernel.money import ZERO
from daihou.kernel.replay import Event, ReplayError, replay
from daihou.ledger.service import EntryDraft, post_entries
from daihou.payments import batch_io as io
from daihou.payments.errors import NotFound, ServicingError
from daihou.payments.journal import journal_deltas, target_lines
from daihou.payments.models import Transaction
from daihou.payments.recompute import _write_rate_changes, cache_loan
from daihou.payments.service import (
    Posting,
    _same_request,
    check_fields,
    check_value_date,
    replay_closed_days,
)
from daihou.payments.terms import loan_terms, lpr_history
from daihou.policy import PolicyPack, load_pack

PROVISIONAL = 1 << 60  # ids of new transactions until they are inserted
ACTION = "payment.post"


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """One row of a repayment file. ``row`` is the row number to report (0: the
    request's position, counting from 1)."""

    loan_id: str
    amount: Any  # str or Decimal, e.g. "5307.27"
    value_date: date | str
    channel: str
    reference: str
    row: int = 0


@dataclass(frozen=True, slots=True)
class RowResult:
    """``status`` is posted, duplicate (the reference was posted before: ``posting`` is
    the original) or error (``field`` names the column at fault, when one is)."""

    row: int
    loan_id: str
    reference: str
    status: str
    posting: Posting | None = None
    field: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class BatchResult:
    rows: tuple[RowResult, ...]
    digest: str  # SHA-256 of the rows as read (canonical JSON), for the operator's records

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r.status == status)

    @property
    def posted(self) -> int:
        return self.count("posted")

    @property
    def duplicates(self) -> int:
        return self.count("duplicate")

    @property
    def errors(self) -> tuple[RowResult, ...]:
        return tuple(r for r in self.rows if r.status == "error")


def requests_digest(requests: Sequence[PaymentRequest]) -> str:
    rows = [
        [r.row, r.loan_id, str(r.amount), str(r.value_date), r.channel, r.reference]
        for r in requests
    ]
    return hashlib.sha256(canonical_json(rows).encode()).hexdigest()


def post_payments(
    engine: Engine,
    requests: Sequence[PaymentRequest],
    *,
    actor: Actor = SYSTEM,
    pack: PolicyPack | None = None,
    chunk: int = 500,
) -> BatchResult:
    """Post repayments in chunks of ``chunk`` rows, one transaction per chunk; each row
    posts fully or is reported as an error naming its row and field. A chunk that
    fails as a whole (end of day started, the database went away) raises: the chunks
    before it stay committed, and posting the same file again reports their rows as
    duplicates and posts the rest."""
    if chunk < 1:
        raise ValueError("chunk must be at least 1")
    basis = authorize(actor, ACTION).as_dict()
    pack = pack or load_pack()
    numbered = [
        r if r.row else PaymentRequest(r.loan_id, r.amount, r.value_date, r.channel, r.reference, n)
        for n, r in enumerate(requests, 1)
    ]
    out: list[RowResult] = []
    for start in range(0, len(numbered), chunk):
        part = numbered[start : start + chunk]
        for attempt in range(3):
            try:
                with transaction(engine) as session:
                    done = _Chunk(session, pack, actor, basis).run(part)
                break
            except IntegrityError:
                # a reference of this chunk was committed by another poster meanwhile:
                # redo the chunk, which then finds it
                if attempt == 2:
                    raise
        out.extend(done)
    return BatchResult(tuple(out), requests_digest(numbered))


def _parse_date(value: date | str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ServicingError(f"{value!r} is not a date (YYYY-MM-DD)", field="value_date") from None


class _Chunk:
    def __init__(
        self, session: Session, pack: PolicyPack, actor: Actor, basis: dict[str, Any]
    ) -> None:
        self.session, self.pack, self.actor, self.basis = session, pack, actor, basis
        self.drafts: list[EntryDraft] = []
        self.accruals: list[tuple[int, dict[str, Any]]] = []  # (draft index, row)
        self.new_rows: list[dict[str, Any]] = []
        self.pending: list[tuple[PaymentRequest, Any]] = []

    def run(self, part: Sequence[PaymentRequest]) -> list[RowResult]:
        s = self.session
        loans = io.lock_loans(s, [r.loan_id for r in part if isinstance(r.loan_id, str)])
        self.today = today = ensure_open(s)
        terms = {
            loan_id: loan_terms(loan, self.pack.product(loan.product))
            for loan_id, loan in loans.items()
        }
        self.lpr = lpr_history(s) if any(t.floating for t in terms.values()) else []
        keys = {(r.channel, r.reference) for r in part if r.channel and r.reference}
        self.refs, self.db_alloc = io.existing_references(s, keys)
        self.ref_ids = {key: txn.id for key, txn in self.refs.items()}
        # only loans with a row not posted before can change (a file run again loads none)
        fresh = {r.loan_id for r in part if (r.channel, r.reference) not in self.refs}
        self.loans = loans
        self.work = io.load_work(s, {k: v for k, v in loans.items() if k in fresh}, terms)
        for n, req in enumerate(part):
            try:
                self.pending.append((req, self._row(req, PROVISIONAL + n, loans, today)))
            except ServicingError as exc:
                field = "value_date" if exc.field == "on" else exc.field
                self.pending.append(
                    (
                        req,
                        RowResult(
                            req.row,
                            req.loan_id,
                            req.reference,
                            "error",
                            field=field,
                            error=str(exc),
                        ),
                    )
                )
        return self._write()

    # -- one row, in memory ----------------------------------------------------------
    def _row(self, req: PaymentRequest, pid: int, loans: dict[str, Any], today: date) -> Any:
        loan = loans.get(req.loan_id)
        if loan is None:
            raise NotFound(f"loan {req.loan_id!r} not found", field="loan_id")
        try:
            money = check_fields(amount=req.amount, channel=req.channel, reference=req.reference)
        except ServicingError:
            raise
        except (ValueError, TypeError) as exc:
            raise ServicingError(str(exc).removeprefix("amount: "), field="amount") from None
        value_date = _parse_date(req.value_date)
        check_value_date(loan, value_date, today)
        key = (req.channel, req.reference)
        found = self.refs.get(key)
        if found is not None:
            txn = _same_request(found, req.loan_id, "repayment", money, value_date)
            return ("duplicate", txn, self.ref_ids[key], self._current(txn, self.ref_ids[key]))
        work = self.work[loan.id]
        txn = Transaction(
            loan_id=loan.id,
            kind="repayment",
            value_date=value_date,
            booked_on=today,
            amount=money,
            channel=req.channel,
            reference=req.reference,
            status="posted",
        )
        event = Event(txn_id=pid, kind="repayment", value_date=value_date, amount=money)
        try:
            result = replay(work.terms, [*work.events, event], as_of=today, lpr_history=self.lpr)
        except ReplayError as exc:
            raise ServicingError(str(exc)) from exc
        txn.id = pid  # never added to the session: only read by the checks below
        work.events.append(event)
        work.txns[pid] = txn
        work.result = result
        work.created += 1
        if value_date < today:
            work.since = value_date if work.since is None else min(work.since, value_date)
        self.refs[key], self.ref_ids[key] = txn, pid
        self.new_rows.append(
            {
                "loan_id": loan.id,
                "kind": "repayment",
                "value_date": value_date,
                "booked_on": today,
                "amount": money,
                "channel": req.channel,
                "reference": req.reference,
                "status": "posted",
            }
        )
        self._sync_journal(work, result, today)
        cache_loan(work.loan, result)  # the loan row's columns, as recompute sets them
        allocation = io.quantized(result.allocations.get(pid, []))
        return ("posted", txn, pid, (allocation, work.loan.status, result.notes.get(pid)))

    def _current(self, txn: Transaction, txn_id: int) -> Any:
        """Allocation and loan status of an earlier posting, as they stand now."""
        loan = self.loans.get(txn.loan_id)
        status = loan.status if loan is not None else "active"
        work = self.work.get(txn.loan_id)
        if work is not None and work.result is not None:
            return io.quantized(work.result.allocations.get(txn_id, [])), status, None
        return self.db_alloc.get(txn_id, ()), status, None

    def _sync_journal(self, work: io.LoanWork, result: Any, today: date) -> None:
        loan_id = work.loan.id
        targets = {
            tid: target_lines(t, result.allocations.get(tid, []), result.charges.get(tid, []))
            for tid, t in work.txns.items()
        }
        for tid, lines, kind, memo in journal_deltas(targets, work.posted, work.txns):
            self.drafts.append(
                EntryDraft(kind, work.txns[tid].value_date, today, lines, loan_id, tid, memo)
            )
            work.posted[tid] = targets[tid]
        penalty = sum((i.due["penalty"] for i in result.installments), ZERO)
        compound = sum((i.due["compound"] for i in result.installments), ZERO)
        dp, dc = penalty - work.accrued[0], compound - work.accrued[1]
        if dp != ZERO or dc != ZERO:
            memo = "罚息/复利 recomputed after a posting"
            self.accruals.append(
                (
                    len(self.drafts),
                    {
                        "loan_id": loan_id,
                        "business_date": today,
                        "penalty": dp,
                        "compound": dc,
                        "source": "recompute",
                    },
                )
            )
            self.drafts.append(
                EntryDraft(
                    "accrual-adjustment", today, today, accrual_lines(dp, dc), loan_id, None, memo
                )
            )
            work.accrued = (penalty, compound)

    # -- writes ----------------------------------------------------------------------
    def _write(self) -> list[RowResult]:
        s, today = self.session, self.today
        real = dict(
            zip(
                (PROVISIONAL + n for n, (_, p) in enumerate(self.pending) if _is_new(p)),
                io.insert_transactions(s, self.new_rows),
                strict=True,
            )
        )
        touched = {k: w for k, w in self.work.items() if w.result is not None}
        results = {k: w.result for k, w in touched.items() if w.result is not None}
        io.write_installments(s, results, today)
        io.write_allocations(s, results, real)
        for work in touched.values():
            assert work.result is not None
            if work.terms.floating is not None:
                _write_rate_changes(s, work.loan, work.result)
            work.loan.version += work.created
        drafts = [
            d if d.transaction_id is None else _with_txn(d, real.get(d.transaction_id))
            for d in self.drafts
        ]
        entry_ids = post_entries(s, drafts)
        io.insert_accruals(
            s, [{**row, "journal_entry_id": entry_ids[i]} for i, row in self.accruals]
        )
        s.flush()
        for loan_id, work in touched.items():
            if work.since is not None:
                replay_closed_days(s, loan_id, since=work.since, today=today, pack=self.pack)
        rows: list[RowResult] = []
        audit: list[Entry] = []
        for req, outcome in self.pending:
            if isinstance(outcome, RowResult):
                rows.append(_real_ids(outcome, real))
                continue
            status, txn, tid, (allocation, loan_status, note) = outcome
            posting = Posting(
                transaction_id=real.get(tid, tid),
                loan_id=txn.loan_id,
                kind=txn.kind,
                amount=txn.amount,
                value_date=txn.value_date,
                channel=txn.channel,
                reference=txn.reference,
                created=status == "posted",
                allocation=allocation,
                note=note,
                loan_status=loan_status,
            )
            rows.append(RowResult(req.row, req.loan_id, req.reference, status, posting))
            if status == "posted":
                audit.append(_audit_entry(posting))
        record_many(s, audit, actor=self.actor, basis=self.basis, business_date=today)
        return rows


def _real_ids(row: RowResult, real: dict[int, int]) -> RowResult:
    """An error that names a transaction of this chunk (a reference used twice) names
    it by its real id."""
    if row.error is None or str(PROVISIONAL)[:8] not in row.error:
        return row
    text = row.error
    for pid, txn_id in real.items():
        text = text.replace(str(pid), str(txn_id))
    return RowResult(row.row, row.loan_id, row.reference, row.status, None, row.field, text)


def _is_new(outcome: Any) -> bool:
    return isinstance(outcome, tuple) and outcome[0] == "posted"


def _with_txn(draft: EntryDraft, txn_id: int | None) -> EntryDraft:
    if txn_id is None:
        return draft
    return EntryDraft(
        draft.kind,
        draft.entry_date,
        draft.booked_on,
        draft.lines,
        draft.loan_id,
        txn_id,
        draft.memo,
    )


def _audit_entry(posting: Posting) -> Entry:
    """The record ``post_payment`` appends for the same posting."""
    return Entry(
        action=ACTION,
        object_type="transaction",
        object_id=str(posting.transaction_id),
        after={
            "loan_id": posting.loan_id,
            "kind": posting.kind,
            "amount": posting.amount,
            "value_date": posting.value_date,
            "channel": posting.channel,
            "reference": posting.reference,
            "allocation": [(a.period, a.component, a.amount) for a in posting.allocation],
        },
    )
