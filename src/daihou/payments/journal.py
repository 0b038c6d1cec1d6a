"""Keep the journal equal to what the loan's transactions mean now.

Each transaction has a *target*: the net amount per account it should have put in the
journal given its current allocation (a backdated payment or a reversal can move an
older payment's money from credit to interest, say). ``sync_journal`` compares the
target with what is already posted under that transaction and posts the difference as
a new balanced entry. Posted lines are never changed; the history is in the entries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from daihou.kernel.allocation import Applied
from daihou.kernel.money import ZERO
from daihou.ledger import accounts
from daihou.ledger.models import JournalEntry, JournalLine
from daihou.ledger.service import EntryDraft, post_entries
from daihou.payments.models import Transaction

Net = dict[str, Decimal]  # account -> debit minus credit

SYNCED_KINDS = (
    "repayment",
    "prepayment",
    "fee",
    "refund",
    "waiver",
    "recovery",
    "restructure",
    "plan-break",
)
WRITTEN_OFF = "written-off"  # loans.status after a write-off (核销)

# Where a waiver (减免罚息) is charged: the receivable is cleared against a contra-income
# account, so penalty income stays what was accrued and the waivers show on their own.
_WAIVED = {"penalty": accounts.PENALTY_RECEIVABLE, "compound": accounts.COMPOUND_RECEIVABLE}


def target_lines(txn: Transaction, parts: list[Applied], charges: list[tuple[str, Decimal]]) -> Net:
    net: Net = defaultdict(lambda: ZERO)
    if txn.kind in ("repayment", "prepayment"):
        assert txn.channel is not None
        net[accounts.clearing(txn.channel)] += txn.amount
        for part in parts:
            net[accounts.COMPONENT_ACCOUNT[part.component]] -= part.amount
    elif txn.kind == "recovery":
        # the loan is off the books: whatever the replay pays with it is recovery income
        assert txn.channel is not None
        net[accounts.clearing(txn.channel)] += txn.amount
        net[accounts.RECOVERY_INCOME] -= txn.amount
    elif txn.kind == "waiver":
        for part in parts:
            net[accounts.PENALTY_WAIVED] += part.amount
            net[_WAIVED[part.component]] -= part.amount
    elif txn.kind == "refund":
        assert txn.channel is not None
        net[accounts.CUSTOMER_CREDIT] += txn.amount
        net[accounts.clearing(txn.channel)] -= txn.amount
    for component, amount in charges:
        if component == "fee":
            net[accounts.FEE_RECEIVABLE] += amount
            net[accounts.FEE_INCOME] -= amount
    return {k: v for k, v in net.items() if v != ZERO}


def posted_lines(session: Session, loan_id: str) -> dict[int, Net]:
    """Net posted amount per transaction and account for one loan."""
    return posted_lines_many(session, [loan_id]).get(loan_id, defaultdict(dict))


def posted_lines_many(session: Session, loan_ids: Sequence[str]) -> dict[str, dict[int, Net]]:
    """``posted_lines`` of several loans in one query: loan -> transaction -> net."""
    rows = session.execute(
        select(
            JournalEntry.loan_id,
            JournalEntry.transaction_id,
            JournalLine.account,
            func.sum(JournalLine.debit),
            func.sum(JournalLine.credit),
        )
        .join(JournalLine, JournalLine.entry_id == JournalEntry.id)
        .where(JournalEntry.loan_id.in_(loan_ids), JournalEntry.transaction_id.is_not(None))
        .group_by(JournalEntry.loan_id, JournalEntry.transaction_id, JournalLine.account)
    ).all()
    out: dict[str, dict[int, Net]] = {}
    for loan_id, txn_id, account, debit, credit in rows:
        net = (debit or ZERO) - (credit or ZERO)
        if net != ZERO:
            out.setdefault(loan_id, defaultdict(dict))[txn_id][account] = net
    return out


def _lines(delta: Net) -> list[tuple[str, Decimal, Decimal]]:
    return [
        (account, amount if amount > 0 else ZERO, -amount if amount < 0 else ZERO)
        for account, amount in sorted(delta.items())
        if amount != ZERO
    ]


def sync_journal(
    session: Session,
    *,
    loan_id: str,
    targets: dict[int, Net],
    transactions: dict[int, Transaction],
    booked_on: date,
) -> int:
    """Post the difference between target and posted lines; return entries written."""
    drafts = [
        EntryDraft(kind, transactions[txn_id].value_date, booked_on, lines, loan_id, txn_id, memo)
        for txn_id, lines, kind, memo in journal_deltas(
            targets, posted_lines(session, loan_id), transactions
        )
    ]
    return len(post_entries(session, drafts))


def journal_deltas(
    targets: dict[int, Net], posted: dict[int, Net], transactions: dict[int, Transaction]
) -> Iterator[tuple[int, list[tuple[str, Decimal, Decimal]], str, str | None]]:
    """The entries that bring ``posted`` to ``targets``, in transaction order: (transaction,
    lines, kind, memo). Pure, so the batch path posts exactly what ``sync_journal`` would."""
    for txn_id, target in sorted(targets.items()):
        have = posted.get(txn_id, {})
        delta = {a: target.get(a, ZERO) - have.get(a, ZERO) for a in set(target) | set(have)}
        if all(v == ZERO for v in delta.values()):
            continue
        kind = transactions[txn_id].kind if not have else "reallocation"
        memo = None if not have else "allocation changed by a backdated event"
        yield txn_id, _lines(delta), kind, memo


def reversal_lines(
    session: Session, *, loan_id: str, original_id: int
) -> list[tuple[str, Decimal, Decimal]]:
    """Lines that exactly undo everything posted under ``original_id``."""
    have = posted_lines(session, loan_id).get(original_id, {})
    return _lines({a: -v for a, v in have.items()})
