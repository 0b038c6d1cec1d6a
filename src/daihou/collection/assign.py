"""Who works which case: collectors, automatic assignment, reassignment, transfer.

Automatic assignment (each daily run) follows POLICY.md §6: the tier a case needs comes
from its stage (desk for the early M1 calls, junior 30–60, senior 60–90+) or is senior
for high-risk customers; a case keeps its collector while its stage does not change and
the collector is active (stickiness); otherwise it goes to the collector of that tier
with the lowest load for their capacity, those in the case's territory (属地) first.
Supervisors reassign single cases and transfer the cases of a collector who leaves
(离职移交); every change is a row in ``case_status_changes`` and an audit record.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from daihou.auth.actor import Actor
from daihou.auth.models import User
from daihou.auth.permissions import authorize
from daihou.auth.scopes import ResourceScope
from daihou.collection.cases import case_scope, history_row, write_history
from daihou.collection.models import CaseStatusChange, CollectionCase
from daihou.collection.settings import CollectionsSettings
from daihou.collection.tables import TIERS, Collector
from daihou.compliance.audit.service import record
from daihou.eod.calendar import business_date as current_business_date
from daihou.loans.models import Loan


def register_collector(
    session: Session,
    *,
    user_id: str,
    tier: str,
    actor: Actor,
    team: str | None = None,
    territory: str | None = None,
    daily_capacity: int = 80,
) -> Collector:
    """Make an existing user a collector (or update their tier, team, capacity)."""
    if tier not in TIERS:
        raise ValueError(f"tier must be one of {list(TIERS)}, not {tier!r}")
    if daily_capacity < 1:
        raise ValueError("daily_capacity must be at least 1")
    if session.get(User, user_id) is None:
        raise LookupError(f"no user {user_id!r}; create the user first")
    basis = authorize(actor, "user.manage")
    row = session.get(Collector, user_id)
    before = None if row is None else _state(row)
    if row is None:
        row = Collector(user_id=user_id)
        session.add(row)
    row.tier, row.team, row.territory = tier, team, territory
    row.daily_capacity, row.active, row.left_on = daily_capacity, True, None
    session.flush()
    record(
        session,
        actor=actor,
        action="collector.register",
        object_type="collector",
        object_id=user_id,
        before=before,
        after=_state(row),
        basis=basis.as_dict(),
    )
    return row


def _state(row: Collector) -> dict[str, Any]:
    return {
        "tier": row.tier,
        "team": row.team,
        "territory": row.territory,
        "daily_capacity": row.daily_capacity,
        "active": row.active,
    }


@dataclass
class AssignResult:
    kept: int = 0
    assigned: int = 0
    unassigned: int = 0  # no active collector of the tier needed


def assign_cases(
    session: Session,
    *,
    business_date: date,
    settings: CollectionsSettings,
    stage_changed: set[int] | None = None,
) -> AssignResult:
    """Give every open case that needs one a collector (see the module docstring)."""
    assigner = Assigner(
        session, business_date=business_date, settings=settings, stage_changed=stage_changed
    )
    assigner.open_cases()
    assigner.apply()
    write_history(session, assigner.history)
    return assigner.result


class Assigner:
    """The assignment of one day, case by case in id order: the open cases in the
    database (``open_cases``), then the cases the case sync is about to insert
    (``new_case``, in the order they will be inserted, so their ids come after every
    open case's). A new case is inserted with the owner, team and territory it gets
    here: one write per case instead of an insert and an update (a first day opens
    100,000). ``apply`` updates the open cases that moved; ``history`` holds the owner
    rows of the open cases, ``new_history(ids)`` those of the new ones."""

    def __init__(
        self,
        session: Session,
        *,
        business_date: date,
        settings: CollectionsSettings,
        stage_changed: set[int] | None = None,
    ) -> None:
        c = CollectionCase
        self.session, self.business_date, self.settings = session, business_date, settings
        self.collectors = {
            r.user_id: r
            for r in session.scalars(select(Collector).where(Collector.active.is_(True)))
        }
        self.load: dict[str, int] = defaultdict(int)
        for owner, n in session.execute(
            select(c.owner_user_id, func.count())
            .where(c.status == "open")
            .group_by(c.owner_user_id)
        ):
            if owner in self.collectors:
                self.load[owner] = n
        if stage_changed is None:
            stage_changed = set(
                session.scalars(
                    select(CaseStatusChange.case_id).where(
                        CaseStatusChange.business_date == business_date,
                        CaseStatusChange.field == "stage",
                    )
                )
            )
        self.changed = stage_changed
        self.tiers = {s.name: s.tier for s in settings.stages}
        self.heaps: dict[tuple[str, str | None], list[tuple[float, str]]] = {}
        self.result = AssignResult()
        self.moves: dict[str | None, list[int]] = defaultdict(list)
        self.history: list[dict[str, Any]] = []
        self._new: list[tuple[int, str | None, str]] = []  # (index, collector, reason)
        self._count = 0

    def _pool(self, tier: str, territory: str | None) -> list[tuple[float, str]]:
        key = (tier, territory)
        heap = self.heaps.get(key)
        if heap is None:
            collectors, load = self.collectors, self.load
            heap = self.heaps[key] = [
                (load[u] / col.daily_capacity, u)
                for u, col in collectors.items()
                if col.tier == tier and (territory is None or col.territory == territory)
            ]
            heapq.heapify(heap)
        return heap

    def _take(self, tier: str, territory: str | None) -> str | None:
        collectors, load = self.collectors, self.load
        for terr in (territory, None) if territory is not None else (None,):
            heap = self._pool(tier, terr)
            while heap:
                ratio, user = heapq.heappop(heap)
                current = load[user] / collectors[user].daily_capacity
                if ratio != current:  # stale entry: another pool moved this collector
                    heapq.heappush(heap, (current, user))
                    continue
                load[user] += 1
                heapq.heappush(heap, (load[user] / collectors[user].daily_capacity, user))
                return user
        return None

    def open_cases(self) -> None:
        """Decide every open case in the database, in id order."""
        c, settings, result = CollectionCase, self.settings, self.result
        collectors, changed, tiers = self.collectors, self.changed, self.tiers
        d = self.business_date
        self.session.flush()
        # through the connection: plain rows, without the ORM's per-row loading (100k rows)
        rows = (
            self.session.connection()
            .execute(
                select(c.id, c.stage, c.owner_user_id, c.territory, c.risk_score, Loan.dpd)
                .join(Loan, Loan.id == c.loan_id)
                .where(c.status == "open")
                .order_by(c.id)
            )
            .all()
        )
        for case_id, stage, owner, territory, risk, dpd in rows:
            tier = tiers.get(stage)
            high = risk is not None and risk >= settings.high_risk_score
            if high and dpd >= settings.high_risk_from_dpd:
                tier = "senior"
            if tier is None:
                continue
            current = collectors.get(owner) if owner else None
            sticky = current is not None and case_id not in changed
            if sticky and (tier != "senior" or (current is not None and current.tier == "senior")):
                result.kept += 1
                continue
            if owner in collectors:
                self.load[owner] -= 1
            new = self._take(tier, territory)
            if new == owner and new is not None:
                result.kept += 1
                continue
            if new is None:
                result.unassigned += 1
                if owner is None:
                    continue
            else:
                result.assigned += 1
            self.moves[new].append(case_id)
            why = f"stage {stage}, tier {tier}" if new else f"no active {tier} collector"
            self.history.append(history_row(case_id, d, "owner", owner, new, why, "system"))

    def new_case(self, stage: str) -> tuple[str | None, str | None, str | None]:
        """The (owner, team, territory) of the next case to be inserted: a case with no
        owner, territory or risk score yet, decided as ``open_cases`` decides one."""
        index = self._count
        self._count += 1
        tier = self.tiers.get(stage)
        if tier is None:
            return None, None, None
        new = self._take(tier, None)
        if new is None:
            self.result.unassigned += 1
            return None, None, None
        self.result.assigned += 1
        self._new.append((index, new, f"stage {stage}, tier {tier}"))
        col = self.collectors[new]
        return new, col.team, col.territory

    def new_history(self, case_ids: list[int]) -> list[dict[str, Any]]:
        """The owner rows of the new cases, given their ids in insertion order."""
        d = self.business_date
        return [
            history_row(case_ids[i], d, "owner", None, new, why, "system")
            for i, new, why in self._new
        ]

    def apply(self) -> None:
        """Update the open cases that changed owner (team, and territory where unset)."""
        c, session = CollectionCase, self.session
        for new, ids in self.moves.items():
            col = self.collectors.get(new) if new else None
            values: dict[str, Any] = {"owner_user_id": new}
            if col is not None:
                values["team"] = col.team
            for i in range(0, len(ids), 5000):
                session.execute(
                    update(c)
                    .where(c.id.in_(ids[i : i + 5000]))
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
            if col is not None and col.territory is not None:
                for i in range(0, len(ids), 5000):
                    session.execute(
                        update(c)
                        .where(c.id.in_(ids[i : i + 5000]), c.territory.is_(None))
                        .values(territory=col.territory)
                        .execution_options(synchronize_session=False)
                    )
        self.moves.clear()


def _collector(session: Session, user_id: str) -> Collector:
    col = session.get(Collector, user_id)
    if col is None or not col.active:
        raise LookupError(f"{user_id!r} is not an active collector")
    return col


def reassign_case(
    session: Session, *, case_id: int, to_user_id: str, reason: str, actor: Actor
) -> CollectionCase:
    """A supervisor moves one case to another collector (audited with the basis)."""
    if not reason.strip():
        raise ValueError("a reassignment needs a reason")
    case = session.get(CollectionCase, case_id)
    if case is None:
        raise LookupError(f"no collection case {case_id}")
    if case.status != "open":
        raise ValueError(f"case {case_id} is {case.status}; only open cases are reassigned")
    basis = authorize(actor, "case.assign", resource=case_scope(case))
    target = _collector(session, to_user_id)
    if case.owner_user_id == target.user_id:
        raise ValueError(f"case {case_id} is already worked by {to_user_id}")
    before = {"owner_user_id": case.owner_user_id, "team": case.team}
    old = case.owner_user_id
    case.owner_user_id, case.team = target.user_id, target.team
    today = current_business_date(session)
    session.add(
        CaseStatusChange(
            case_id=case.id,
            business_date=today,
            field="owner",
            old_value=old,
            new_value=target.user_id,
            reason=reason.strip()[:500],
            actor=actor.user_id,
        )
    )
    session.flush()
    record(
        session,
        actor=actor,
        action="case.assign",
        object_type="collection_case",
        object_id=str(case.id),
        before=before,
        after={"owner_user_id": case.owner_user_id, "team": case.team, "reason": reason},
        basis=basis.as_dict(),
    )
    return case


def transfer_cases(
    session: Session, *, from_user_id: str, to_user_id: str, reason: str, actor: Actor
) -> list[int]:
    """离职移交: every open case of a leaving collector goes to another; the leaver is
    made inactive. The history keeps who worked each case before."""
    if not reason.strip():
        raise ValueError("a transfer needs a reason")
    if from_user_id == to_user_id:
        raise ValueError("transfer --from and --to are the same collector")
    target = _collector(session, to_user_id)
    leaver = session.get(Collector, from_user_id)
    if leaver is not None:  # a supervisor hands over only a collector they steer
        authorize(
            actor,
            "case.assign",
            resource=ResourceScope(
                owner_user_id=leaver.user_id, team=leaver.team, territory=leaver.territory
            ),
        )
    c = CollectionCase
    cases = list(
        session.scalars(
            select(c).where(c.owner_user_id == from_user_id, c.status == "open").order_by(c.id)
        )
    )
    bases = [authorize(actor, "case.assign", resource=case_scope(case)) for case in cases]
    today = current_business_date(session)
    for case in cases:
        case.owner_user_id, case.team = target.user_id, target.team
        session.add(
            CaseStatusChange(
                case_id=case.id,
                business_date=today,
                field="owner",
                old_value=from_user_id,
                new_value=target.user_id,
                reason=f"transfer: {reason.strip()}"[:500],
                actor=actor.user_id,
            )
        )
    if leaver is not None and leaver.active:
        leaver.active, leaver.left_on = False, today
    session.flush()
    basis = bases[0] if bases else authorize(actor, "case.assign")
    record(
        session,
        actor=actor,
        action="case.transfer",
        object_type="collector",
        object_id=from_user_id,
        before={"owner_user_id": from_user_id, "cases": [x.id for x in cases]},
        after={"owner_user_id": to_user_id, "reason": reason},
        basis=basis.as_dict(),
    )
    return [x.id for x in cases]
