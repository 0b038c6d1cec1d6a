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

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Date,
    Table,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    type_coerce,
    union,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from daihou.db.sqlfn import days_between, greatest
from daihou.db.types import RATE_SCALE
from daihou.eod import rules
from daihou.eod.models import (
    Accrual,
    ClassChange,
    ClassOverride,
    EodAccrualWork,
    EodWork,
    LoanEvent,
    LoanSnapshot,
)
from daihou.kernel.delinquency import rank
from daihou.kernel.money import ZERO, from_fen, rounding_mode, to_fen
from daihou.kernel.replay import accrued_amount
from daihou.ledger import accounts
from daihou.ledger.service import post_entry
from daihou.loans.models import Installment, Loan
from daihou.payments.journal import WRITTEN_OFF
from daihou.payments.models import Transaction
from daihou.policy.schema import PolicyPack


def _t(model: Any) -> Table:
    return cast(Table, model.__table__)


LOANS, INST, TXN = _t(Loan), _t(Installment), _t(Transaction)
WORK, EVENTS, SNAPS = _t(EodWork), _t(LoanEvent), _t(LoanSnapshot)
CHANGES, OVERRIDES, ACCRUALS = _t(ClassChange), _t(ClassOverride), _t(Accrual)
ACC_WORK = _t(EodAccrualWork)


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


def touched_ids(ctx: StepContext) -> Any:
    """Ids of the loans an ordinary day must look at — anything due today or overdue,
    delinquent, classed above normal, restructured, overridden, or with a transaction
    dated or booked today — as a union of small indexed sets. A full run takes every
    active loan (and loans settled today)."""
    d = ctx.business_date
    if ctx.full:
        return select(LOANS.c.id.label("loan_id")).where(
            or_(LOANS.c.status == "active", LOANS.c.closed_on == d)
        )
    return union(
        select(LOANS.c.id.label("loan_id")).where(
            or_(
                LOANS.c.dpd > 0,
                LOANS.c.risk_class != "normal",
                LOANS.c.restructured_until.is_not(None),
                LOANS.c.closed_on == d,
            )
        ),
        select(INST.c.loan_id).where(INST.c.status == "due"),
        select(INST.c.loan_id).where(INST.c.due_date == d),
        select(TXN.c.loan_id).where(TXN.c.booked_on == d),
        select(TXN.c.loan_id).where(TXN.c.value_date == d),
        select(OVERRIDES.c.loan_id).where(OVERRIDES.c.released_on.is_(None)),
    )


# -- due ------------------------------------------------------------------------------
def step_due(session: Session, ctx: StepContext) -> StepResult:
    from daihou.payments.recompute import recompute_loan

    d = ctx.business_date
    with_credit = session.scalars(
        select(LOANS.c.id).where(
            LOANS.c.credit_balance > 0,
            LOANS.c.status == "active",
            exists().where(
                INST.c.loan_id == LOANS.c.id, INST.c.status == "pending", INST.c.due_date <= d
            ),
        )
    ).all()
    for loan_id in with_credit:  # a small set: loans holding 溢缴款 with something due
        recompute_loan(session, loan_id, pack=ctx.pack)
    flipped = session.execute(
        update(INST).where(INST.c.status == "pending", INST.c.due_date <= d).values(status="due")
    )
    return StepResult(loans=len(with_credit), rows=flipped.rowcount)  # type: ignore[attr-defined]


