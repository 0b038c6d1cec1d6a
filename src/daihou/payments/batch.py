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
from dataclasses import dataclass, replace
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
from daihou.gc_pause import gc_paused
from daihou.kernel.allocation import Applied
from daihou.kernel.replay import Event, ReplayError, replay
from daihou.ledger.service import EntryDraft, post_entries
from daihou.payments import batch_io as io
from daihou.payments.errors import NotFound, ServicingError
from daihou.payments.installment_rows import write_installments
from daihou.payments.journal import WRITTEN_OFF
from daihou.payments.models import Transaction
from daihou.payments.recompute import cache_loan, write_rate_changes
from daihou.payments.service import (
    Posting,
    _same_request,
    check_fields,
    check_value_date,
    recovery_kind,
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
                # no cyclic GC in a chunk: it holds its loans' replayed schedules and
                # ORM rows until it writes them, and collections during it promoted them
                # and set off full collections of the whole heap (about a fifth of the
                # demo's payments part); reference counting frees them at its end
                with gc_paused(), transaction(engine) as session:
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


@dataclass(frozen=True, slots=True)
class _Done:
    """A row that posts (``created``) or finds its reference posted before."""

    created: bool
    txn: Transaction
    txn_id: int  # provisional until the chunk's transactions are inserted
    allocation: tuple[Applied, ...]
    loan_status: str
    note: str | None = None


class _Chunk:
    """One chunk: checks and replays in memory row by row, then writes it all."""

    def __init__(
        self, session: Session, pack: PolicyPack, actor: Actor, basis: dict[str, Any]
    ) -> None:
        self.session, self.pack, self.actor, self.basis = session, pack, actor, basis
        self.drafts: list[EntryDraft] = []
        self.accruals: list[tuple[int, dict[str, Any]]] = []  # (draft index, row)
        self.pending: list[tuple[PaymentRequest, _Done | RowResult]] = []

    def run(self, part: Sequence[PaymentRequest]) -> list[RowResult]:
        s = self.session
        self.loans = io.lock_loans(s, [r.loan_id for r in part if isinstance(r.loan_id, str)])
        self.today = ensure_open(s)
        terms = {
            loan_id: loan_terms(loan, self.pack.product(loan.product))
            for loan_id, loan in self.loans.items()
        }
        self.lpr = lpr_history(s) if any(t.floating for t in terms.values()) else []
        keys = {(r.channel, r.reference) for r in part if r.channel and r.reference}
        self.refs, self.db_alloc = io.existing_references(s, keys)
        self.ref_ids = {key: txn.id for key, txn in self.refs.items()}
        # only loans with a row not posted before can change (a file run again loads none)
        fresh = {r.loan_id for r in part if (r.channel, r.reference) not in self.refs}
        self.work = io.load_work(s, {k: v for k, v in self.loans.items() if k in fresh}, terms)
        for n, req in enumerate(part):
            try:
                self.pending.append((req, self._row(req, PROVISIONAL + n)))
            except ServicingError as exc:
                field = "value_date" if exc.field == "on" else exc.field
                error = RowResult(
                    req.row, req.loan_id, req.reference, "error", None, field, str(exc)
                )
                self.pending.append((req, error))
        return self._write()

    # -- one row, in memory ----------------------------------------------------------
    def _row(self, req: PaymentRequest, pid: int) -> _Done:
        """``post_payment``'s checks in its order, then the replay with the new payment."""
        today = self.today
        loan = self.loans.get(req.loan_id)
        if loan is None:
            raise NotFound(f"loan {req.loan_id!r} not found", field="loan_id")
        try:
            money = check_fields(amount=req.amount, channel=req.channel, reference=req.reference)
        except ServicingError:
            raise
        except (ValueError, TypeError) as exc:  # to_money's, which names the field itself
            raise ServicingError(str(exc).removeprefix("amount: "), field="amount") from None
        value_date = _parse_date(req.value_date)
        kind = "repayment"
        if loan.status == WRITTEN_OFF:  # 核销后收回: booked as a recovery, as post_payment does
            kind = recovery_kind(loan, kind, value_date)
        check_value_date(loan, value_date, today)
        key = (req.channel, req.reference)
        found = self.refs.get(key)
        if found is not None:
            txn = _same_request(found, req.loan_id, kind, money, value_date)
            return self._current(txn, self.ref_ids[key])
        work = self.work[loan.id]
        event = Event(txn_id=pid, kind=kind, value_date=value_date, amount=money)
        try:
            result = replay(work.terms, [*work.events, event], as_of=today, lpr_history=self.lpr)
        except ReplayError as exc:
            raise ServicingError(str(exc)) from exc
        txn = Transaction(  # never added to the session: inserted with Core in _write
            id=pid,
            loan_id=loan.id,
            kind=kind,
            value_date=value_date,
            booked_on=today,
            amount=money,
            channel=req.channel,
            reference=req.reference,
            status="posted",
        )
        work.events.append(event)
        work.txns[pid] = txn
        work.result = result
        work.created += 1
        if value_date < today:
            work.since = value_date if work.since is None else min(work.since, value_date)
        self.refs[key], self.ref_ids[key] = txn, pid
        work.sync_journal(result, self.today, self.drafts, self.accruals)
        cache_loan(work.loan, result)  # the loan row's columns, as recompute sets them
        allocation = io.quantized(result.allocations.get(pid, []))
        return _Done(True, txn, pid, allocation, work.loan.status, result.notes.get(pid))

    def _current(self, txn: Transaction, txn_id: int) -> _Done:
        """An earlier posting of the reference, with its allocation as it stands now."""
        loan = self.loans.get(txn.loan_id)
        status = loan.status if loan is not None else "active"
        work = self.work.get(txn.loan_id)
        if work is not None and work.result is not None:
            parts = io.quantized(work.result.allocations.get(txn_id, []))
        else:
            parts = self.db_alloc.get(txn_id, ())
        return _Done(False, txn, txn_id, parts, status)

    # -- writes ----------------------------------------------------------------------
    def _write(self) -> list[RowResult]:
        s, today = self.session, self.today
        new = [d for _, d in self.pending if isinstance(d, _Done) and d.created]
        real = dict(
            zip(
                (d.txn_id for d in new),
                io.insert_transactions(s, [_transaction_row(d.txn) for d in new]),
                strict=True,
            )
        )
        touched = {k: w for k, w in self.work.items() if w.result is not None}
        results = {k: w.result for k, w in touched.items() if w.result is not None}
        # a batch posts only repayments and recoveries dated by today: a loan's
        # installments due later are as stored unless an LPR repricing is not stored yet
        # or a later event (a prepayment re-amortising, a fee) follows a new posting
        floating = {
            k: (w.loan, w.result)
            for k, w in touched.items()
            if w.terms.floating is not None and w.result is not None
        }
        stored = write_rate_changes(s, floating)
        kept = [
            k
            for k, w in touched.items()
            if (k not in floating or k in stored) and _only_repayments_since(w, today)
        ]
        write_installments(s, results, today, kept)
        io.write_allocations(s, results, real)
        for work in touched.values():
            work.loan.version += work.created
        io.write_loans(s, [w.loan for w in touched.values()])
        drafts = [
            d
            if d.transaction_id is None
            else replace(d, transaction_id=real.get(d.transaction_id, d.transaction_id))
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
            txn = outcome.txn
            posting = Posting(
                transaction_id=real.get(outcome.txn_id, outcome.txn_id),
                loan_id=txn.loan_id,
                kind=txn.kind,
                amount=txn.amount,
                value_date=txn.value_date,
                channel=txn.channel,
                reference=txn.reference,
                created=outcome.created,
                allocation=outcome.allocation,
                note=outcome.note,
                loan_status=outcome.loan_status,
            )
            status = "posted" if outcome.created else "duplicate"
            rows.append(RowResult(req.row, req.loan_id, req.reference, status, posting))
            if outcome.created:
                audit.append(_audit_entry(posting))
        record_many(s, audit, actor=self.actor, basis=self.basis, business_date=today)
        return rows


def _only_repayments_since(work: io.LoanWork, today: date) -> bool:
    """Whether every event of the loan from its earliest new posting on is a repayment
    or a recovery (which pay only what is due by their date)."""
    since = work.since or today
    return all(e.kind in _PAYS_DUE for e in work.events if e.value_date >= since)


_PAYS_DUE = frozenset({"repayment", "recovery"})


def _transaction_row(txn: Transaction) -> dict[str, Any]:
    return {
        "loan_id": txn.loan_id,
        "kind": txn.kind,
        "value_date": txn.value_date,
        "booked_on": txn.booked_on,
        "amount": txn.amount,
        "channel": txn.channel,
        "reference": txn.reference,
        "status": txn.status,
    }


def _real_ids(row: RowResult, real: dict[int, int]) -> RowResult:
    """An error that names a transaction of this chunk (a reference used twice) names
    it by its real id."""
    if row.error is None or str(PROVISIONAL)[:8] not in row.error:
        return row
    text = row.error
    for pid, txn_id in real.items():
        text = text.replace(str(pid), str(txn_id))
    return replace(row, error=text)


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
