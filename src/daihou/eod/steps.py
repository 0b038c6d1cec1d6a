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
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from daihou.db.sqlfn import days_between, greatest
from daihou.eod import rules
from daihou.eod.models import (
    Accrual,
    ClassChange,
    ClassOverride,
    EodWork,
    LoanEvent,
    LoanSnapshot,
)
from daihou.kernel.delinquency import rank
from daihou.kernel.money import ZERO, rounding_mode
from daihou.kernel.replay import accrued_amount
from daihou.ledger import accounts
from daihou.ledger.service import post_entry
from daihou.loans.models import Installment, Loan
from daihou.payments.models import Transaction
from daihou.policy.schema import PolicyPack


def _t(model: Any) -> Table:
    return cast(Table, model.__table__)


LOANS, INST, TXN = _t(Loan), _t(Installment), _t(Transaction)
WORK, EVENTS, SNAPS = _t(EodWork), _t(LoanEvent), _t(LoanSnapshot)
CHANGES, OVERRIDES, ACCRUALS = _t(ClassChange), _t(ClassOverride), _t(Accrual)


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


def touched_loans(ctx: StepContext) -> ColumnElement[bool]:
    """Loans an ordinary day must look at: anything due/overdue, delinquent, classified
    above normal, restructured, overridden, or with a transaction dated or booked
    today. A full run looks at every active loan (and loans settled today)."""
    d = ctx.business_date
    active = or_(LOANS.c.status == "active", LOANS.c.closed_on == d)
    if ctx.full:
        return active
    return and_(
        active,
        or_(
            LOANS.c.dpd > 0,
            LOANS.c.risk_class != "normal",
            LOANS.c.restructured_until.is_not(None),
            exists().where(
                INST.c.loan_id == LOANS.c.id,
                or_(and_(INST.c.status == "due", INST.c.due_date <= d), INST.c.due_date == d),
            ),
            exists().where(
                TXN.c.loan_id == LOANS.c.id, or_(TXN.c.booked_on == d, TXN.c.value_date == d)
            ),
            exists().where(OVERRIDES.c.loan_id == LOANS.c.id, OVERRIDES.c.released_on.is_(None)),
        ),
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
        INST.c.principal_due + INST.c.interest_due + INST.c.fee_due
        - INST.c.principal_paid - INST.c.interest_paid - INST.c.fee_paid
    )  # fmt: skip
    oldest = (
        select(func.min(INST.c.due_date))
        .where(
            INST.c.loan_id == LOANS.c.id,
            INST.c.status == "due",
            INST.c.due_date < d,
            unpaid > tolerance,
        )
        .scalar_subquery()
    )
    dpd = func.coalesce(days_between(session, oldest, _d(ctx)), 0)
    base = select(LOANS.c.id.label("loan_id"), dpd.label("dpd")).where(touched_loans(ctx)).subquery()
    override_rank = (
        select(func.max(rules.class_rank_case(OVERRIDES.c.risk_class)))
        .where(
            OVERRIDES.c.loan_id == base.c.loan_id,
            OVERRIDES.c.effective_on <= d,
            OVERRIDES.c.released_on.is_(None),
        )
        .scalar_subquery()
    )
    restructured = exists().where(LOANS.c.id == base.c.loan_id, LOANS.c.restructured_until >= d)
    class_rank = greatest(
        session,
        rules.floor_rank_case(base.c.dpd, pack),
        func.coalesce(override_rank, 0),
        case((restructured, literal(rank("special-mention"))), else_=literal(0)),
    )
    session.execute(
        insert(WORK).from_select(
            ["business_date", "loan_id", "dpd", "bucket", "risk_class"],
            select(
                _d(ctx),
                base.c.loan_id,
                base.c.dpd,
                rules.bucket_case(base.c.dpd, pack),
                rules.class_name_case(class_rank),
            ),
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
                LOANS.c.id, _d(ctx), LOANS.c.risk_class, work.c.risk_class, literal("eod"),
                literal("days past due / floors"),
            ).where(mine, work.c.risk_class != LOANS.c.risk_class),
        )
    )  # fmt: skip
    w = WORK.alias("w2")

    def col(name: str) -> Any:
        return (
            select(w.c[name])
            .where(w.c.business_date == d, w.c.loan_id == LOANS.c.id)
            .scalar_subquery()
        )

    changed = session.execute(
        update(LOANS)
        .where(
            LOANS.c.id.in_(select(WORK.c.loan_id).where(WORK.c.business_date == d)),
        )
        .values(dpd=col("dpd"), bucket=col("bucket"), risk_class=col("risk_class"))
    ).rowcount  # type: ignore[attr-defined]
    return StepResult(loans=changed, rows=events + classified)


