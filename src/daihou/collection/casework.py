"""Pieces the contact, promise, repair and visit services share: the case row and its
scope, the pack settings, the overdue amount, time handling and the audit call.

Lock order (as everywhere in daihou): the case row first (``SELECT … FOR UPDATE``),
then the audit append lock, then the contact gate's per-debtor lock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, bindparam, func, select
from sqlalchemy.orm import Session

from daihou.auth.actor import Actor
from daihou.auth.permissions import AuthorizationBasis, authorize
from daihou.auth.scopes import ResourceScope
from daihou.collection.contact_settings import ContactSettings
from daihou.collection.models import CaseStatusChange, CollectionCase
from daihou.collection.overdue_amounts import unpaid_fen_expr
from daihou.compliance.audit.service import record
from daihou.loans.models import Installment
from daihou.policy.loader import load_pack
from daihou.policy.schema import PolicyPack

NOTE_MAX = 4000


def settings_of(pack: PolicyPack | None = None) -> ContactSettings:
    return (pack or load_pack()).contacts


def case_scope(case: CollectionCase) -> ResourceScope:
    return ResourceScope(
        owner_user_id=case.owner_user_id,
        team=case.team,
        agency_id=case.agency_id,
        territory=case.territory,
    )


_CASE = select(CollectionCase).where(CollectionCase.id == bindparam("case_id"))
_CASE_LOCKED = _CASE.with_for_update()  # both built once: every contact reads its case


def get_case(session: Session, case_id: int, *, lock: bool = False) -> CollectionCase:
    case = session.scalars(_CASE_LOCKED if lock else _CASE, {"case_id": case_id}).first()
    if case is None:
        raise LookupError(f"no collection case {case_id}")
    return case


@dataclass(frozen=True, slots=True)
class AuthorisedCase:
    """A case read once and ``action`` authorised on its scope (``authorise_case``):
    what the parts of the case page take instead of a case id, so that none of them
    reads the case or checks the same right again."""

    case: CollectionCase
    basis: AuthorizationBasis

    def require(self, action: str) -> CollectionCase:
        """The case, for a part that needs ``action``: a case authorised for another
        action is a programming error, not a pass."""
        if self.basis.action != action:
            raise ValueError(f"case {self.case.id} was authorised for {self.basis.action}")
        return self.case


def authorise_case(
    session: Session, *, actor: Actor, case_id: int, action: str = "case.view"
) -> AuthorisedCase:
    """The case ``case_id`` (``LookupError`` if none) after ``action`` is authorised on
    its scope (``PermissionDenied`` if not)."""
    case = get_case(session, case_id)
    return AuthorisedCase(case, authorize(actor, action, resource=case_scope(case)))


def open_case(
    session: Session, actor: Actor, case_id: int, action: str
) -> tuple[CollectionCase, AuthorizationBasis]:
    """The case, locked, after ``action`` is authorised on its scope; refuses closed cases."""
    case = get_case(session, case_id, lock=True)
    basis = authorize(actor, action, resource=case_scope(case))
    if case.status != "open":
        raise ValueError(f"case {case_id} is {case.status}; contact work needs an open case")
    return case, basis


def set_reachable(
    session: Session, case: CollectionCase, *, on: date, reason: str, actor: Actor, rpc: bool
) -> None:
    """Contact is back: an RPC (``rpc``: also the latest RPC date) or a contact repair.
    Leaving lost contact is kept in the case history."""
    if rpc and (case.last_rpc_on is None or on > case.last_rpc_on):
        case.last_rpc_on = on
    if case.contact_status == "lost":
        session.add(
            CaseStatusChange(
                case_id=case.id,
                business_date=on,
                field="contact",
                old_value="lost",
                new_value="reachable",
                reason=reason,
                actor=actor.user_id,
            )
        )
    case.contact_status = "reachable"
    case.lost_contact_since = None


def basis_of(basis: AuthorizationBasis, **extra: Any) -> dict[str, Any]:
    return basis.as_dict() | {k: v for k, v in extra.items() if v is not None}


def audit(
    session: Session,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: object,
    *,
    basis: dict[str, Any],
    before: object = None,
    after: object = None,
    document: bytes | None = None,
) -> None:
    record(
        session,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        before=before,
        after=after,
        basis=basis,
        document=document,
    )


def local_time(at: datetime, tz: str) -> datetime:
    """``at`` in the borrower's zone: an aware time is converted, a naive one is taken
    as already local."""
    zone = ZoneInfo(tz)
    return at.replace(tzinfo=zone) if at.tzinfo is None else at.astimezone(zone)


def naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def checked_note(note: str | None) -> str | None:
    if note is None or not note.strip():
        return None
    if len(note) > NOTE_MAX:
        raise ValueError(f"note is longer than {NOTE_MAX} characters")
    return note.strip()


def money(value: Any, field: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        raise ValueError(f"{field} {value!r} is not an amount") from None
    if not amount.is_finite() or amount != amount.quantize(Decimal("0.01")):
        raise ValueError(f"{field} {value!r} must be an amount with at most two decimals")
    return amount.quantize(Decimal("0.01"))


# --- overdue amounts ------------------------------------------------------------------


def overdue_fen_by_loan(on: date | ColumnElement[Any]) -> Select[Any]:
    """(loan_id, overdue_fen): what is unpaid of installments due before ``on`` —
    principal, interest, fees, penalty and compound interest — per loan, as integer fen."""
    i = Installment
    return (
        select(i.loan_id, func.sum(unpaid_fen_expr()).label("overdue_fen"))
        .where(i.due_date < on)
        .group_by(i.loan_id)
    )


def _overdue_one() -> Any:
    on = bindparam("on", type_=Installment.due_date.type)
    sub = overdue_fen_by_loan(on).where(Installment.loan_id == bindparam("loan_id")).subquery()
    return select(sub.c.overdue_fen)


def overdue_amount(session: Session, loan_id: str, on: date) -> Decimal:
    """The loan's overdue total on ``on`` (逾期金额)."""
    fen = session.scalar(_OVERDUE_ONE, {"loan_id": loan_id, "on": on})
    return (Decimal(int(fen or 0)) / 100).quantize(Decimal("0.01"))


def _overdue_many() -> Any:
    on = bindparam("on", type_=Installment.due_date.type)
    return overdue_fen_by_loan(on).where(
        Installment.loan_id.in_(bindparam("loan_ids", expanding=True))
    )


def overdue_amounts_on(session: Session, loan_ids: Iterable[str], on: date) -> dict[str, Decimal]:
    """``overdue_amount`` of many loans on ``on``, one query per 500 loans."""
    ids = sorted(set(loan_ids))
    out = dict.fromkeys(ids, Decimal("0.00"))
    for start in range(0, len(ids), 500):
        rows = session.execute(_OVERDUE_MANY, {"loan_ids": ids[start : start + 500], "on": on})
        for loan_id, fen in rows:
            out[loan_id] = (Decimal(int(fen or 0)) / 100).quantize(Decimal("0.01"))
    return out


_OVERDUE_ONE = _overdue_one()  # built once
_OVERDUE_MANY = _overdue_many()
