"""The lost-contact rule (失联), in one place for the daily run and ``daihou contact evaluate``.

POLICY.md §4: lost contact is *no contact reached for 5 days*; §5: *T+5 unreachable →
mark lost contact, field visit*. With ``N`` the pack's ``collections.lost_contact_after_days``
(default 5) and ``cutoff = D − N``, an open case whose contact status is reachable is
marked lost on D (``contact_status = 'lost'``, ``lost_contact_since = D``) when the
last of these is at least N days before D:

- T+0, the missed due date (``D − DPD``, with the loan's DPD as closed on D): the clock
  starts when the borrower first owes, so a loan is lost at T+5 at the earliest;
- the last right-party contact (``last_rpc_on``);
- the last contact repair (信息修复, ``contact_points.found_on`` on or before D): a
  repair gives the collectors N more days to use what it found.

Nothing else counts: unanswered calls, messages and visits reach nobody. Only a
right-party contact or a repair makes a lost case reachable again, at the moment it is
recorded (``casework.set_reachable``). The rule is one set-based ``UPDATE``; a case
already lost is left as it is, so marking twice on a date changes nothing.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Select, exists, or_, select, update
from sqlalchemy.orm import Session

from daihou.collection.contact_models import ContactPoint
from daihou.collection.models import CaseStatusChange, CollectionCase
from daihou.collection.tables import FastRows
from daihou.loans.models import Loan

RULE = "collections.lost_contact_after_days"
_HISTORY = ("case_id", "business_date", "field", "old_value", "new_value", "reason", "actor")


def lost_case_ids(business_date: date, days: int) -> Select[tuple[int]]:
    """The ids of the open, reachable cases that meet the rule on ``business_date``."""
    c, point = CollectionCase, ContactPoint
    cutoff = business_date - timedelta(days=days)
    repaired = exists().where(
        point.case_id == c.id, point.found_on > cutoff, point.found_on <= business_date
    )
    return (
        select(c.id)
        .join(Loan, Loan.id == c.loan_id)
        .where(
            c.status == "open",
            c.contact_status == "reachable",
            Loan.dpd >= days,  # T+0 = D − DPD is on or before the cutoff
            or_(c.last_rpc_on.is_(None), c.last_rpc_on <= cutoff),
            ~repaired,
        )
    )


def mark_lost(session: Session, business_date: date, *, days: int, actor_id: str) -> list[int]:
    """Mark the cases that meet the rule lost on ``business_date``, each with a
    ``case_status_changes`` row; returns their ids (ascending)."""
    c = CollectionCase
    ids = sorted(
        session.scalars(
            update(c)
            .where(c.id.in_(lost_case_ids(business_date, days)))
            .values(contact_status="lost", lost_contact_since=business_date)
            .returning(c.id)
            .execution_options(synchronize_session=False)
        ).all()
    )
    fast = FastRows(session)
    day = fast.date(business_date)
    reason = f"no right-party contact for {days} days"
    fast.write(
        CaseStatusChange,
        _HISTORY,
        [(i, day, "contact", "reachable", "lost", reason, actor_id) for i in ids],
    )
    return ids
