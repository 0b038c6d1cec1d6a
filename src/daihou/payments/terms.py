"""Build the kernel's view of a loan (``LoanTerms``) from its row and its product."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from daihou.kernel.money import rounding_mode
from daihou.kernel.replay import FloatingTerms, LoanTerms
from daihou.loans.models import Loan, LprRate
from daihou.policy.schema import Product


def loan_terms(loan: Loan, product: Product) -> LoanTerms:
    floating = None
    if product.floating is not None and loan.spread_bps is not None:
        floating = FloatingTerms(
            tenor=product.floating.tenor,
            repricing=product.floating.repricing,
            spread_bps=loan.spread_bps,
        )
    return LoanTerms(
        principal=loan.principal,
        annual_rate=loan.annual_rate,
        months=loan.term_months,
        method=loan.method,
        start=loan.disbursed_on,
        first_due=loan.first_due_on,
        repayment_day=loan.repayment_day,
        rounding=rounding_mode(product.rounding),
        odd_period_basis=product.odd_period_basis,
        annuity_factor_decimals=product.annuity_factor_decimals,
        components=tuple(product.allocation.components),
        allocate_by=product.allocation.by,
        newest_first=product.allocation.installments == "newest-first",
        prepayment_tiers=tuple((t.until_month, t.rate) for t in product.prepayment_penalty),
        floating=floating,
        penalty_markup=product.penalty_markup,
        compound_interest=product.compound_interest,
        grace_days=product.grace_days,
        accrue_from=loan.serviced_from,
        # written off (核销) on W: the night of W and later accrue nothing
        accrue_until=(
            loan.written_off_on - timedelta(days=1) if loan.written_off_on is not None else None
        ),
    )


def lpr_history(session: Session) -> list[tuple[str, date, Decimal]]:
    rows = session.execute(select(LprRate.tenor, LprRate.effective_on, LprRate.rate)).all()
    return [(r.tenor, r.effective_on, r.rate) for r in rows]
