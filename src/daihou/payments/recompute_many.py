"""``recompute_loan`` for a set of loans at once, with the payment batch's readers and
writers (``payments.batch_io``, ``installment_rows``).

End of day's due step replays every loan holding customer credit (溢缴款) with
something falling due, so that the credit pays it. One by one, ``recompute_loan`` costs
a dozen statements per loan (the loan, its transactions, journal lines, accruals,
installments, allocations, rate changes, then its writes); here each read is one
statement for all the loans and each write one multi-row statement. What is written is
what ``recompute_loan`` writes loan after loan in id order: the same installments,
allocations, rate changes and loan columns, the same journal entries (a transaction's
delta, then the loan's accrual adjustment) in the same order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from daihou.eod.calendar import business_date
from daihou.kernel.replay import ReplayResult, replay
from daihou.ledger.service import EntryDraft, post_entries
from daihou.loans.models import Loan
from daihou.payments import batch_io as io
from daihou.payments.installment_rows import write_installments
from daihou.payments.recompute import cache_loan, write_rate_changes
from daihou.payments.terms import loan_terms, lpr_history
from daihou.policy import PolicyPack


def recompute_loans(session: Session, loan_ids: Iterable[str], *, pack: PolicyPack) -> int:
    """Replay the loans as of the business date and write every cache and journal delta,
    as ``recompute_loan`` would for each in id order; the number of loans recomputed.
    The caller holds the loans (end of day: the database's write lock)."""
    ids = sorted(set(loan_ids))
    if not ids:
        return 0
    today = business_date(session)
    loans = {
        loan.id: loan
        for loan in session.execute(select(Loan).where(Loan.id.in_(ids)).order_by(Loan.id))
        .scalars()
        .all()
    }
    missing = [i for i in ids if i not in loans]
    if missing:
        raise LookupError(f"loan {missing[0]!r} not found")
    terms = {i: loan_terms(loans[i], pack.product(loans[i].product)) for i in ids}
    lpr = lpr_history(session) if any(t.floating is not None for t in terms.values()) else ()
    work = io.load_work(session, {i: loans[i] for i in ids}, terms)
    drafts: list[EntryDraft] = []
    accruals: list[tuple[int, dict[str, Any]]] = []  # (draft index, row)
    results: dict[str, ReplayResult] = {}
    for loan_id in ids:
        w = work[loan_id]
        results[loan_id] = result = replay(w.terms, w.events, as_of=today, lpr_history=lpr)
        w.sync_journal(result, today, drafts, accruals)
    write_installments(session, results, today)
    io.write_allocations(session, results, {})
    # only a floating-rate loan is repriced, so only its repricings are stored (as the
    # payment batch, spare the fixed-rate loans the read)
    write_rate_changes(
        session,
        {i: (loans[i], r) for i, r in results.items() if terms[i].floating is not None},
    )
    for loan_id, result in results.items():
        cache_loan(loans[loan_id], result)
    io.write_loans(session, [loans[i] for i in results])
    entry_ids = post_entries(session, drafts)
    io.insert_accruals(session, [{**row, "journal_entry_id": entry_ids[i]} for i, row in accruals])
    session.flush()
    return len(ids)
