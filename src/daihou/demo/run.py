"""The demo: a synthetic book imported into a fresh SQLite database, months of
repayments with realistic behaviour (on time, late, partial, stopped paying, prepaid,
bounced debits reversed, overpayments refunded), then the loan states.

Deterministic: the same seed and business date give the same book and the same result.
"""

from __future__ import annotations

import random
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, select

from daihou.compliance.privacy.crypto import (
    KeyNotConfigured,
    current_keyring,
    ensure_key_file,
    install_keyring,
)
from daihou.db.engine import make_engine, transaction
from daihou.db.schema import init_database
from daihou.demo.synthetic import loan_rows, write_csv
from daihou.kernel.money import ZERO, q2
from daihou.ledger.service import trial_balance
from daihou.loans.book import import_loans
from daihou.loans.lpr import seed_lpr_from_pack
from daihou.loans.models import Installment, Loan
from daihou.payments.quote import payoff_quote
from daihou.payments.service import post_payment, prepay, refund_credit, reverse_transaction

BEHAVIOURS = (  # (name, share)
    ("on-time", 0.86),
    ("late", 0.05),
    ("partial", 0.03),
    ("stopped", 0.03),
    ("prepaid", 0.02),
    ("overpays", 0.01),
)


@dataclass
class DemoResult:
    db_url: str
    business_date: date
    loans: int = 0
    postings: int = 0
    reversals: int = 0
    prepayments: int = 0
    refunds: int = 0
    behaviours: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    outstanding: Decimal = ZERO
    overdue: Decimal = ZERO
    overdue_loans: int = 0
    balanced: bool = False


def _behaviour(rng: random.Random) -> str:
    x, acc = rng.random(), 0.0
    for name, share in BEHAVIOURS:
        acc += share
        if x < acc:
            return name
    return BEHAVIOURS[0][0]


def _schedule(engine: Engine, loan_id: str, until: date) -> list[tuple[int, date, Decimal]]:
    with transaction(engine) as s:
        rows = s.execute(
            select(Installment)
            .where(Installment.loan_id == loan_id, Installment.due_date <= until)
            .order_by(Installment.period)
        ).scalars()
        return [(i.period, i.due_date, i.principal_due + i.interest_due + i.fee_due) for i in rows]


def _pay(engine: Engine, loan_id: str, amount: Decimal, on: date, ref: str, channel: str) -> int:
    with transaction(engine) as s:
        return post_payment(
            session=s, loan_id=loan_id, amount=amount, value_date=on, channel=channel, reference=ref
        ).transaction_id


def simulate_loan(
    engine: Engine, loan_id: str, rng: random.Random, today: date, result: DemoResult
) -> None:
    """Post one loan's repayments according to a behaviour drawn for it."""
    behaviour = _behaviour(rng)
    result.behaviours[behaviour] += 1
    plan = _schedule(engine, loan_id, today)
    stop_at = rng.randrange(1, len(plan) + 1) if plan else 0
    prepay_at = rng.randrange(0, len(plan)) if plan else 0
    for k, (period, due, amount) in enumerate(plan):
        channel = rng.choice(("bank-debit", "bank-debit", "online", "counter", "transfer"))
        ref = f"{loan_id}-{period}"
        on, pay = due, amount
        if behaviour == "late":
            on = due + timedelta(days=rng.randrange(3, 45))
        elif behaviour == "partial":
            pay = q2(amount * Decimal("0.6"))
        elif behaviour == "stopped" and k >= stop_at:
            break
        elif behaviour == "overpays" and k == 0:
            pay = amount + Decimal("500.00")
        if on > today:
            break
        if behaviour == "prepaid" and k == prepay_at:
            with transaction(engine) as s:
                quote = payoff_quote(s, loan_id, on=on)
                prepay(
                    session=s,
                    loan_id=loan_id,
                    amount=quote.total,
                    value_date=on,
                    full=True,
                    channel=channel,
                    reference=f"{ref}-payoff",
                )
            result.prepayments += 1
            return
        txn = _pay(engine, loan_id, pay, on, ref, channel)
        result.postings += 1
        if (
            channel == "bank-debit" and rng.random() < 0.01
        ):  # a bounced debit: 冲正, then paid again
            with transaction(engine) as s:
                reverse_transaction(session=s, transaction_id=txn, reason="bank debit returned")
            result.reversals += 1
            _pay(engine, loan_id, pay, min(on + timedelta(days=2), today), f"{ref}-retry", "online")
            result.postings += 1
    if behaviour == "overpays":
        with transaction(engine) as s:
            loan = s.get(Loan, loan_id)
            if loan is not None and loan.credit_balance > ZERO:  # not used up by later dues
                refund_credit(session=s, loan_id=loan_id, reference=f"{loan_id}-refund")
                result.refunds += 1


def _demo_key(db_path: Path) -> None:
    """The demo's throw-away database gets its own key file beside it (mode 0600) when
    no data key is configured; real books are refused without a configured key."""
    try:
        current_keyring()
    except KeyNotConfigured:
        install_keyring(ensure_key_file(Path(db_path).with_suffix(".keys")))


def run_demo(
    *,
    db_path: Path,
    loans: int,
    seed: int,
    business_date: date,
    progress: Callable[[str, int, int], None] | None = None,
) -> DemoResult:
    """Build a fresh database at ``db_path`` and run the demo on it."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    _demo_key(db_path)
    engine = make_engine(f"sqlite:///{db_path}")
    result = DemoResult(db_url=f"sqlite:///{db_path}", business_date=business_date)
    init_database(engine=engine, business_date=business_date)
    with transaction(engine) as s:
        seed_lpr_from_pack(s)
    with tempfile.TemporaryDirectory() as tmp:
        book = write_csv(
            Path(tmp) / "book.csv", loan_rows(loans, seed=seed, business_date=business_date)
        )
        import_loans(
            engine=engine,
            path=book,
            progress=(lambda d, t: progress("import", d, t)) if progress else None,
        )
    rng = random.Random(seed)
    with transaction(engine) as s:
        ids = list(s.scalars(select(Loan.id).order_by(Loan.id)))
    result.loans = len(ids)
    for n, loan_id in enumerate(ids, 1):
        simulate_loan(engine, loan_id, rng, business_date, result)
        if progress:
            progress("repayments", n, len(ids))
    with transaction(engine) as s:
        for loan in s.scalars(select(Loan)):
            result.statuses[loan.status] += 1
            result.outstanding += loan.outstanding_principal
        overdue_rows = s.execute(
            select(Installment).where(
                Installment.due_date < business_date, Installment.status == "due"
            )
        ).scalars()
        late_loans: set[str] = set()
        for i in overdue_rows:
            owed = (i.principal_due + i.interest_due + i.fee_due) - (
                i.principal_paid + i.interest_paid + i.fee_paid
            )
            result.overdue += owed
            late_loans.add(i.loan_id)
        result.overdue_loans = len(late_loans)
        result.balanced = trial_balance(s).balanced
    engine.dispose()
    return result
