"""Money helpers: ``Decimal`` only, every rounding names its mode.

Amounts are carried as ``Decimal`` built from ``str``/``int``; posted amounts have two
decimals (fen, 分). The rounding mode comes from the product's policy (default
``ROUND_HALF_UP``, 四舍五入).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Decimal,
    InvalidOperation,
)

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

ROUNDING_MODES: dict[str, str] = {
    "half-up": ROUND_HALF_UP,
    "half-even": ROUND_HALF_EVEN,
    "down": ROUND_DOWN,
    "up": ROUND_UP,
    "floor": ROUND_FLOOR,
    "ceiling": ROUND_CEILING,
}
DEFAULT_ROUNDING = ROUND_HALF_UP


def rounding_mode(name: str) -> str:
    """Map a policy name (``half-up``…) to a ``decimal`` rounding constant."""
    try:
        return ROUNDING_MODES[name]
    except KeyError:
        raise ValueError(
            f"unknown rounding mode {name!r}; expected one of {sorted(ROUNDING_MODES)}"
        ) from None


def to_money(value: object, *, field: str = "amount") -> Decimal:
    """Parse a money amount exactly; reject floats, NaN, infinities and sub-fen digits."""
    if isinstance(value, float):
        raise TypeError(f"{field}: floats are not money; pass a str or Decimal")
    try:
        amount = (
            value if isinstance(value, Decimal) else Decimal(str(value).strip().replace(",", ""))
        )
    except InvalidOperation:
        raise ValueError(f"{field}: {value!r} is not a number") from None
    if not amount.is_finite():
        raise ValueError(f"{field}: {value!r} is not a finite number")
    if amount != amount.quantize(CENT, rounding=ROUND_DOWN):
        raise ValueError(f"{field}: {value!r} has more than two decimals")
    return amount.quantize(CENT)


def q2(value: Decimal, rounding: str = DEFAULT_ROUNDING) -> Decimal:
    """Round to the fen with an explicit mode."""
    return value.quantize(CENT, rounding=rounding)


def to_fen(value: Decimal) -> int:
    """Integer fen for vectorised code; the value must already be in whole fen."""
    fen = value * 100
    if fen != fen.to_integral_value():
        raise ValueError(f"{value} is not a whole number of fen")
    return int(fen)


def from_fen(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(CENT)


def split_largest_remainder(total: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """Split ``total`` (in fen) across ``weights`` so the parts sum exactly to ``total``.

    Each part is first rounded down to the fen; the fen left over go one by one to the
    parts with the largest remainders (ties: earlier part first).
    """
    if not weights:
        raise ValueError("weights must not be empty")
    if any(w < 0 for w in weights):
        raise ValueError("weights must not be negative")
    weight_sum = sum(weights, Decimal(0))
    if weight_sum == 0:
        raise ValueError("weights must not all be zero")
    total_fen = to_fen(total)
    sign = -1 if total_fen < 0 else 1
    exact = [Decimal(abs(total_fen)) * w / weight_sum for w in weights]
    floors = [int(e.to_integral_value(rounding=ROUND_FLOOR)) for e in exact]
    left = abs(total_fen) - sum(floors)
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return [from_fen(sign * f) for f in floors]


def fmt(value: Decimal) -> str:
    """Two decimals, no thousands separator (stable for JSON/CSV)."""
    return f"{value.quantize(CENT):f}"
