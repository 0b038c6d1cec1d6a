"""The simulator's loan book: loans disbursed during the month before the simulation
starts, so every repayment they make happens inside it (the first due dates fall in
the first simulated month, and the 15- and 7-day reminders before a first due date are
exercised). Customers are synthetic (``daihou.demo.synthetic``); never real people.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta

from daihou.demo.synthetic import EMPLOYERS, GIVEN, REGIONS, SURNAMES, id_number, mobile

# (product, share, methods, terms, principal range in CNY, annual rates in %)
ProductSpec = tuple[str, float, tuple[str, ...], tuple[int, ...], tuple[int, int], tuple[str, ...]]
PRODUCTS: tuple[ProductSpec, ...] = (
    ("consumer", 0.70, ("equal-installment",), (12, 24, 36), (5_000, 300_000),
     ("7.2", "9.6", "12", "15.4", "18")),
    ("card", 0.20, ("equal-installment",), (3, 6, 12), (2_000, 60_000),
     ("13.5", "16.2", "18")),
    ("mortgage", 0.10, ("equal-installment", "equal-principal"), (240, 300, 360),
     (500_000, 3_000_000), ("3.85", "4.1", "4.2")),
)  # fmt: skip


def sim_loan_rows(count: int, *, seed: int, start: date) -> Iterator[dict[str, str]]:
    """``count`` loans disbursed over the 30 days before ``start``."""
    rng = random.Random(seed)
    serial = 0
    customer: dict[str, str] = {}
    for n in range(1, count + 1):
        if not customer or rng.random() > 0.08:  # about one customer in twelve has two loans
            serial += 1
            region = rng.choice(list(REGIONS))
            customer = {
                "customer_id": f"C{serial:08d}",
                "customer_name": rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
                "id_number": id_number(rng, region),
                "phone": mobile(rng),
                "address": f"{REGIONS[region]}某街道{rng.randrange(1, 300)}号",
                "employer": rng.choice(EMPLOYERS),
            }
        x, acc = rng.random(), 0.0
        product, _, methods, terms, (low, high), rates = PRODUCTS[-1]
        for spec in PRODUCTS:
            acc += spec[1]
            if x < acc:
                product, _, methods, terms, (low, high), rates = spec
                break
        principal = rng.randrange(low // 100, high // 100 + 1) * 100
        yield {
            "loan_id": f"L{n:09d}",
            **customer,
            "product": product,
            "principal": f"{principal}.00",
            "annual_rate": f"{rng.choice(rates)}%",
            "term_months": str(rng.choice(terms)),
            "method": rng.choice(methods),
            "disbursed_on": (start - timedelta(days=rng.randrange(1, 31))).isoformat(),
            "first_due_on": "",
            "repayment_day": "",
            "lpr_spread_bps": rng.choice(("-30", "0", "30")) if product == "mortgage" else "",
        }