# -- delinquency ----------------------------------------------------------------------
def step_delinquency(session: Session, ctx: StepContext) -> StepResult:
    d, pack = ctx.business_date, ctx.pack
    session.execute(delete(WORK).where(WORK.c.business_date == d))
    tolerance = rules.product_value_case(LOANS.c.product, rules.tolerance_fen(pack), 0)
    unpaid = (
        INST.c.principal_due
        + INST.c.interest_due
        + INST.c.fee_due
        - INST.c.principal_paid
        - INST.c.interest_paid
        - INST.c.fee_paid
    )
    # the oldest installment owing more than the tolerance, over 'due' rows only (indexed)
    oldest = (
        select(INST.c.loan_id, func.min(INST.c.due_date).label("oldest"))
        .join(LOANS, LOANS.c.id == INST.c.loan_id)
        .where(INST.c.status == "due", INST.c.due_date < d, unpaid > tolerance)
        .group_by(INST.c.loan_id)
        .subquery()
    )
    touched = touched_ids(ctx).subquery()
    dpd = func.coalesce(days_between(session, oldest.c.oldest, _d(ctx)), 0)
    session.execute(
        insert(WORK).from_select(
            ["business_date", "loan_id", "dpd", "bucket", "risk_class"],
            select(_d(ctx), touched.c.loan_id, dpd, literal("M0"), literal("normal")).outerjoin(
                oldest, oldest.c.loan_id == touched.c.loan_id
            ),
        )
    )
    override_rank = (
        select(func.max(rules.class_rank_case(OVERRIDES.c.risk_class)))
        .where(
            OVERRIDES.c.loan_id == WORK.c.loan_id,
            OVERRIDES.c.effective_on <= d,
            OVERRIDES.c.released_on.is_(None),
        )
        .scalar_subquery()
    )
    restructured = exists().where(LOANS.c.id == WORK.c.loan_id, LOANS.c.restructured_until >= d)
    class_rank = greatest(
        session,
        rules.floor_rank_case(WORK.c.dpd, pack),
        func.coalesce(override_rank, 0),
        case((restructured, literal(rank("special-mention"))), else_=literal(0)),
    )
    session.execute(
        update(WORK)
        .where(WORK.c.business_date == d)
        .values(
            bucket=rules.bucket_case(WORK.c.dpd, pack), risk_class=rules.class_name_case(class_rank)
        )
    )
    work = WORK.alias("w")
    mine = and_(work.c.business_date == d, work.c.loan_id == LOANS.c.id)
    old_rank = rules.bucket_rank_case(LOANS.c.bucket, pack)
    new_rank = rules.bucket_rank_case(work.c.bucket, pack)
    kind = rules.case_kind(old_rank, new_rank)
    events = session.execute(
        insert(EVENTS).from_select(
            ["business_date", "loan_id", "kind", "from_value", "to_value"],
            select(_d(ctx), LOANS.c.id, kind, LOANS.c.bucket, work.c.bucket).where(
                mine, work.c.bucket != LOANS.c.bucket
            ),
        )
    ).rowcount  # type: ignore[attr-defined]
    classified = session.execute(
        insert(EVENTS).from_select(
            ["business_date", "loan_id", "kind", "from_value", "to_value"],
            select(
                _d(ctx), LOANS.c.id, literal("classified"), LOANS.c.risk_class, work.c.risk_class
            ).where(mine, work.c.risk_class != LOANS.c.risk_class),
        )
    ).rowcount  # type: ignore[attr-defined]
    session.execute(
        insert(CHANGES).from_select(
            ["loan_id", "business_date", "old_class", "new_class", "source", "reason"],
            select(
                LOANS.c.id,
                _d(ctx),
                LOANS.c.risk_class,
                work.c.risk_class,
                literal("eod"),
                literal("days past due / floors"),
            ).where(mine, work.c.risk_class != LOANS.c.risk_class),
        )
    )
    w = WORK.alias("w2")

    def col(name: str) -> Any:
        return (
            select(w.c[name])
            .where(w.c.business_date == d, w.c.loan_id == LOANS.c.id)
            .scalar_subquery()
        )

    differs = (
        select(WORK.c.loan_id)
        .join(LOANS, LOANS.c.id == WORK.c.loan_id)
        .where(
            WORK.c.business_date == d,
            or_(
                WORK.c.dpd != LOANS.c.dpd,
                WORK.c.bucket != LOANS.c.bucket,
                WORK.c.risk_class != LOANS.c.risk_class,
            ),
        )
    )
    changed = session.execute(
        update(LOANS)
        .where(LOANS.c.id.in_(differs))
        .values(dpd=col("dpd"), bucket=col("bucket"), risk_class=col("risk_class"))
    ).rowcount  # type: ignore[attr-defined]
    looked_at = session.scalar(select(func.count()).where(WORK.c.business_date == d)) or 0
    return StepResult(loans=looked_at, rows=events + classified + changed)


