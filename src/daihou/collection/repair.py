"""Lost contact (失联) and contact repair (信息修复).

**Lost contact.** ``evaluate_contact_status(session, D)`` runs daily (after end of day)
and marks an open, reachable case lost on D — ``contact_status = 'lost'``,
``lost_contact_since = D`` — when, with ``N`` the pack's ``lost_contact_days``
(POLICY.md §4/§5, default 5) and the window the N days ``(D−N, D]``:

1. the case is at least N days old (``opened_on ≤ D−N``);
2. there was no right-party contact in the window (``last_rpc_on`` empty or ``≤ D−N``);
3. no contact repair was recorded in the window (a repair gives collectors N days to
   use what it found);
4. at least one call to the borrower in the window did not reach them (no answer,
   switched off, busy, invalid number, wrong party) — nobody is lost who was not tried;
5. every known number of the borrower is exhausted. Known numbers: the phone on file
   (``customers.phone``) and every phone repair of the case for the borrower. A number
   is exhausted when a call (or WeChat) to it in the window did not reach the borrower,
   or a call to it on this case ever found it invalid (空号).

Numbers are compared by their keyed hashes (``phone_hash``), never in clear. Only RPCs
and repairs make a case reachable again, at the moment they are recorded.

**Contact repair.** ``record_repair`` stores a phone, address, employer, e-mail or
WeChat found for the case (source: carrier 运营商, police 公安, social 社交, contact
person 联系人 …; verified or not), encrypted, and makes a lost case reachable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, insert, or_, select, update
from sqlalchemy.orm import Session, aliased

from daihou.auth.actor import SYSTEM, Actor
from daihou.auth.permissions import authorize
from daihou.collection import codes
from daihou.collection.casework import (
    audit,
    basis_of,
    case_scope,
    checked_note,
    get_case,
    open_case,
    set_reachable,
    settings_of,
)
from daihou.collection.contact_models import ContactLog, ContactPoint
from daihou.collection.models import CaseStatusChange, CollectionCase
from daihou.eod.calendar import business_date as current_business_date
from daihou.loans.models import Customer
from daihou.policy.schema import PolicyPack

_VOICE = ("call", "wechat")


def record_repair(
    session: Session,
    *,
    actor: Actor,
    case_id: int,
    kind: str,
    value: str,
    source: str,
    verified: bool = False,
    party: str = "borrower",
    found_on: date | None = None,
    note: str | None = None,
) -> ContactPoint:
    """Record what contact repair found (needs ``contact.log`` on the case)."""
    codes.choose(kind, codes.REPAIR_KINDS, "kind")
    codes.choose(source, codes.REPAIR_SOURCES, "source")
    codes.choose(party, codes.PARTIES, "party")
    value = (value or "").strip()
    if not value:
        raise ValueError(f"the {kind} found is required")
    if kind == "phone" and sum(ch.isdigit() for ch in value) < 7:
        raise ValueError(f"phone {value!r} has fewer than 7 digits")
    text = checked_note(note)
    case, basis = open_case(session, actor, case_id, "contact.log")
    on = found_on or current_business_date(session)
    point = ContactPoint(
        case_id=case.id,
        customer_id=case.customer_id,
        kind=kind,
        party=party,
        phone=value if kind == "phone" else None,
        detail=None if kind == "phone" else value,
        source=source,
        verified=verified,
        found_on=on,
        recorded_by=actor.user_id,
        note=text,
    )
    session.add(point)
    session.flush()
    before = {"contact_status": case.contact_status, "lost_contact_since": case.lost_contact_since}
    reason = f"contact repair {point.id}: {kind} from {source}"
    set_reachable(session, case, on=on, reason=reason, actor=actor, rpc=False)
    session.flush()
    audit(
        session,
        actor,
        "contact.repair",
        "contact_point",
        point.id,
        before=before,
        after={
            "case_id": case.id,
            "kind": kind,
            "party": party,
            "source": source,
            "verified": verified,
            "phone_hash": point.phone_hash,
            "found_on": on,
        },
        basis=basis_of(basis),
    )
    return point


def repairs_of(session: Session, *, actor: Actor, case_id: int) -> list[ContactPoint]:
    """The repairs of a case, newest first (values decrypted: mask before showing)."""
    case = get_case(session, case_id)
    authorize(actor, "case.view", resource=case_scope(case))
    query = select(ContactPoint).where(ContactPoint.case_id == case_id)
    return list(session.scalars(query.order_by(ContactPoint.id.desc())))


@dataclass(frozen=True, slots=True)
class ContactStatusRun:
    business_date: date
    lost: list[int] = field(default_factory=list)


def _exhausted(phone_hash: Any, case_id: Any, cutoff: date) -> ColumnElement[bool]:
    log = ContactLog
    condition = exists().where(
        log.case_id == case_id,
        log.phone_hash == phone_hash,
        log.party == "borrower",
        log.channel.in_(_VOICE),
        or_(
            and_(log.contact_date > cutoff, log.outcome.in_(sorted(codes.UNREACHED_OUTCOMES))),
            log.outcome == "invalid-number",
        ),
    )
    # correlate the case (and the repair) to whichever enclosing query holds them: a
    # nested EXISTS would otherwise bring its own copy of the case table
    return condition.correlate_except(log)


def lost_case_ids(business_date: date, days: int) -> Select[tuple[int]]:
    """The ids of the cases that meet the rule in the module docstring on the date."""
    c, log, point, cust = aliased(CollectionCase), ContactLog, ContactPoint, Customer
    cutoff = business_date - timedelta(days=days)
    tried = exists().where(
        log.case_id == c.id,
        log.party == "borrower",
        log.channel.in_(_VOICE),
        log.contact_date > cutoff,
        log.contact_date <= business_date,
        log.outcome.in_(sorted(codes.UNREACHED_OUTCOMES)),
    )
    repaired = exists().where(
        point.case_id == c.id, point.found_on > cutoff, point.found_on <= business_date
    )
    live_repair = exists().where(
        point.case_id == c.id,
        point.kind == "phone",
        point.party == "borrower",
        point.found_on <= business_date,
        ~_exhausted(point.phone_hash, c.id, cutoff),
    )
    return (
        select(c.id)
        .join(cust, cust.id == c.customer_id)
        .where(
            c.status == "open",
            c.contact_status == "reachable",
            c.opened_on <= cutoff,
            or_(c.last_rpc_on.is_(None), c.last_rpc_on <= cutoff),
            ~repaired,
            tried,
            or_(cust.phone_hash.is_(None), _exhausted(cust.phone_hash, c.id, cutoff)),
            ~live_repair,
        )
    )


def evaluate_contact_status(
    session: Session,
    business_date: date,
    *,
    actor: Actor = SYSTEM,
    pack: PolicyPack | None = None,
) -> ContactStatusRun:
    """Mark the cases that lost contact on ``business_date`` (set-based; idempotent)."""
    basis = authorize(actor, "collections.run")
    days = settings_of(pack).lost_contact_days
    c, ch = CollectionCase, CaseStatusChange
    ids = sorted(
        session.scalars(
            update(c)
            .where(c.id.in_(lost_case_ids(business_date, days)))
            .values(contact_status="lost", lost_contact_since=business_date)
            .returning(c.id)
            .execution_options(synchronize_session=False)
        ).all()
    )
    reason = f"no right-party contact for {days} days and every known number exhausted"
    if ids:  # exactly the cases this run changed: the UPDATE only takes reachable ones
        change = {
            "business_date": business_date,
            "field": "contact",
            "old_value": "reachable",
            "new_value": "lost",
            "reason": reason,
            "actor": actor.user_id,
        }
        session.execute(insert(ch), [change | {"case_id": i} for i in ids])
    session.expire_all()
    if ids:
        audit(
            session,
            actor,
            "contact.lost",
            "contact-status-run",
            business_date.isoformat(),
            after={"lost": ids, "days": days},
            basis=basis_of(basis, rule="contacts.lost_contact_days"),
        )
    return ContactStatusRun(business_date, ids)
