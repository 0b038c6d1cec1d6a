"""The end-of-day steps (日终). Each works on whole sets with SQL (no Python loop over
the book) and runs in one transaction together with its run row, so it is done once.

Closing business date ``d``:
- ``due``: installments due on or before d become due; loans holding customer credit
  with something newly due are replayed so the credit pays it.
- ``delinquency``: DPD (逾期天数) from the oldest installment whose unpaid principal +
  interest + fee exceeds the product tolerance; bucket; five-tier class (floors, the
  restructuring observation period, overrides that only raise); events and class
  history from the differences.
- ``accrual``: the night of d accrues 罚息 on overdue principal and 复利 on overdue
  interest (bases in fen·days), posted amounts rounded, remainder carried; one summary
  journal entry per date and a per-loan accrual subledger row.
- ``snapshot``: the delinquency picture of every touched loan at the end of d.
- ``kpis``: the day's portfolio figures (and month-end roll rates and M1 cure).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, cast

from sqlalchemy import (
    Date,
    Table,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    union,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from daihou.db.sqlfn import days_between, greatest, indexed_by, no_statement_journal
from daihou.eod import rules
from daihou.eod.accrual import accrual_lines, accrued_fen, raw, step_accrual
from daihou.eod.models import (
    Accrual,
    ClassChange,
    ClassOverride,
    EodWork,
    LoanEvent,
    LoanSnapshot,
)
from daihou.kernel.delinquency import bucket_for, class_floor, rank
from daihou.loans.models import (
    ACCRUED,
    IN_CREDIT,
    WATCH,
    Installment,
    InstallmentAccrual,
    Loan,
    status_is,
    via_unsettled,
)
from daihou.payments.models import Transaction
from daihou.policy.schema import PolicyPack

__all__ = ["accrual_lines", "accrued_fen", "raw", "step_accrual"]


def _t(model: Any) -> Table:
    return cast(Table, model.__table__)


LOANS, INST, TXN = _t(Loan), _t(Installment), _t(Transaction)
WORK, EVENTS, SNAPS = _t(EodWork), _t(LoanEvent), _t(LoanSnapshot)
CHANGES, OVERRIDES, ACCRUALS = _t(ClassChange), _t(ClassOverride), _t(Accrual)
ACC = _t(InstallmentAccrual)
WITH_ACCRUED = INST.outerjoin(ACC, ACC.c.installment_id == INST.c.id)
"""Installments with their 罚息/复利 accrued (``installment_accruals``), for the
per-loan sums."""


@dataclass(frozen=True, slots=True)
class StepContext:
    business_date: date
    full: bool
    pack: PolicyPack


@dataclass(frozen=True, slots=True)
class StepResult:
    loans: int = 0
    rows: int = 0


def _d(ctx: StepContext) -> ColumnElement[date]:
    return literal(ctx.business_date, Date)


BY_LOAN_PERIOD = "sqlite_autoindex_installments_1"
"""SQLite's name for the index of the installments' unique (loan_id, period) key (the
table's first and only UNIQUE constraint)."""


def full_set(ctx: StepContext) -> ColumnElement[bool]:
    """The loans a full run looks at: every active loan and those settled on the date."""
    return or_(LOANS.c.status == "active", LOANS.c.closed_on == ctx.business_date)


def ran_before(ctx: StepContext, step: str, other: str) -> bool:
    """Whether the pack runs step ``other`` before ``step`` on each date."""
    order = ctx.pack.eod.steps
    return other in order and step in order and order.index(other) < order.index(step)


def touched_ids(ctx: StepContext, unsettled: Any = None, *, step: str) -> Any:
    """Ids of the loans an ordinary day must look at — anything due today or overdue,
    delinquent, classed above normal, restructured, overridden, or with a transaction
    dated or booked today — as a union of small indexed sets (partial indexes
    ``ix_loans_watch`` and ``ix_installments_unsettled``). A loan outside this set has
    no unsettled due installment and the default cached state (DPD 0, M0, normal), which
    is exactly what recomputing it would give. A full run takes every active loan (and
    loans settled today). ``unsettled``: a selectable with a ``loan_id`` for each loan
    with an unsettled installment, already read by the caller (else read here); ``step``:
    the step asking (what ran before it decides what can be left out)."""
    d = ctx.business_date
    if ctx.full:
        return select(LOANS.c.id.label("loan_id")).where(full_set(ctx))
    sets = [
        select(LOANS.c.id.label("loan_id")).where(WATCH),
        # the partial index by loan, read alone (it holds loan_id): without the hint
        # SQLite could take another index and fetch every row for its loan_id
        via_unsettled(
            select(INST.c.loan_id).where(status_is(INST.c.status, "due")).group_by(INST.c.loan_id)
        )
        if unsettled is None
        else select(unsettled.c.loan_id),
        # falling due today but not unsettled (paid ahead): by the partial index of the
        # status; the day's 'due' rows are listed above, from theirs, without fetching
        # each row for its loan_id
        select(INST.c.loan_id).where(status_is(INST.c.status, "paid"), INST.c.due_date == d),
        select(TXN.c.loan_id).where(TXN.c.booked_on == d),
        select(TXN.c.loan_id).where(TXN.c.value_date == d),
        select(OVERRIDES.c.loan_id).where(OVERRIDES.c.released_on.is_(None)),
    ]
    # still pending and falling due today: none once the due step has run (it flips
    # every installment due on or before the date). Left out then — on PostgreSQL the
    # pending index still points at the versions the due step just replaced, and
    # reading it fetched each of them (32k heap pages at 1 M loans) to find no row
    if not ran_before(ctx, step, "due"):
        sets.append(
            select(INST.c.loan_id).where(status_is(INST.c.status, "pending"), INST.c.due_date == d)
        )
    return union(*sets)


def clear_scratch(session: Session, table: Table) -> None:
    """Empty a scratch table of end of day. Its rows belong to the date being closed
    (the runner closes dates in order, so nothing later exists): an unconditional
    DELETE is SQLite's truncate fast path and TRUNCATE is PostgreSQL's (both roll back
    with the step) — a DELETE … WHERE removed the full run's million rows one by one."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"TRUNCATE {table.name}"))
    else:
        session.execute(delete(table))


# -- due ------------------------------------------------------------------------------
def step_due(session: Session, ctx: StepContext) -> StepResult:
    from daihou.payments.recompute_many import recompute_loans

    d = ctx.business_date
    # driven by the few loans holding credit (partial index ``ix_loans_credit``), each
    # probed for an installment falling due by its loan key, rather than by the day's
    # falling-due installments, each fetched for its loan_id (on SQLite the UPDATE below
    # fetches them anyway; on PostgreSQL this read cost the due step most of its time)
    falling_due = indexed_by(  # without statistics SQLite took the pending rows' index
        select(literal(1))
        .select_from(INST)
        .where(
            INST.c.loan_id == LOANS.c.id, status_is(INST.c.status, "pending"), INST.c.due_date <= d
        ),
        INST,
        BY_LOAN_PERIOD,
    )
    with_credit = session.scalars(
        indexed_by(  # SQLite otherwise walks every active loan by ix_loans_status
            select(LOANS.c.id)
            .where(IN_CREDIT, LOANS.c.status == "active", falling_due.exists())
            .order_by(LOANS.c.id),
            LOANS,
            "ix_loans_credit",
        )
    ).all()
    # a small set (loans holding 溢缴款 with something due), replayed together: one
    # statement per read and per write for all of them, not a dozen per loan
    recompute_loans(session, with_credit, pack=ctx.pack)
    flipped = session.execute(
        no_statement_journal(update(INST))
        .where(status_is(INST.c.status, "pending"), INST.c.due_date <= d)
        .values(status="due")
    )
    return StepResult(loans=len(with_credit), rows=flipped.rowcount)  # type: ignore[attr-defined]


# -- delinquency ----------------------------------------------------------------------
def step_delinquency(session: Session, ctx: StepContext) -> StepResult:
    """One INSERT … SELECT computes DPD, bucket and class of every candidate into the
    work table; events, class history and the loans' cached columns are then written
    from the rows that differ (``UPDATE … FROM``)."""
    d, pack = ctx.business_date, ctx.pack
    clear_scratch(session, WORK)
    tolerances = rules.tolerance_fen(pack)
    same = len(set(tolerances.values())) <= 1
    tolerance = (
        literal(next(iter(tolerances.values()), 0))  # one tolerance: no join to loans
        if same
        else rules.product_value_case(LOANS.c.product, tolerances, 0)
    )
    unpaid = (
        INST.c.principal_due
        + INST.c.interest_due
        + INST.c.fee_due
        - INST.c.principal_paid
        - INST.c.interest_paid
        - INST.c.fee_paid
    )
    # one pass over the unsettled rows, by loan: the oldest installment owing more than
    # the tolerance, and what they owe (the snapshot's amounts, ``EodWork``)
    oldest_q = select(
        INST.c.loan_id,
        func.min(case((and_(INST.c.due_date < d, unpaid > tolerance), INST.c.due_date))).label(
            "oldest"
        ),
        *owed_sums(d),
    ).select_from(WITH_ACCRUED)
    if not same:
        oldest_q = oldest_q.join(LOANS, LOANS.c.id == INST.c.loan_id)
    oldest = via_unsettled(
        oldest_q.where(status_is(INST.c.status, "due")).group_by(INST.c.loan_id)
    ).cte("oldest")
    overrides = (
        select(
            OVERRIDES.c.loan_id,
            func.max(rules.class_rank_case(OVERRIDES.c.risk_class)).label("rank"),
        )
        .where(OVERRIDES.c.effective_on <= d, OVERRIDES.c.released_on.is_(None))
        .group_by(OVERRIDES.c.loan_id)
        .subquery()
    )
    # a full run takes every active loan straight from ``loans``; an ordinary day joins
    # its candidate ids to their loans (joining a full run's million ids back to
    # ``loans`` cost a key lookup per loan)
    # an ordinary day's candidates include every loan with an unsettled installment:
    # those of the per-loan pass above, read once (on PostgreSQL a CTE named twice is
    # computed once; the candidates' own read of the partial index fetched every row)
    touched = None if ctx.full else touched_ids(ctx, oldest, step="delinquency").subquery()
    key = LOANS.c.id if touched is None else touched.c.loan_id
    picked = (
        select(
            key.label("loan_id"),
            func.coalesce(days_between(session, oldest.c.oldest, _d(ctx)), 0).label("dpd"),
            func.coalesce(overrides.c.rank, 0).label("override"),
            case(
                (LOANS.c.restructured_until >= d, literal(rank("special-mention"))),
                else_=literal(0),
            ).label("restructured"),
            LOANS.c.dpd.label("old_dpd"),
            LOANS.c.bucket.label("old_bucket"),
            LOANS.c.risk_class.label("old_class"),
            *(func.coalesce(oldest.c[c], 0).label(c) for c in ("op", "oi", "pen", "comp")),
        )
        .select_from(LOANS if touched is None else touched.join(LOANS, LOANS.c.id == key))
        .outerjoin(oldest, oldest.c.loan_id == key)
        .outerjoin(overrides, overrides.c.loan_id == key)
    )
    if touched is None:
        # a loan with no unsettled due installment, no open override, outside its
        # restructuring period and whose cached state is the default computes to that
        # default: leave it out before the bucket and class expressions (the filter on
        # the work rows below would drop it anyway; 9 loans in 10 of a book)
        could_move = or_(
            oldest.c.loan_id.is_not(None),
            overrides.c.loan_id.is_not(None),
            LOANS.c.restructured_until >= d,
            LOANS.c.dpd != 0,
            LOANS.c.bucket != bucket_for(0, rules.buckets(pack)),
            LOANS.c.risk_class != class_floor(0, rules.floors(pack)),
        )
        picked = picked.where(full_set(ctx), could_move)
    computed = picked.subquery()
    class_rank = greatest(
        session,
        rules.floor_rank_case(computed.c.dpd, pack),
        computed.c.override,
        computed.c.restructured,
    )
    bucket = rules.bucket_case(computed.c.dpd, pack)
    risk_class = rules.class_name_case(class_rank)
    work_rows = select(
        _d(ctx),
        computed.c.loan_id,
        computed.c.dpd,
        bucket,
        risk_class,
        computed.c.old_dpd,
        computed.c.old_bucket,
        computed.c.old_class,
        computed.c.op,
        computed.c.oi,
        computed.c.pen,
        computed.c.comp,
    )
    if touched is None:
        # a full run keeps only the loans whose DPD, bucket or class moves: the others'
        # rows would feed no event, class change or update (its snapshot reads
        # ``loans``), and most of a book is current and stays so (1 M rows written, and
        # read back by the UPDATEs below, for ~100k that move on a generated book)
        work_rows = work_rows.where(
            or_(
                computed.c.dpd != computed.c.old_dpd,
                bucket != computed.c.old_bucket,
                risk_class != computed.c.old_class,
            )
        )
    session.execute(
        insert(WORK).from_select(
            [
                "business_date",
                "loan_id",
                "dpd",
                "bucket",
                "risk_class",
                "old_dpd",
                "old_bucket",
                "old_class",
                "overdue_principal",
                "overdue_interest",
                "penalty",
                "compound",
            ],
            work_rows,
        )
    )
    w = WORK.c
    today = w.business_date == d
    kind = rules.case_kind(
        rules.bucket_rank_case(w.old_bucket, pack), rules.bucket_rank_case(w.bucket, pack)
    )
    events = session.execute(
        insert(EVENTS).from_select(
            ["business_date", "loan_id", "kind", "from_value", "to_value"],
            select(_d(ctx), w.loan_id, kind, w.old_bucket, w.bucket)
            .where(today, w.bucket != w.old_bucket)
            .order_by(w.loan_id),
        )
    ).rowcount  # type: ignore[attr-defined]
    reclassed = and_(today, w.risk_class != w.old_class)
    classified = session.execute(
        insert(EVENTS).from_select(
            ["business_date", "loan_id", "kind", "from_value", "to_value"],
            select(_d(ctx), w.loan_id, literal("classified"), w.old_class, w.risk_class)
            .where(reclassed)
            .order_by(w.loan_id),
        )
    ).rowcount  # type: ignore[attr-defined]
    session.execute(
        insert(CHANGES).from_select(
            ["loan_id", "business_date", "old_class", "new_class", "source", "reason"],
            select(
                w.loan_id,
                _d(ctx),
                w.old_class,
                w.risk_class,
                literal("eod"),
                literal("days past due / floors"),
            )
            .where(reclassed)
            .order_by(w.loan_id),
        )
    )
    # two UPDATEs: most loans' DPD moves by a day with bucket and class unchanged, and
    # an UPDATE that does not SET bucket and class leaves ``ix_loans_status`` (which
    # holds them) alone on SQLite instead of rewriting its entry for every loan
    moved_class = or_(w.bucket != w.old_bucket, w.risk_class != w.old_class)
    changed = session.execute(
        no_statement_journal(update(LOANS))
        .where(today, w.loan_id == LOANS.c.id, moved_class)
        .values(dpd=w.dpd, bucket=w.bucket, risk_class=w.risk_class)
    ).rowcount  # type: ignore[attr-defined]
    changed += session.execute(
        no_statement_journal(update(LOANS))
        .where(
            today,
            w.loan_id == LOANS.c.id,
            w.dpd != w.old_dpd,
            w.bucket == w.old_bucket,
            w.risk_class == w.old_class,
        )
        .values(dpd=w.dpd)
    ).rowcount  # type: ignore[attr-defined]
    looked = (
        select(func.count()).where(WORK.c.business_date == d)
        if touched is not None
        else select(func.count()).select_from(LOANS).where(full_set(ctx))
    )
    looked_at = session.scalar(looked) or 0
    return StepResult(loans=looked_at, rows=events + classified + changed)


# -- snapshot -------------------------------------------------------------------------
def _owed(component: str) -> Any:
    """What an installment still owes of ``component``, in fen (read from
    ``WITH_ACCRUED`` for 罚息/复利)."""
    paid = raw(INST.c[f"{component}_paid"])
    if f"{component}_due" in ACCRUED:
        return func.coalesce(raw(ACC.c[f"{component}_due"]), 0) - paid
    return raw(INST.c[f"{component}_due"]) - paid


def owed_sums(d: date) -> list[Any]:
    """Per loan, over its unsettled installments (grouped by loan): principal ``op`` and
    interest ``oi`` overdue before ``d``, 罚息 ``pen`` and 复利 ``comp`` owed (fen)."""
    before, zero = INST.c.due_date < d, literal(0)
    return [
        func.sum(case((before, _owed("principal")), else_=zero)).label("op"),
        func.sum(case((before, _owed("interest")), else_=zero)).label("oi"),
        func.sum(_owed("penalty")).label("pen"),
        func.sum(_owed("compound")).label("comp"),
    ]


def snapshot_select(ctx: StepContext, loan_ids: Any) -> Any:
    """Snapshot rows for ``loan_ids`` (None: a full run's loans, ``full_set``, read
    straight from ``loans``), their amounts summed over their installments. Only
    unsettled ('due') installments owe anything overdue or accrued, so the sums run over
    those rows alone (indexed)."""
    d = ctx.business_date
    sums = via_unsettled(
        select(INST.c.loan_id, *owed_sums(d))
        .select_from(WITH_ACCRUED)
        .where(status_is(INST.c.status, "due"))
        .group_by(INST.c.loan_id)
    ).subquery()
    ids = None if loan_ids is None else loan_ids.subquery()
    picture = (
        select(
            _d(ctx),
            LOANS.c.id,
            LOANS.c.status,
            LOANS.c.outstanding_principal,
            func.coalesce(sums.c.op, 0),
            func.coalesce(sums.c.oi, 0),
            func.coalesce(sums.c.pen, 0),
            func.coalesce(sums.c.comp, 0),
            LOANS.c.dpd,
            LOANS.c.bucket,
            LOANS.c.risk_class,
        )
        .select_from(LOANS if ids is None else ids.join(LOANS, LOANS.c.id == ids.c.loan_id))
        .outerjoin(sums, sums.c.loan_id == LOANS.c.id)
    )
    return picture.where(full_set(ctx)) if ids is None else picture


def snapshot_from_work(ctx: StepContext, *, accrued: bool, sqlite: bool) -> Any:
    """An ordinary day's snapshot rows from the delinquency step's work rows, which hold
    the day's loans and what their unsettled installments owed (nothing posts while end
    of day runs), plus — ``accrued``: the accrual ran in between — the night's 罚息/复利
    per loan from the ``accruals`` rows it wrote: no second read of the installments."""
    d = ctx.business_date
    w = WORK.c
    pen: Any = w.penalty
    comp: Any = w.compound
    rows = WORK.join(LOANS, LOANS.c.id == w.loan_id)
    if accrued:
        # each loan's night: its one ``eod`` row of the date (the accrual writes one per
        # loan), found by its key. On PostgreSQL as a LATERAL probe per loan: as a plain
        # join, without statistics on the night's rows, the planner read the date's rows
        # once per loan (minutes at 1 M); SQLite is told the (loan, date) index
        night = select(ACCRUALS.c.penalty, ACCRUALS.c.compound).where(
            ACCRUALS.c.loan_id == w.loan_id,
            ACCRUALS.c.business_date == d,
            ACCRUALS.c.source == "eod",
        )
        penalty: Any
        compound: Any
        if sqlite:
            rows = rows.outerjoin(ACCRUALS, night.whereclause)
            penalty, compound = ACCRUALS.c.penalty, ACCRUALS.c.compound
        else:
            found = night.limit(1).lateral("night")
            rows = rows.outerjoin(found, literal(True))
            penalty, compound = found.c.penalty, found.c.compound
        pen = pen + func.coalesce(raw(penalty), 0)
        comp = comp + func.coalesce(raw(compound), 0)
    picture = (
        select(
            _d(ctx),
            w.loan_id,
            LOANS.c.status,
            LOANS.c.outstanding_principal,
            w.overdue_principal,
            w.overdue_interest,
            pen,
            comp,
            w.dpd,
            w.bucket,
            w.risk_class,
        )
        .select_from(rows)
        .where(w.business_date == d)
    )
    if accrued and sqlite:
        return indexed_by(picture, ACCRUALS, "ix_accruals_loan_date")
    return picture


SNAPSHOT_COLUMNS = [
    "business_date",
    "loan_id",
    "status",
    "outstanding_principal",
    "overdue_principal",
    "overdue_interest",
    "penalty_outstanding",
    "compound_outstanding",
    "dpd",
    "bucket",
    "risk_class",
]


def step_snapshot(session: Session, ctx: StepContext) -> StepResult:
    d = ctx.business_date
    session.execute(delete(SNAPS).where(SNAPS.c.business_date == d))
    # a full run pictures every active loan, read straight from ``loans`` (and its
    # installments); an ordinary day after the delinquency step takes the day's loans
    # and their amounts from its work rows
    if ctx.full or not ran_before(ctx, "snapshot", "delinquency"):
        ids = None if ctx.full else touched_ids(ctx, step="snapshot")
        picture = snapshot_select(ctx, ids)
    else:
        sqlite = session.get_bind().dialect.name == "sqlite"
        accrued = ran_before(ctx, "snapshot", "accrual")
        picture = snapshot_from_work(ctx, accrued=accrued, sqlite=sqlite)
    result = session.execute(
        no_statement_journal(insert(SNAPS)).from_select(SNAPSHOT_COLUMNS, picture)
    )
    n = result.rowcount  # type: ignore[attr-defined]
    if n is None or n < 0:  # some drivers do not count INSERT … SELECT
        n = session.scalar(select(func.count()).where(SNAPS.c.business_date == d)) or 0
    return StepResult(loans=n, rows=n)
