"""The daily collections run, after end of day: cases → assignment → treatments and tasks.

``run_collections(engine, business_date, pack)`` refuses a date whose end of day has
not closed, and a date other than the latest closed one (the book's cached state is
that of the latest close). Everything runs in one transaction; a finished run leaves a
``collection_runs`` row and running the same date again returns its counts without
changing anything. Each step is idempotent on its own as well, so a run that crashed
is simply run again.

Hooks run inside the same transaction as
``hook(session, business_date, pack) -> dict | None``; what a hook returns is added to
the run's counts under its name. First steps run before the case sync (default
``daihou.collection.daily.FIRST_STEPS``: housekeeping — approval expiry and plan review,
``collection.housekeeping``; ``first_hooks=`` replaces them). The assignment runs inside
the case sync, so a new case is inserted with its owner (``cases.sync_cases`` with
``assign``). Pre-steps run after the case sync and its assignment, and before the
strategy (default ``daihou.collection.daily.PRE_STEPS``: promise settlement;
``pre_hooks=`` replaces them). Post steps run after the tasks: without ``hooks=`` the
registered ``POST_STEPS`` (``register_post_step``) and then the default steps of
``daihou.collection.daily`` (messages to the outbox, placement expiry, litigation
files); ``hooks=`` replaces both.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from daihou.auth.actor import SYSTEM, Actor
from daihou.auth.permissions import authorize
from daihou.collection.assign import AssignResult
from daihou.collection.cases import sync_cases
from daihou.collection.clock import Clock
from daihou.collection.tables import CollectionRun
from daihou.collection.treatments import plan_treatments
from daihou.compliance.audit.service import record
from daihou.db.engine import transaction
from daihou.eod.models import EodRun
from daihou.eod.runner import CLOSE
from daihou.gc_pause import gc_paused
from daihou.policy.loader import load_pack
from daihou.policy.schema import PolicyPack

Hook = Callable[[Session, date, PolicyPack], dict[str, Any] | None]
POST_STEPS: list[tuple[str, Hook]] = []


def default_steps() -> list[tuple[str, Hook]]:
    """The post steps of a run without ``hooks=``: the registered ones, then the
    default steps (imported here, so their modules may import this one)."""
    from daihou.collection.daily import DEFAULT_STEPS

    return [*POST_STEPS, *DEFAULT_STEPS]


def default_first_steps() -> list[tuple[str, Hook]]:
    """The steps run before the case sync (housekeeping: approval expiry, plan review)."""
    from daihou.collection.daily import FIRST_STEPS

    return list(FIRST_STEPS)


def default_pre_steps() -> list[tuple[str, Hook]]:
    """The steps run after the case sync and before the strategy (promise settlement)."""
    from daihou.collection.daily import PRE_STEPS

    return list(PRE_STEPS)


def register_post_step(name: str, hook: Hook) -> None:
    """Add a step that runs after the tasks of every daily run (once per name)."""
    if any(n == name for n, _ in POST_STEPS):
        raise ValueError(f"a post step named {name!r} is registered already")
    POST_STEPS.append((name, hook))


class NotClosed(RuntimeError):
    """The date's end of day has not closed (or a later one has)."""


@dataclass
class RunReport:
    business_date: date
    already_run: bool = False
    counts: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def latest_closed(session: Session) -> date | None:
    return session.scalar(select(func.max(EodRun.business_date)).where(EodRun.step == CLOSE))


def run_collections(
    engine: Engine,
    business_date: date | None = None,
    pack: PolicyPack | None = None,
    *,
    hooks: Sequence[tuple[str, Hook]] | None = None,
    pre_hooks: Sequence[tuple[str, Hook]] | None = None,
    first_hooks: Sequence[tuple[str, Hook]] | None = None,
    actor: Actor = SYSTEM,
) -> RunReport:
    """Open/close cases, assign, plan treatments and build task lists for a closed date
    (default: the latest closed date). Python's cyclic garbage collector is paused for
    the run (``gc_pause``)."""
    pack = pack or load_pack()
    settings = pack.collections
    started = time.perf_counter()
    with gc_paused(), transaction(engine) as session:
        basis = authorize(actor, "collections.run")
        if session.get_bind().dialect.name == "sqlite":
            session.connection().exec_driver_sql("PRAGMA cache_size=-262144")
        last = latest_closed(session)
        d = business_date or last
        if d is None or last is None or d > last:
            raise NotClosed(f"end of day for {business_date or 'any date'} has not closed yet")
        done = session.get(CollectionRun, d)
        if done is not None:
            return RunReport(d, already_run=True, counts=dict(done.counts))
        if d != last:
            raise NotClosed(
                f"collections run for {d} needs the book as closed on {d}, but the latest "
                f"close is {last}; run the latest closed date"
            )
        counts: dict[str, Any] = {}
        clock = Clock()
        for name, hook in default_first_steps() if first_hooks is None else first_hooks:
            counts[name] = hook(session, d, pack) or {}
            clock.lap(name)
        # the assignment runs inside the case sync: a new case is inserted with its owner
        cases = sync_cases(session, business_date=d, settings=settings, assign=True, clock=clock)
        clock.lap("cases")
        counts["cases"] = {
            "opened": cases.opened,
            "closed": cases.closed,
            "stage_changes": cases.stage_changes,
            "lost_contact": cases.lost_contact,
        }
        counts["assignment"] = vars(cases.assignment or AssignResult()).copy()
        for name, hook in default_pre_steps() if pre_hooks is None else pre_hooks:
            counts[name] = hook(session, d, pack) or {}
            clock.lap(name)
        plan = plan_treatments(session, business_date=d, settings=settings)
        clock.lap("treatments+tasks")
        counts["treatments"] = {
            "subjects": plan.subjects,
            "inserted": plan.inserted,
            **dict(sorted(plan.by_status.items())),
        }
        counts["tasks"] = vars(plan.tasks).copy()
        for name, hook in default_steps() if hooks is None else hooks:
            counts[name] = hook(session, d, pack) or {}
            clock.lap(name)
        counts["seconds"] = {**clock.laps, "detail": plan.clock.laps}
        counts["cpu_seconds"] = {**clock.cpu, "detail": plan.clock.cpu}
        session.add(CollectionRun(business_date=d, counts=counts))
        record(
            session,
            actor=actor,
            action="collections.run",
            object_type="business_date",
            object_id=d.isoformat(),
            after=counts,
            basis=basis.as_dict(),
        )
    return RunReport(d, counts=counts, seconds=time.perf_counter() - started)