# -- accrual --------------------------------------------------------------------------
def step_accrual(session: Session, ctx: StepContext) -> StepResult:
    d = ctx.business_date
    deltas: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for product in ctx.pack.products:
        last_due = d - timedelta(days=product.grace_days)
        in_product = INST.c.loan_id.in_(select(LOANS.c.id).where(LOANS.c.product == product.code))
        overdue = and_(in_product, INST.c.status == "due", INST.c.due_date <= last_due)
        session.execute(
            update(INST)
            .where(overdue, INST.c.principal_due > INST.c.principal_paid)
            .values(penalty_base=INST.c.penalty_base + INST.c.principal_due - INST.c.principal_paid)
        )
        if product.compound_interest:
            session.execute(
                update(INST)
                .where(overdue, INST.c.interest_due > INST.c.interest_paid)
                .values(
                    compound_base=INST.c.compound_base + INST.c.interest_due - INST.c.interest_paid
                )
            )
        rows = session.execute(
            select(
                INST.c.id, INST.c.loan_id, INST.c.penalty_base, INST.c.compound_base,
                INST.c.annual_rate, INST.c.penalty_due, INST.c.compound_due,
            ).where(overdue, or_(INST.c.penalty_base > 0, INST.c.compound_base > 0))
        ).all()  # fmt: skip
        mode = rounding_mode(product.rounding)
        updates = []
        for row in rows:
            penalty = accrued_amount(row.penalty_base, row.annual_rate, product.penalty_markup, mode)
            compound = accrued_amount(row.compound_base, row.annual_rate, product.penalty_markup, mode)
            if penalty != row.penalty_due or compound != row.compound_due:
                updates.append({"b_id": row.id, "penalty_due": penalty, "compound_due": compound})
                delta = deltas[row.loan_id]
                delta[0] += penalty - row.penalty_due
                delta[1] += compound - row.compound_due
        if updates:
            session.connection().execute(
                update(INST)
                .where(INST.c.id == bindparam("b_id"))
                .values(penalty_due=bindparam("penalty_due"), compound_due=bindparam("compound_due")),
                updates,
            )
    if not deltas:
        return StepResult()
    total_penalty = sum((v[0] for v in deltas.values()), ZERO)
    total_compound = sum((v[1] for v in deltas.values()), ZERO)
    entry = post_entry(
        session,
        kind="accrual",
        entry_date=d,
        booked_on=d,
        lines=_accrual_lines(total_penalty, total_compound),
        memo=f"end of day {d}: 罚息/复利 accrued on {len(deltas)} loans",
    )
    session.execute(
        insert(ACCRUALS),
        [
            {
                "loan_id": loan_id,
                "business_date": d,
                "penalty": v[0],
                "compound": v[1],
                "source": "eod",
                "journal_entry_id": entry.id,
            }
            for loan_id, v in sorted(deltas.items())
        ],
    )
    return StepResult(loans=len(deltas), rows=len(deltas))


def _accrual_lines(penalty: Decimal, compound: Decimal) -> list[tuple[str, Decimal, Decimal]]:
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


def accrual_lines(penalty: Decimal, compound: Decimal) -> list[tuple[str, Decimal, Decimal]]:
    return _accrual_lines(penalty, compound)


# -- snapshot -------------------------------------------------------------------------
def snapshot_select(ctx: StepContext, loan_filter: ColumnElement[bool]) -> Any:
    d = ctx.business_date

    def owed(component: str, *, overdue_only: bool) -> Any:
        cond = [INST.c.loan_id == LOANS.c.id]
        if overdue_only:
            cond += [INST.c.due_date < d]
        return (
            select(func.coalesce(func.sum(INST.c[f"{component}_due"] - INST.c[f"{component}_paid"]), 0))
            .where(*cond)
            .scalar_subquery()
        )

    return select(
        _d(ctx), LOANS.c.id, LOANS.c.status, LOANS.c.outstanding_principal,
        owed("principal", overdue_only=True), owed("interest", overdue_only=True),
        owed("penalty", overdue_only=False), owed("compound", overdue_only=False),
        LOANS.c.dpd, LOANS.c.bucket, LOANS.c.risk_class,
    ).where(loan_filter)  # fmt: skip


SNAPSHOT_COLUMNS = [
    "business_date", "loan_id", "status", "outstanding_principal", "overdue_principal",
    "overdue_interest", "penalty_outstanding", "compound_outstanding", "dpd", "bucket",
    "risk_class",
]  # fmt: skip


def step_snapshot(session: Session, ctx: StepContext) -> StepResult:
    d = ctx.business_date
    session.execute(delete(SNAPS).where(SNAPS.c.business_date == d))
    result = session.execute(
        insert(SNAPS).from_select(SNAPSHOT_COLUMNS, snapshot_select(ctx, touched_loans(ctx)))
    )
    n = result.rowcount  # type: ignore[attr-defined]
    return StepResult(loans=n, rows=n)

