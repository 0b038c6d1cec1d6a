"""Lost contact (失联) and contact repair (信息修复).

**Lost contact.** ``evaluate_contact_status(session, D)`` (``daihou contact evaluate``)
marks the cases that lost contact on D by the one rule of ``collection.lost_contact``
(the daily collections run applies the same rule in its case sync), and audits the ids
it marked.

**Contact repair.** ``record_repair`` stores a phone, address, employer, e-mail or
WeChat found for the case (source: carrier 运营商, police 公安, social 社交, contact
person 联系人 …; verified or not), encrypted, and makes a lost case reachable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from daihou.auth.actor import SYSTEM, Actor
from daihou.auth.permissions import authorize
from daihou.collection import codes
from daihou.collection.casework import (
    AuthorisedCase,
    audit,
    authorise_case,
    basis_of,
    checked_note,
    open_case,
    set_reachable,
)
from daihou.collection.contact_models import ContactPoint
from daihou.collection.lost_contact import RULE, mark_lost
from daihou.eod.calendar import business_date as current_business_date
from daihou.policy.loader import load_pack
from daihou.policy.schema import PolicyPack


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
    return repairs_of_case(session, authorise_case(session, actor=actor, case_id=case_id))


def repairs_of_case(session: Session, authorised: AuthorisedCase) -> list[ContactPoint]:
    """``repairs_of`` a case already read and authorised for ``case.view``."""
    case = authorised.require("case.view")
    query = select(ContactPoint).where(ContactPoint.case_id == case.id)
    return list(session.scalars(query.order_by(ContactPoint.id.desc())))


@dataclass(frozen=True, slots=True)
class ContactStatusRun:
    business_date: date
    lost: list[int] = field(default_factory=list)


def evaluate_contact_status(
    session: Session,
    business_date: date,
    *,
    actor: Actor = SYSTEM,
    pack: PolicyPack | None = None,
) -> ContactStatusRun:
    """Mark the cases that lost contact on ``business_date`` (set-based; idempotent)."""
    basis = authorize(actor, "collections.run")
    days = (pack or load_pack()).collections.lost_contact_after_days
    ids = mark_lost(session, business_date, days=days, actor_id=actor.user_id)
    session.expire_all()
    if ids:
        audit(
            session,
            actor,
            "contact.lost",
            "contact-status-run",
            business_date.isoformat(),
            after={"lost": ids, "days": days},
            basis=basis_of(basis, rule=RULE),
        )
    return ContactStatusRun(business_date, ids)
