"""The set-based accrual's floating-point amount is exact or flagged for the exact path."""

from __future__ import annotations

import random

from sqlalchemy import BigInteger, Engine, Float, literal, select
from sqlalchemy.orm import Session

from daihou.eod.accrual import DENOMINATOR, _amount, accrued_fen


def _cases() -> list[tuple[int, int, int]]:
    rng = random.Random(5)
    rates = [1_200_000_000, 1_800_000_000, 435_000_000, 720_000_000, 1_540_000_000, 385_000_000]
    out = []
    for _ in range(400):
        rate, markup = rng.choice(rates), rng.choice([3000, 5000])
        out.append((rng.randrange(1, 5 * 10**9), rate, markup))
    # exact ties: base × rate × (1 + markup) / 360 = k + 0.5 fen
    for rate, markup in ((1_200_000_000, 5000), (1_800_000_000, 5000), (720_000_000, 5000)):
        factor = rate * (10_000 + markup)
        for k in (0, 1, 312, 99_999, 4_000_000):
            num = (2 * k + 1) * DENOMINATOR  # 2 × base × factor must equal this
            if num % (2 * factor) == 0:
                out.append((num // (2 * factor), rate, markup))
    out.append((625_000, 1_200_000_000, 5000))  # 312.5 fen
    return out


def test_sql_amount_equals_exact_integer_rounding_or_is_flagged(engine: Engine) -> None:
    cases = _cases()
    flagged = 0
    with Session(engine) as s:
        for base, rate, markup in cases:
            factor = literal(rate * (10_000 + markup), BigInteger).cast(Float(53))
            fen, risky = _amount(s, literal(base, BigInteger), factor)
            got, flag = s.execute(select(fen, risky)).one()
            if flag:
                flagged += 1
                continue
            assert int(got) == accrued_fen(base, rate, markup), (base, rate, markup)
    assert 0 < flagged < len(cases) // 10  # the ties go the exact way, most rows do not
