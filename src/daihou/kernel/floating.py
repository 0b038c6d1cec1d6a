"""Floating rates: LPR (贷款市场报价利率) + spread (加点), repriced (重定价) on the
loan's anniversary or on 1 January.

When a repricing date R applies
    A repricing on date R applies from the first period that **starts** on or after R;
    the period in course on R keeps its rate. The caller finds that period (its start
    date is the previous due date), takes the LPR effective on R with :func:`lpr_on`,
    adds the spread with :func:`floating_rate`, and re-amortises the remaining
    schedule from that period start with :func:`daihou.kernel.reamortise.reamortise`
    (``from_date`` = the period start, ``next_due`` = its due date, mode
    ``reduce-installment``), keeping the installments before it unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Literal

from daihou.kernel.dates import add_months
from daihou.kernel.rates import RATE_CONTEXT

Repricing = Literal["anniversary", "january-1"]


def lpr_on(history: Sequence[tuple[str, date, Decimal]], tenor: str, on: date) -> Decimal:
    """The latest published LPR of ``tenor`` ("1y"/"5y") effective on or before ``on``.

    ``history`` holds ``(tenor, effective_on, rate)`` in any order. Two different rates
    of one tenor on the same date are an error, not a silent choice.
    """
    best: tuple[date, Decimal] | None = None
    for t, effective_on, rate in history:
        if t != tenor or effective_on > on:
            continue
        if best is None or effective_on > best[0]:
            best = (effective_on, rate)
        elif effective_on == best[0] and rate != best[1]:
            raise ValueError(
                f"history: two {tenor} LPRs effective on {effective_on.isoformat()}: "
                f"{best[1]} and {rate}"
            )
    if best is None:
        raise ValueError(f"tenor: no {tenor} LPR effective on or before {on.isoformat()}")
    return best[1]


def floating_rate(lpr: Decimal, spread_bps: int) -> Decimal:
    """LPR + spread in basis points (negative spreads allowed), exact; never below 0."""
    if isinstance(spread_bps, bool) or not isinstance(spread_bps, int):
        raise ValueError(f"spread_bps: {spread_bps!r} must be a whole number of basis points")
    rate = RATE_CONTEXT.add(lpr, Decimal(spread_bps).scaleb(-4))
    if rate < 0:
        raise ValueError(f"spread_bps: LPR {lpr} + {spread_bps} bp gives a negative rate {rate}")
    return rate


def repricing_dates(*, disbursed_on: date, repricing: Repricing, until: date) -> list[date]:
    """Repricing dates strictly after ``disbursed_on`` and on or before ``until``.

    ``anniversary``: ``add_months(disbursed_on, 12·k)`` (29 Feb → 28 Feb, and 29 Feb
    again in leap years); ``january-1``: every 1 January.
    """
    out: list[date] = []
    if repricing == "anniversary":
        k = 1
        while True:
            when = add_months(disbursed_on, 12 * k)
            if when > until:
                return out
            out.append(when)
            k += 1
    if repricing == "january-1":
        year = disbursed_on.year + 1
        while year <= until.year:
            out.append(date(year, 1, 1))
            year += 1
        return out
    raise ValueError(f"repricing: unknown {repricing!r}; expected 'anniversary' or 'january-1'")
