"""Run end of day over one or more business dates: catch-up, resumable, idempotent.

Each step of each date runs in its own transaction and writes its ``eod_runs`` row in
that same transaction: after a crash (even ``kill -9``) the finished steps are skipped
and the interrupted one is redone from its start, so a restarted run ends in exactly the
state of an uninterrupted one. The last transaction of a date moves the business date
forward. While a run is in progress ``system_state.eod_running`` is set and postings are
refused with a retryable error; they post afterwards on the next business date.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy.orm import Session

from daihou.analytics.kpis import daily_kpis, snapshot_overdue_principal_fen
from daihou.auth.actor import SYSTEM
from daihou.auth.permissions import authorize
from daihou.compliance.audit.service import record as audit_record
from daihou.db.engine import transaction
from daihou.db.wal import Checkpointer
from daihou.eod import steps
from daihou.eod.models import DailyKpi, EodRun, SystemState
from daihou.eod.wal import steps_connection
from daihou.policy import PolicyPack, load_pack

StepFn = Callable[[Session, steps.StepContext], steps.StepResult]
MMAP_BYTES = 16 << 30


def step_kpis(session: Session, ctx: steps.StepContext) -> steps.StepResult:
    buckets = [b.name for b in ctx.pack.delinquency.buckets]
    order = ctx.pack.eod.steps
    # an ordinary day's snapshot rows (written earlier in this date's run, nothing posted
    # since: postings wait while end of day runs) cover every loan with an unsettled
    # installment, so the overdue principal is their sum rather than a second read of
    # those installments; a full run's snapshot covers active loans only
    from_snapshot = (
        not ctx.full and "snapshot" in order and order.index("snapshot") < order.index("kpis")
    )
    overdue = snapshot_overdue_principal_fen(session, ctx.business_date) if from_snapshot else None
    data = daily_kpis(session, ctx.business_date, buckets, overdue_fen=overdue)
    existing = session.get(DailyKpi, ctx.business_date)
    if existing is None:
        session.add(DailyKpi(business_date=ctx.business_date, data=data))
    else:
        existing.data = data
    return steps.StepResult(loans=int(data["loans"]), rows=1)


STEPS: dict[str, StepFn] = {
    "due": steps.step_due,
    "delinquency": steps.step_delinquency,
    "accrual": steps.step_accrual,
    "snapshot": steps.step_snapshot,
    "kpis": step_kpis,
}
CLOSE = "close"


@dataclass
class EodReport:
    dates: list[date] = field(default_factory=list)
    steps_run: int = 0
    steps_skipped: int = 0
    seconds: float = 0.0


def _tune(session: Session) -> None:
    """Settings for one step's transaction.

    SQLite: a 256 MB page cache (the default 2 MB makes the set-based UPDATEs re-read and
    spill pages) and the file read through a memory map rather than a system call per
    page (at 1 M loans, -4 of ~20 s CPU of an ordinary day in paired runs under load).
    PostgreSQL: more memory for the hash aggregates and sorts, no JIT compilation, and
    the step's commit does not wait for its WAL flush (and index lookups are costed as
    on SSD storage) (``synchronous_commit = off``). That is
    safe here: a step commit lost in a server crash is a step not yet done, which the
    runner redoes (its run row commits with it), and the close transaction that moves
    the business date commits synchronously — flushing the WAL up to it, so every
    earlier step of the date is durable before the date is published as closed.
    """
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA cache_size=-262144")
        # read the database file through a memory map rather than a read() per page: the
        # steps of a big book touch far more pages than the cache holds (SQLite caps the
        # map at its build's maximum, 2 GB for the usual one; writes still go through the WAL)
        conn.exec_driver_sql(f"PRAGMA mmap_size={MMAP_BYTES}")
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL work_mem = '256MB'")
        # index lookups by key over a few percent of a big table (the accrual's UPDATE …
        # FROM): with the default 4.0 the planner scans the whole table instead; 1.1 is
        # the usual figure for SSD storage
        conn.exec_driver_sql("SET LOCAL random_page_cost = 1.1")
        conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
        # no JIT compilation: the steps' statements are costed above jit_above_cost on
        # any sizeable book (and above the inlining and optimisation thresholds at 1 M
        # loans), and compiling their long CASE expressions costs more than it saves
        conn.exec_driver_sql("SET LOCAL jit = off")


def _modes(session: Session, d: date) -> dict[str, str]:
    """The steps already done for date ``d``, with the mode each ran in."""
    rows = session.execute(select(EodRun.step, EodRun.mode).where(EodRun.business_date == d))
    return {step: mode for step, mode in rows}


def run_eod(
    engine: Engine,
    *,
    through: date | None = None,
    full: bool = False,
    pack: PolicyPack | None = None,
    progress: Callable[[date, str], None] | None = None,
) -> EodReport:
    """Close every business date from the current one up to ``through`` (default: the
    current one). The first run ever is a full run (it writes every loan's snapshot)."""
    pack = pack or load_pack()
    report = EodReport()
    started = time.perf_counter()
    with transaction(engine) as s:
        state = s.get(SystemState, 1)
        if state is None:
            raise RuntimeError("the database has no business date; run `daihou init` first")
        current = state.business_date
        # no date closed yet (a first run killed part-way has step rows but no close)
        first_ever = (
            s.scalar(select(func.count()).select_from(EodRun).where(EodRun.step == CLOSE)) == 0
        )
    target = through or current
    if target < current:
        return report  # already closed: nothing changes
    d = current
    with steps_connection(engine) as (bind, checkpointer):
        while d <= target:
            _close_date(
                bind,
                d,
                full=full or first_ever,
                pack=pack,
                report=report,
                progress=progress,
                checkpointer=checkpointer,
            )
            first_ever = False
            report.dates.append(d)
            d += timedelta(days=1)
    report.seconds = time.perf_counter() - started
    return report


def _close_date(
    engine: Engine | Connection,
    d: date,
    *,
    full: bool,
    pack: PolicyPack,
    report: EodReport,
    progress: Callable[[date, str], None] | None,
    checkpointer: Checkpointer | None,
) -> None:
    with transaction(engine) as s:
        s.execute(update(SystemState).where(SystemState.id == 1).values(eod_running=True))
        modes = _modes(s, d)
        done = set(modes)
        # a date resumes in the mode it started in: a full run killed after some steps
        # finishes as a full run (its snapshot covers every loan)
        full = full or "full" in modes.values()
    ctx = steps.StepContext(business_date=d, full=full, pack=pack)
    for name in pack.eod.steps:
        if name in done:
            report.steps_skipped += 1
            continue
        if progress:
            progress(d, name)
        t0 = time.perf_counter()
        with transaction(engine) as s:
            _tune(s)
            result = STEPS[name](s, ctx)
            s.add(
                EodRun(
                    business_date=d,
                    step=name,
                    mode="full" if full else "incremental",
                    status="done",
                    loans=result.loans,
                    rows=result.rows,
                    duration_ms=int((time.perf_counter() - t0) * 1000),
                )
            )
        if checkpointer is not None:
            checkpointer.poke()
        report.steps_run += 1
    with transaction(engine) as s:
        if CLOSE not in _modes(s, d):
            s.add(
                EodRun(
                    business_date=d,
                    step=CLOSE,
                    mode="full" if full else "incremental",
                    status="done",
                )
            )
            s.execute(
                update(SystemState)
                .where(SystemState.id == 1)
                .values(business_date=d + timedelta(days=1), eod_running=False)
            )
            audit_record(
                s,
                actor=SYSTEM,
                action="eod.run",
                object_type="business_date",
                object_id=d.isoformat(),
                after={"closed": d, "mode": "full" if full else "incremental"},
                basis=authorize(SYSTEM, "eod.run").as_dict(),
                business_date=d,
            )


def run_history(session: Session, *, limit: int = 50) -> list[EodRun]:
    return list(
        session.scalars(
            select(EodRun).order_by(EodRun.business_date.desc(), EodRun.id.desc()).limit(limit)
        )
    )