# -- accrual --------------------------------------------------------------------------
def accrued_fen(base: int, rate_units: int, markup_units: int) -> int:
    """base × rate × (1 + markup) / 360 in fen, rounded half up, in exact integers
    (rate in 1e-10 units, markup in 1e-4 units): the fast twin of
    ``kernel.replay.accrued_amount`` with ROUND_HALF_UP (a test holds them equal)."""
    num = base * rate_units * (10_000 + markup_units)
    den = 360 * RATE_SCALE * 10_000
    return (2 * num + den) // (2 * den)


def raw(col: Any) -> Any:
    """A money or rate column read as its stored integer (no Decimal conversion)."""
    return type_coerce(col, BigInteger)


def step_accrual(session: Session, ctx: StepContext) -> StepResult:
    d = ctx.business_date
    # a written-off loan (核销) accrues nothing more: its claim is kept off the books
    written_off = select(LOANS.c.id).where(LOANS.c.status == WRITTEN_OFF)
    groups: dict[tuple[int, bool], list[str]] = defaultdict(list)
    for p in ctx.pack.products:
        groups[(p.grace_days, p.compound_interest)].append(p.code)
    for (grace, compounding), codes in groups.items():
        cond = [
            INST.c.status == "due",
            INST.c.due_date <= d - timedelta(days=grace),
            INST.c.loan_id.not_in(written_off),
        ]
        if len(groups) > 1:
            cond.append(INST.c.loan_id.in_(select(LOANS.c.id).where(LOANS.c.product.in_(codes))))
        # one statement for both bases (paid never exceeds due, so adding 0 is harmless)
        owes = INST.c.principal_due > INST.c.principal_paid
        values: dict[str, Any] = {
            "penalty_base": INST.c.penalty_base + INST.c.principal_due - INST.c.principal_paid
        }
        if compounding:
            owes = or_(owes, INST.c.interest_due > INST.c.interest_paid)
            values["compound_base"] = (
                INST.c.compound_base + INST.c.interest_due - INST.c.interest_paid
            )
        session.execute(update(INST).where(*cond, owes).values(values))
    rows = session.execute(
        select(
            INST.c.id,
            INST.c.loan_id,
            LOANS.c.product,
            INST.c.penalty_base,
            INST.c.compound_base,
            raw(INST.c.annual_rate),
            raw(INST.c.penalty_due),
            raw(INST.c.compound_due),
            raw(INST.c.penalty_carried),
            raw(INST.c.compound_carried),
        )
        .join(LOANS, LOANS.c.id == INST.c.loan_id)
        .where(
            INST.c.status == "due",
            INST.c.due_date <= d,
            LOANS.c.status != WRITTEN_OFF,
            or_(INST.c.penalty_base > 0, INST.c.compound_base > 0),
        )
    ).all()
    products = {p.code: p for p in ctx.pack.products}
    updates = []
    deltas: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row_id, loan_id, code, pbase, cbase, rate, pdue, cdue, pcarry, ccarry in rows:
        product = products[code]
        markup = product.penalty_markup * 10_000
        if product.rounding == "half-up" and markup == markup.to_integral_value():
            m = int(markup)
            penalty = accrued_fen(pbase, rate, m)
            compound = accrued_fen(cbase, rate, m)
        else:
            mode, r = rounding_mode(product.rounding), Decimal(rate) / RATE_SCALE
            penalty = to_fen(accrued_amount(pbase, r, product.penalty_markup, mode))
            compound = to_fen(accrued_amount(cbase, r, product.penalty_markup, mode))
        # a repayment plan row carries 罚息/复利 moved in from the rows it replaced
        penalty += pcarry
        compound += ccarry
        if penalty != pdue or compound != cdue:
            updates.append({"b_id": row_id, "p": penalty, "c": compound})
            delta = deltas[loan_id]
            delta[0] += penalty - pdue
            delta[1] += compound - cdue
    if updates:
        # one bulk insert into a scratch table and one UPDATE: far fewer round trips
        # than an UPDATE per installment (which costs seconds on PostgreSQL)
        session.execute(delete(ACC_WORK))
        session.execute(
            insert(ACC_WORK),
            [
                {"installment_id": u["b_id"], "penalty_fen": u["p"], "compound_fen": u["c"]}
                for u in updates
            ],
        )

        def new(column: str) -> Any:
            return type_coerce(
                select(ACC_WORK.c[column])
                .where(ACC_WORK.c.installment_id == INST.c.id)
                .scalar_subquery(),
                BigInteger,
            )

        session.execute(
            update(INST)
            .where(INST.c.id.in_(select(ACC_WORK.c.installment_id)))
            .values(penalty_due=new("penalty_fen"), compound_due=new("compound_fen"))
        )
    if not deltas:
        return StepResult()
    total_penalty = from_fen(sum(v[0] for v in deltas.values()))
    total_compound = from_fen(sum(v[1] for v in deltas.values()))
    entry = post_entry(
        session,
        kind="accrual",
        entry_date=d,
        booked_on=d,
        lines=accrual_lines(total_penalty, total_compound),
        memo=f"end of day {d}: 罚息/复利 accrued on {len(deltas)} loans",
    )
    session.connection().execute(
        insert(ACCRUALS).values(
            penalty=type_coerce(bindparam("p"), BigInteger),
            compound=type_coerce(bindparam("c"), BigInteger),
        ),
        [
            {
                "loan_id": loan_id,
                "business_date": d,
                "p": v[0],
                "c": v[1],
                "source": "eod",
                "journal_entry_id": entry.id,
            }
            for loan_id, v in sorted(deltas.items())
        ],
    )
    return StepResult(loans=len(deltas), rows=len(updates))


