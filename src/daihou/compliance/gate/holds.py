"""Holds (停催) and opt-outs (退订): who placed or lifted them, when and why.

A hold stops the contacts its pack says (every treatment, by default) until it is
released; an opt-out stops one medium (sms, email …) where the pack honours it. Rows
are never deleted: a release or an opt-in closes the row and keeps it. Both take the
debtor's gate lock, so a check running at the same time sees the hold or not at all.
The times default to now (UTC): they record when a person acted, not a business date.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session

from daihou.auth.actor import Actor
from daihou.compliance.audit.service import hold_append_lock, record
from daihou.compliance.gate.models import Hold, OptOut
from daihou.compliance.gate.schema import HOLD_KINDS, MEDIA, Medium, medium_of
from daihou.compliance.gate.service import lock_contacts

_REASON_MAX = 512


def place_hold(
    session: Session,
    *,
    customer_id: str,
    loan_id: str | None = None,
    kind: str,
    reason: str,
    actor: Actor,
    at: datetime | None = None,
) -> Hold:
    """Place a hold on a customer (every loan) or on one loan."""
    if kind not in HOLD_KINDS:
        raise ValueError(f"unknown hold kind {kind!r}; known: {list(HOLD_KINDS)}")
    customer_id = _required(customer_id, "customer id")
    hold_append_lock(session)  # audit lock before the debtor lock, always
    lock_contacts(session, customer_id=customer_id)
    hold = Hold(
        customer_id=customer_id,
        loan_id=loan_id or None,
        kind=kind,
        reason=_reason(reason),
        placed_by=actor.user_id,
        placed_at=_utc(at),
    )
    session.add(hold)
    session.flush()
    _audit(
        session,
        actor,
        "hold.place",
        "hold",
        hold.id,
        after={"customer_id": customer_id, "loan_id": loan_id, "kind": kind, "reason": hold.reason},
    )
    return hold


def release_hold(
    session: Session, *, hold_id: int, reason: str, actor: Actor, at: datetime | None = None
) -> Hold:
    """Release an active hold; releasing twice is an error (the first release stands)."""
    why = _reason(reason)
    hold = session.get(Hold, hold_id)
    if hold is None:
        raise LookupError(f"no hold {hold_id}")
    hold_append_lock(session)
    lock_contacts(session, customer_id=hold.customer_id)
    released = session.execute(
        update(Hold)
        .where(Hold.id == hold_id, Hold.released_at.is_(None))
        .values(released_at=_utc(at), released_by=actor.user_id, release_reason=why)
        .execution_options(synchronize_session=False)
    )
    if getattr(released, "rowcount", 0) != 1:
        session.refresh(hold)
        raise ValueError(
            f"hold {hold_id} was already released on {hold.released_at} by {hold.released_by}"
        )
    session.refresh(hold)
    _audit(
        session,
        actor,
        "hold.release",
        "hold",
        hold_id,
        before={"active": True},
        after={"active": False, "reason": why},
    )
    return hold


_ACTIVE = (
    select(Hold)
    .where(Hold.customer_id == bindparam("customer_id"), Hold.released_at.is_(None))
    .order_by(Hold.placed_at, Hold.id)
)  # built once: every logged contact asks it


def active_holds(session: Session, customer_id: str, *, on: datetime | None = None) -> list[Hold]:
    """Holds in force now (``on=None``: not released) or at the instant ``on``."""
    if on is None:
        return list(session.scalars(_ACTIVE, {"customer_id": customer_id}))
    moment = _utc(on)
    query = select(Hold).where(
        Hold.customer_id == customer_id,
        Hold.placed_at <= moment,
        or_(Hold.released_at.is_(None), Hold.released_at > moment),
    )
    return list(session.scalars(query.order_by(Hold.placed_at, Hold.id)))


def hold_history(session: Session, customer_id: str) -> list[Hold]:
    """Every hold of the customer, released or not, oldest first."""
    query = select(Hold).where(Hold.customer_id == customer_id)
    return list(session.scalars(query.order_by(Hold.placed_at, Hold.id)))


def opt_out(
    session: Session,
    *,
    customer_id: str,
    channel: str,
    actor: Actor,
    reason: str,
    at: datetime | None = None,
) -> OptOut:
    """Record that the customer opted out of a channel's medium; an open opt-out of the
    same medium is returned unchanged."""
    customer_id = _required(customer_id, "customer id")
    medium, why = _medium(channel), _reason(reason)
    hold_append_lock(session)
    lock_contacts(session, customer_id=customer_id)
    held = _open_opt_out(session, customer_id, medium)
    if held is not None:
        return held
    row = OptOut(
        customer_id=customer_id,
        medium=medium,
        reason=why,
        opted_out_by=actor.user_id,
        opted_out_at=_utc(at),
    )
    session.add(row)
    session.flush()
    _audit(
        session,
        actor,
        "contact.opt-out",
        "opt_out",
        row.id,
        after={"customer_id": customer_id, "medium": medium, "reason": why},
    )
    return row


def opt_in(
    session: Session,
    *,
    customer_id: str,
    channel: str,
    actor: Actor,
    reason: str,
    at: datetime | None = None,
) -> OptOut:
    """Close the customer's open opt-out of the channel's medium (kept as history)."""
    medium, why = _medium(channel), _reason(reason)
    hold_append_lock(session)
    lock_contacts(session, customer_id=customer_id)
    row = _open_opt_out(session, customer_id, medium)
    if row is None:
        raise LookupError(f"customer {customer_id} has no open opt-out of {medium}")
    row.opted_in_at = _utc(at)
    row.opted_in_by = actor.user_id
    row.opt_in_reason = why
    session.flush()
    _audit(
        session,
        actor,
        "contact.opt-in",
        "opt_out",
        row.id,
        after={"customer_id": customer_id, "medium": medium, "reason": why},
    )
    return row


def _audit(
    session: Session,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: object,
    *,
    before: object = None,
    after: object = None,
) -> None:
    """Holds and opt-outs change what collections may do: each is in the audit trail."""
    record(
        session,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        before=before,
        after=after,
        basis={"role": sorted(actor.roles), "rule": "customer request or case decision"},
    )


def active_opt_outs(session: Session, customer_id: str) -> list[OptOut]:
    query = select(OptOut).where(OptOut.customer_id == customer_id, OptOut.opted_in_at.is_(None))
    return list(session.scalars(query.order_by(OptOut.medium)))


def _open_opt_out(session: Session, customer_id: str, medium: str) -> OptOut | None:
    return session.scalars(
        select(OptOut).where(
            OptOut.customer_id == customer_id,
            OptOut.medium == medium,
            OptOut.opted_in_at.is_(None),
        )
    ).first()


def _medium(channel: str) -> Medium:
    for medium in MEDIA:
        if channel == medium:
            return medium
    return medium_of(channel)


def _required(value: str, what: str) -> str:
    if not value or not value.strip():
        raise ValueError(f"a {what} is required")
    return value.strip()


def _reason(reason: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise ValueError("a reason is required")
    if len(text) > _REASON_MAX:
        raise ValueError(f"the reason is longer than {_REASON_MAX} characters")
    return text


def _utc(moment: datetime | None) -> datetime:
    """Naive UTC, as stored; a naive input is taken as UTC already."""
    if moment is None:
        return datetime.now(UTC).replace(tzinfo=None)
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)
