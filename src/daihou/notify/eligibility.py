"""Which claimed messages must not go out at all, and where each one goes.

A message is cancelled when the customer is on hold (停催, for every loan or this
one), its loan is closed, or its collection case is closed or cured (the loan is no
longer overdue). Addresses come from the encrypted customer record at delivery time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from sqlalchemy import BindParameter, Select, bindparam, null, select
from sqlalchemy.orm import Session

from daihou.collection.models import CollectionCase
from daihou.compliance.gate.models import Hold
from daihou.loans.models import Customer, Loan


class Message(Protocol):
    """What the context reads of a message: an ``OutboxMessage`` or a row of its columns."""

    @property
    def customer_id(self) -> str: ...
    @property
    def loan_id(self) -> str | None: ...
    @property
    def case_id(self) -> str | None: ...
    @property
    def channel(self) -> str: ...


@dataclass
class BatchContext:
    """What the claim needs about a batch's customers, loans and cases, in 4 queries."""

    customers: dict[str, tuple[str | None, str | None, str | None]]
    holds: dict[str, list[str | None]]
    loans: dict[str, tuple[str, int]]
    cases: dict[str, str]

    @classmethod
    def load(cls, session: Session, messages: Sequence[Message]) -> BatchContext:
        customer_ids = sorted({m.customer_id for m in messages})
        loan_ids = sorted({m.loan_id for m in messages if m.loan_id})
        case_ids = sorted({int(m.case_id) for m in messages if m.case_id and m.case_id.isdigit()})
        # decrypt only the columns the batch's channels need
        wanted = {m.channel for m in messages}
        query = _customers_query("sms" in wanted, "email" in wanted, "letter" in wanted)
        customers = {
            row.id: (row.phone, row.email, row.address)
            for row in session.execute(query, {"ids": customer_ids})
        }
        holds: dict[str, list[str | None]] = {}
        for row in session.execute(_HOLDS, {"ids": customer_ids}):
            holds.setdefault(row.customer_id, []).append(row.loan_id)
        loans = {
            row.id: (row.status, row.dpd) for row in session.execute(_LOANS, {"ids": loan_ids})
        }
        cases = {str(row.id): row.status for row in session.execute(_CASES, {"ids": case_ids})}
        return cls(customers, holds, loans, cases)

    def cancel_reason(self, m: Message) -> str | None:
        for loan_id in self.holds.get(m.customer_id, []):
            if loan_id is None or loan_id == m.loan_id:
                return "the customer is on hold (停催)" + (
                    f" for loan {loan_id}" if loan_id else ""
                )
        loan = self.loans.get(m.loan_id) if m.loan_id else None
        if loan is not None and loan[0] == "closed":
            return f"loan {m.loan_id} is closed"
        if m.case_id:
            status = self.cases.get(m.case_id)
            if status is not None and status != "open":
                return f"case {m.case_id} is {status}"
            if loan is not None and loan[1] == 0:
                return f"case {m.case_id} is cured: loan {m.loan_id} is no longer overdue"
        return None

    def address(self, m: Message) -> str | None:
        phone, email, postal = self.customers.get(m.customer_id, (None, None, None))
        return {"sms": phone, "email": email, "letter": postal}.get(m.channel)


# The statements, built once: a claim runs them for every batch.
_IDS: BindParameter[Any] = bindparam("ids", expanding=True)


@lru_cache(maxsize=8)
def _customers_query(phone: bool, email: bool, address: bool) -> Select[Any]:
    return select(
        Customer.id,
        Customer.phone if phone else null().label("phone"),
        Customer.email if email else null().label("email"),
        Customer.address if address else null().label("address"),
    ).where(Customer.id.in_(_IDS))


_HOLDS = select(Hold.customer_id, Hold.loan_id).where(
    Hold.customer_id.in_(_IDS), Hold.released_at.is_(None)
)
_LOANS = select(Loan.id, Loan.status, Loan.dpd).where(Loan.id.in_(_IDS))
_CASES = select(CollectionCase.id, CollectionCase.status).where(CollectionCase.id.in_(_IDS))