def accrual_lines(penalty: Decimal, compound: Decimal) -> list[tuple[str, Decimal, Decimal]]:
    """Journal lines moving 罚息/复利 receivable and income by the given (signed) amounts."""
    lines: list[tuple[str, Decimal, Decimal]] = []
    for amount, receivable, income in (
        (penalty, accounts.PENALTY_RECEIVABLE, accounts.PENALTY_INCOME),
        (compound, accounts.COMPOUND_RECEIVABLE, accounts.COMPOUND_INCOME),
    ):
        if amount > 0:
            lines += [(receivable, amount, ZERO), (income, ZERO, amount)]
        elif amount < 0:
            lines += [(income, -amount, ZERO), (receivable, ZERO, -amount)]
    return lines


# -- snapshot -------------------------------------------------------------------------
def snapshot_select(ctx: StepContext, loan_ids: Any) -> Any:
    """Snapshot rows for ``loan_ids``. Only unsettled ('due') installments owe anything
    overdue or accrued, so the sums run over those rows alone (indexed)."""
    d = ctx.business_date

    def owed(component: str) -> Any:
        return INST.c[f"{component}_due"] - INST.c[f"{component}_paid"]

    zero = literal(0)
    sums = (
        select(
            INST.c.loan_id,
            func.sum(case((INST.c.due_date < d, owed("principal")), else_=zero)).label("op"),
            func.sum(case((INST.c.due_date < d, owed("interest")), else_=zero)).label("oi"),
            func.sum(owed("penalty")).label("pen"),
            func.sum(owed("compound")).label("comp"),
        )
        .where(INST.c.status == "due")
        .group_by(INST.c.loan_id)
        .subquery()
    )
    ids = loan_ids.subquery()
    return (
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
        .select_from(ids)
        .join(LOANS, LOANS.c.id == ids.c.loan_id)
        .outerjoin(sums, sums.c.loan_id == LOANS.c.id)
    )


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
    result = session.execute(
        insert(SNAPS).from_select(SNAPSHOT_COLUMNS, snapshot_select(ctx, touched_ids(ctx)))
    )
    n = result.rowcount  # type: ignore[attr-defined]
    if n is None or n < 0:  # some drivers do not count INSERT … SELECT
        n = session.scalar(select(func.count()).where(SNAPS.c.business_date == d)) or 0
    return StepResult(loans=n, rows=n)
