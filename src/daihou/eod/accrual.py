"""The accrual step of end of day (罚息/复利), set-based.

The night of business date d adds each overdue installment's unpaid principal (and, when
the product compounds, its unpaid interest) to its accrual base in fen·days, and the
posted amount becomes base × rate × (1 + markup) / 360 rounded to the fen — so the
remainder is carried and N nights equal one N-night accrual (``kernel.replay``). A
repayment plan row adds the 罚息/复利 carried in by the plan (``penalty_carried`` /
``compound_carried``) to that amount; written-off loans (核销) accrue nothing.

All in SQL over the installments that accrue tonight: one ``INSERT … SELECT`` per
(grace days, compounding) group computes new bases and amounts into a work table, one
``UPDATE … FROM`` applies them to the narrow ``installment_accruals`` (and one ``INSERT
… SELECT`` adds the rows of installments accruing for the first time), one ``INSERT …
SELECT … GROUP BY`` writes the per-loan subledger rows, and one summary journal entry
posts the day's total.

Exactness: the amount is computed in binary floating point. Base and rate factor are
integers below 2⁵³ (exact as doubles); the product and the quotient are rounded once
each, so for amounts below 10⁸ fen the error is below 5·10⁻⁸ fen, and the rounded
result can only differ from the exact rational one when that lies within 10⁻⁷ fen of a
half fen. Such rows (true ties, which round rates make fairly common, and near-ties),
amounts of 10⁸ fen or more, and products whose rounding is not half-up or whose markup
is not a whole 0.01% are flagged and recomputed exactly in Python (``accrued_fen`` /
``kernel.replay.accrued_amount``).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Float,
    Integer,
    Table,
    bindparam,
    case,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from daihou.db.sqlfn import no_statement_journal
from daihou.db.types import RATE_SCALE
from daihou.eod.models import Accrual, EodAccrualWork
from daihou.kernel.money import ZERO, from_fen, rounding_mode, to_fen
from daihou.kernel.replay import ReplayResult, accrued_amount
from daihou.ledger import accounts
from daihou.ledger.service import EntryDraft, post_entry
from daihou.loans.models import Installment, InstallmentAccrual, Loan, status_is, via_unsettled
from daihou.payments.journal import WRITTEN_OFF
from daihou.policy.schema import PolicyPack, Product

INST = cast(Table, Installment.__table__)
ACC = cast(Table, InstallmentAccrual.__table__)
LOANS = cast(Table, Loan.__table__)
WORK = cast(Table, EodAccrualWork.__table__)
ACCRUALS = cast(Table, Accrual.__table__)
DENOMINATOR = 360 * RATE_SCALE * 10_000
TIE_MARGIN = 1e-7  # fen: twice the float error bound below FLOAT_LIMIT
FLOAT_LIMIT = 1e8  # fen (1 M yuan on one installment): beyond it, always exact


def accrued_fen(base: int, rate_units: int, markup_units: int) -> int:
    """base × rate × (1 + markup) / 360 in fen, rounded half up, in exact integers
    (rate in 1e-10 units, markup in 1e-4 units): the fast twin of
    ``kernel.replay.accrued_amount`` with ROUND_HALF_UP (a test holds them equal)."""
    num = base * rate_units * (10_000 + markup_units)
    return (2 * num + DENOMINATOR) // (2 * DENOMINATOR)


def raw(col: Any) -> Any:
    """A money or rate column read as its stored integer (no Decimal conversion)."""
    return type_coerce(col, BigInteger)


def fast_markup(product: Product) -> int | None:
    """The markup in 1e-4 units when the float path applies to the product, else None."""
    markup = product.penalty_markup * 10_000
    if product.rounding == "half-up" and markup == markup.to_integral_value():
        return int(markup)
    return None


def exact_fen(product: Product, base: int, rate_units: int) -> int:
    m = fast_markup(product)
    if m is not None:
        return accrued_fen(base, rate_units, m)
    rate = Decimal(rate_units) / RATE_SCALE
    mode = rounding_mode(product.rounding)
    return to_fen(accrued_amount(base, rate, product.penalty_markup, mode))


def _rounded(session: Session, x: ColumnElement[float]) -> tuple[Any, Any]:
    """(x rounded half up as an integer, x's fractional part) for x ≥ 0."""
    if session.get_bind().dialect.name == "sqlite":  # CAST truncates: floor for x ≥ 0
        return (x + 0.5).cast(Integer), x - x.cast(Integer)
    return func.floor(x + 0.5).cast(BigInteger), x - func.floor(x)


def _amount(session: Session, base: Any, factor: Any) -> tuple[Any, Any]:
    x = base.cast(Float(53)) * factor / float(DENOMINATOR)
    fen, frac = _rounded(session, x)
    risky = or_(func.abs(frac - 0.5) < TIE_MARGIN, x >= FLOAT_LIMIT)
    return fen, risky


def step_accrual(session: Session, ctx: Any) -> Any:
    from daihou.eod.steps import StepResult, clear_scratch

    d = ctx.business_date
    pack: PolicyPack = ctx.pack
    clear_scratch(session, WORK)
    # SQLite: the accruing rows are read through the partial index of unsettled rows, by
    # loan (so the schedule table in its own order, and the work rows — and the UPDATE
    # below — in that order too), each joined to its loan; `|| ''` keeps the planner from
    # turning this round (scanning every loan and probing its installments)
    sqlite = session.get_bind().dialect.name == "sqlite"
    loan_key = INST.c.loan_id.concat(literal_column("''")) if sqlite else INST.c.loan_id
    groups: dict[tuple[int, bool], list[Product]] = defaultdict(list)
    for p in pack.products:
        groups[(p.grace_days, p.compound_interest)].append(p)
    for (grace, compounding), products in groups.items():
        markup = case(
            {p.code: literal(fast_markup(p) or 0) for p in products},
            value=LOANS.c.product,
            else_=literal(0),
        )
        slow = [p.code for p in products if fast_markup(p) is None]
        factor = (raw(INST.c.annual_rate) * (10_000 + markup)).cast(Float(53))
        owed_p = raw(INST.c.principal_due) - raw(INST.c.principal_paid)
        owed_i = raw(INST.c.interest_due) - raw(INST.c.interest_paid)
        new_p = func.coalesce(ACC.c.penalty_base, 0) + owed_p
        owes = INST.c.principal_due > INST.c.principal_paid
        new_c: Any = func.coalesce(ACC.c.compound_base, 0)
        if compounding:
            new_c = new_c + owed_i
            owes = or_(owes, INST.c.interest_due > INST.c.interest_paid)
        p_fen, p_risky = _amount(session, new_p, factor)
        c_fen, c_risky = _amount(session, new_c, factor)
        exact = case(
            (or_(p_risky, c_risky, LOANS.c.product.in_(slow) if slow else literal(False)), 1),
            else_=0,
        )
        session.execute(
            insert(WORK).from_select(
                [
                    "installment_id",
                    "loan_id",
                    "product",
                    "annual_rate",
                    "penalty_base",
                    "compound_base",
                    "old_penalty",
                    "old_compound",
                    "penalty_fen",
                    "compound_fen",
                    "exact",
                ],
                via_unsettled(
                    select(
                        INST.c.id,
                        INST.c.loan_id,
                        LOANS.c.product,
                        raw(INST.c.annual_rate),
                        new_p,
                        new_c,
                        func.coalesce(raw(ACC.c.penalty_due), 0),
                        func.coalesce(raw(ACC.c.compound_due), 0),
                        # a repayment plan row carries 罚息/复利 moved in (+) or out (−) by
                        # the plan: due = carried + accrued(base) (``kernel.restructure``)
                        p_fen + raw(INST.c.penalty_carried),
                        c_fen + raw(INST.c.compound_carried),
                        exact,
                    )
                    .select_from(INST)
                    .join(LOANS, LOANS.c.id == loan_key)
                    .outerjoin(ACC, ACC.c.installment_id == INST.c.id)
                    .where(
                        status_is(INST.c.status, "due"),
                        INST.c.due_date <= d - timedelta(days=grace),
                        owes,
                        # a written-off loan (核销) accrues nothing more: its claim is off
                        # the books
                        LOANS.c.status != WRITTEN_OFF,
                        LOANS.c.product.in_([p.code for p in products]),
                    )
                ),
            )
        )
    _exact_fixups(session, pack)
    # apply (every accruing row's base moves): the accrual rows there are, then one for
    # each installment accruing for the first time. SQLite: `+ 0` makes the planner walk
    # the work rows and find each accrual row by its key, rather than scan the table and
    # probe the work rows for each
    work_key = WORK.c.installment_id + literal_column("0") if sqlite else WORK.c.installment_id
    session.execute(
        no_statement_journal(update(ACC))
        .where(ACC.c.installment_id == work_key)
        .values(
            penalty_base=WORK.c.penalty_base,
            compound_base=WORK.c.compound_base,
            penalty_due=type_coerce(WORK.c.penalty_fen, ACC.c.penalty_due.type),
            compound_due=type_coerce(WORK.c.compound_fen, ACC.c.compound_due.type),
        )
    )
    session.execute(
        no_statement_journal(insert(ACC)).from_select(
            ["installment_id", "penalty_base", "compound_base", "penalty_due", "compound_due"],
            select(
                WORK.c.installment_id,
                WORK.c.penalty_base,
                WORK.c.compound_base,
                WORK.c.penalty_fen,
                WORK.c.compound_fen,
            )
            .where(~select(ACC.c.installment_id).where(ACC.c.installment_id == work_key).exists())
            .order_by(WORK.c.installment_id),
        )
    )
    dp = func.sum(WORK.c.penalty_fen - WORK.c.old_penalty)
    dc = func.sum(WORK.c.compound_fen - WORK.c.old_compound)
    moved = or_(
        WORK.c.penalty_fen != WORK.c.old_penalty, WORK.c.compound_fen != WORK.c.old_compound
    )
    total_p, total_c, loans, rows = session.execute(
        select(
            func.coalesce(dp, 0),
            func.coalesce(dc, 0),
            func.count(func.distinct(WORK.c.loan_id)),
            func.count(),
        ).where(moved)
    ).one()
    if not rows:
        return StepResult()
    entry = post_entry(
        session,
        kind="accrual",
        entry_date=d,
        booked_on=d,
        lines=accrual_lines(from_fen(int(total_p)), from_fen(int(total_c))),
        memo=f"end of day {d}: 罚息/复利 accrued on {loans} loans",
    )
    session.execute(
        no_statement_journal(insert(ACCRUALS)).from_select(
            ["loan_id", "business_date", "penalty", "compound", "source", "journal_entry_id"],
            select(
                WORK.c.loan_id,
                literal(d),
                dp,
                dc,
                literal("eod"),
                literal(entry.id),
            )
            .where(moved)
            .group_by(WORK.c.loan_id)
            .having(or_(dp != 0, dc != 0))
            .order_by(WORK.c.loan_id),
        )
    )
    return StepResult(loans=int(loans), rows=int(rows))


def _exact_fixups(session: Session, pack: PolicyPack) -> None:
    """Recompute the flagged rows exactly (see the module docstring)."""
    products = {p.code: p for p in pack.products}
    rows = session.execute(
        select(
            WORK.c.installment_id,
            WORK.c.product,
            WORK.c.annual_rate,
            WORK.c.penalty_base,
            WORK.c.compound_base,
            raw(INST.c.penalty_carried),
            raw(INST.c.compound_carried),
        )
        .join(INST, INST.c.id == WORK.c.installment_id)
        .where(WORK.c.exact == 1)
    ).all()
    if not rows:
        return
    fixed = [
        {
            "b_id": row_id,
            "p": exact_fen(products[code], pbase, rate) + pcarry,
            "c": exact_fen(products[code], cbase, rate) + ccarry,
        }
        for row_id, code, rate, pbase, cbase, pcarry, ccarry in rows
    ]
    session.connection().execute(
        update(WORK)
        .where(WORK.c.installment_id == bindparam("b_id"))
        .values(penalty_fen=bindparam("p"), compound_fen=bindparam("c")),
        fixed,
    )


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


def recompute_adjustment(
    loan_id: str, today: date, result: ReplayResult, posted: tuple[Decimal, Decimal]
) -> tuple[dict[str, Any], EntryDraft, tuple[Decimal, Decimal]] | None:
    """After a replay (a posting, a recompute): the 罚息/复利 the replay says accrued,
    against ``posted`` (what the subledger holds), as the correcting subledger row (its
    ``journal_entry_id`` still to set), its journal entry and the new totals; None if
    nothing moved."""
    penalty = sum((i.due["penalty"] for i in result.installments), ZERO)
    compound = sum((i.due["compound"] for i in result.installments), ZERO)
    dp, dc = penalty - posted[0], compound - posted[1]
    if dp == ZERO and dc == ZERO:
        return None
    row = {
        "loan_id": loan_id,
        "business_date": today,
        "penalty": dp,
        "compound": dc,
        "source": "recompute",
    }
    memo = "罚息/复利 recomputed after a posting"
    draft = EntryDraft(
        "accrual-adjustment", today, today, accrual_lines(dp, dc), loan_id, None, memo
    )
    return row, draft, (penalty, compound)
