"""Interest rates: parse what people type, convert annual ↔ monthly exactly.

Rates are fractions (``Decimal("0.049")`` is 4.9 % a year, 年利率). A monthly rate
(月利率, 月息, often written in per mille: "5‰") converts to annual by × 12 exactly.
A bare number ≥ 1 such as "4.9" is refused: it could mean 4.9 % or 490 %, and a
schedule built on the wrong one is a costly mistake.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Context, Decimal, DivisionByZero, InvalidOperation, Overflow
from typing import Literal

# 34 significant digits (IEEE decimal128): monthly rates are carried at this precision
# and never rounded; only money is rounded, to the fen, with the product's mode.
RATE_CONTEXT = Context(
    prec=34, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow]
)

_TWELVE = Decimal(12)
_ONE = Decimal(1)
_NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)")
_PERCENT = ("%", "％")
_PER_MILLE = ("‰",)


def annual_from_monthly(monthly: Decimal) -> Decimal:
    """Annual rate of a monthly rate (月利率 × 12), exact."""
    return RATE_CONTEXT.multiply(monthly, _TWELVE)


def monthly_rate(annual: Decimal) -> Decimal:
    """Monthly rate of an annual rate (年利率 / 12) at 34 significant digits, unrounded."""
    return RATE_CONTEXT.divide(annual, _TWELVE)


def parse_rate(
    text: str, *, kind: Literal["annual", "monthly"] = "annual", field: str = "rate"
) -> Decimal:
    """Parse a typed rate into an **annual** fraction.

    Accepts "4.9%", "0.049", "5‰" (with surrounding spaces; "％" too). With
    ``kind="monthly"`` the text is a monthly rate (月息) and the result is that rate
    × 12, so "5‰" monthly gives 0.06. Zero is allowed (interest-free). Errors name
    ``field``: a bare number ≥ 1, a negative rate, NaN or garbage, and an annual rate
    of 100 % or more.
    """
    if kind not in ("annual", "monthly"):
        raise ValueError(f"{field}: kind must be 'annual' or 'monthly', not {kind!r}")
    raw = text.strip() if isinstance(text, str) else text
    if not isinstance(raw, str) or not raw:
        raise ValueError(f'{field}: {text!r} is not a rate; write e.g. "4.9%" or "0.049"')
    scale = 0
    body = raw
    if body.endswith(_PERCENT):
        scale, body = -2, body[:-1].rstrip()
    elif body.endswith(_PER_MILLE):
        scale, body = -3, body[:-1].rstrip()
    if body.startswith("-"):
        raise ValueError(f"{field}: {text!r} is negative; a rate must be zero or more")
    if body.startswith("+"):
        body = body[1:]
    if not _NUMBER.fullmatch(body):
        raise ValueError(f'{field}: {text!r} is not a rate; write e.g. "4.9%", "0.049" or "5‰"')
    number = Decimal(body)
    if scale == 0 and number >= _ONE:
        raise ValueError(
            f'{field}: {text!r} is ambiguous; write "{body}%" for {body} percent or '
            f'"{number.scaleb(-2)}" as a fraction'
        )
    value = number.scaleb(scale)
    annual = annual_from_monthly(value) if kind == "monthly" else value
    if annual >= _ONE:
        shown = f" (× 12 = {annual.scaleb(2).normalize():f}% a year)" if kind == "monthly" else ""
        raise ValueError(f"{field}: {text!r}{shown} is 100% a year or more")
    return annual
