"""The supervisor's team board (团队看板): one row per collector for one day.

For each active collector in the actor's scope (``case.assign``: a supervisor sees
their team, a manager their territory) and a date ``on``:

- tasks done / pending: the collector's tasks of work date ``on`` that have feedback
  (``done``) and that are still ``queued``;
- deferred: the collector's work of ``on`` beyond their daily capacity, which is no
  task (one per loan and kind, read from the treatments that carry ``deferred_to``);
- contacts: contact logs the collector made on ``on``, and how many reached the
  right party (RPC); RPC rate = RPC / contacts;
- promise-kept rate (兑现率): promises of the collector settled (kept or broken) from
  ``since`` (default: the first of ``on``'s month) through ``on``; cancelled and open
  promises do not count;
- amount recovered: posted repayments, prepayments and recoveries with value date
  ``on`` on loans whose case the collector owns (a case open on that day).

Each figure is one grouped query over the day's rows (no per-collector loop), so the
board costs the same for a team of five or five hundred. Rates are percentages with
two decimals (half up); ``None`` when there is nothing to divide by.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import BigInteger, and_, case, distinct, func, null, or_, select, type_coerce
from sqlalchemy.orm import Session

from daihou.auth.actor import Actor
from daihou.auth.permissions import authorize
from daihou.auth.scopes import scope_filter
from daihou.collection.contact_models import ContactLog, PromiseToPay
from daihou.collection.models import CollectionCase
from daihou.collection.tables import CollectionTask, CollectionTreatment, Collector
from daihou.kernel.money import ZERO, from_fen
from daihou.payments.models import Transaction

RECOVERY_KINDS = ("repayment", "prepayment", "recovery")
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class BoardRow:
    collector: str
    tier: str
    team: str | None
    tasks_done: int
    tasks_pending: int
    tasks_deferred: int
    contacts: int
    rpc: int
    promises_kept: int
    promises_broken: int
    recovered: Decimal

    @property
    def rpc_rate(self) -> Decimal | None:
        return _pct(self.rpc, self.contacts)

    @property
    def promise_kept_rate(self) -> Decimal | None:
        return _pct(self.promises_kept, self.promises_kept + self.promises_broken)


@dataclass(frozen=True, slots=True)
class Board:
    on: date
    since: date
    rows: list[BoardRow]

    def total(self) -> BoardRow:
        def add(name: str) -> Any:
            return sum((getattr(r, name) for r in self.rows), 0)

        return BoardRow(
            collector="",
            tier="",
            team=None,
            tasks_done=add("tasks_done"),
            tasks_pending=add("tasks_pending"),
            tasks_deferred=add("tasks_deferred"),
            contacts=add("contacts"),
            rpc=add("rpc"),
            promises_kept=add("promises_kept"),
            promises_broken=add("promises_broken"),
            recovered=sum((r.recovered for r in self.rows), ZERO),
        )


def _pct(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / whole).quantize(CENT, rounding=ROUND_HALF_UP)


def _collectors(actor: Actor) -> Any:
    return (
        select(Collector)
        .where(
            Collector.active.is_(True),
            scope_filter(
                actor,
                owner_col=Collector.user_id,
                team_col=Collector.team,
                agency_col=null(),
                territory_col=Collector.territory,
                action="case.assign",
            ),
        )
        .order_by(Collector.team, Collector.user_id)
    )


def team_board(session: Session, *, actor: Actor, on: date, since: date | None = None) -> Board:
    """The board of ``on`` for the collectors ``actor`` steers (``case.assign``)."""
    authorize(actor, "case.assign")
    since = since or on.replace(day=1)
    if since > on:
        raise ValueError(f"since: {since} is after the board date {on}")
    collectors = list(session.scalars(_collectors(actor)))
    ids = [c.user_id for c in collectors]
    if not ids:
        return Board(on, since, [])

    t = CollectionTask
    tasks = {
        who: (int(done), int(pending))
        for who, done, pending in session.execute(
            select(
                t.collector_user_id,
                func.sum(case((t.status == "done", 1), else_=0)),
                func.sum(case((t.status == "queued", 1), else_=0)),
            )
            .where(t.work_date == on, t.collector_user_id.in_(ids))
            .group_by(t.collector_user_id)
        )
    }
    tr = CollectionTreatment
    deferred = {
        who: int(n)
        for who, n in session.execute(
            # a work item's slots share its rank: one item per distinct rank
            select(tr.deferred_to, func.count(distinct(tr.deferred_rank)))
            .where(
                tr.business_date == on - timedelta(days=1),  # the unique key's prefix
                tr.work_date == on,
                tr.status == "planned",
                tr.deferred_to.in_(ids),
            )
            .group_by(tr.deferred_to)
        )
    }
    log = ContactLog
    contacts = {
        who: (int(n), int(rpc))
        for who, n, rpc in session.execute(
            select(log.collector, func.count(), func.sum(case((log.rpc.is_(True), 1), else_=0)))
            .where(log.contact_date == on, log.collector.in_(ids))
            .group_by(log.collector)
        )
    }
    p = PromiseToPay
    promises = {
        who: (int(kept), int(broken))
        for who, kept, broken in session.execute(
            select(
                p.collector,
                func.sum(case((p.status == "kept", 1), else_=0)),
                func.sum(case((p.status == "broken", 1), else_=0)),
            )
            .where(
                p.status.in_(("kept", "broken")),
                p.resolved_on >= since,
                p.resolved_on <= on,
                p.collector.in_(ids),
            )
            .group_by(p.collector)
        )
    }
    c = CollectionCase
    recovered = {
        who: int(fen)
        for who, fen in session.execute(
            select(c.owner_user_id, func.sum(type_coerce(Transaction.amount, BigInteger)))
            .join(
                Transaction,
                and_(
                    Transaction.loan_id == c.loan_id,
                    Transaction.kind.in_(RECOVERY_KINDS),
                    Transaction.status == "posted",
                    Transaction.value_date == on,
                ),
            )
            .where(
                c.owner_user_id.in_(ids),
                c.opened_on <= on,
                or_(c.closed_on.is_(None), c.closed_on >= on),
            )
            .group_by(c.owner_user_id)
        )
    }
    rows = [
        BoardRow(
            collector=col.user_id,
            tier=col.tier,
            team=col.team,
            tasks_done=tasks.get(col.user_id, (0, 0))[0],
            tasks_pending=tasks.get(col.user_id, (0, 0))[1],
            tasks_deferred=deferred.get(col.user_id, 0),
            contacts=contacts.get(col.user_id, (0, 0))[0],
            rpc=contacts.get(col.user_id, (0, 0))[1],
            promises_kept=promises.get(col.user_id, (0, 0))[0],
            promises_broken=promises.get(col.user_id, (0, 0))[1],
            recovered=from_fen(recovered.get(col.user_id, 0)),
        )
        for col in collectors
    ]
    return Board(on, since, rows)


def steered_collectors(session: Session, *, actor: Actor) -> list[Collector]:
    """The active collectors ``actor`` may give cases to (reassignment, transfer)."""
    authorize(actor, "case.assign")
    return list(session.scalars(_collectors(actor)))
