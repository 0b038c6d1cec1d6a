"""Deterministic synthetic loan books: plausible, never real people.

Resident ID numbers carry a valid GB 11643 check digit but random birth dates and
serials; phone numbers are random mainland mobiles. Used by the demo, benchmarks and
tests.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

from daihou.loans.identity import ID_CHECK, ID_WEIGHTS
from daihou.loans.import_file import COLUMNS

REGIONS = {
    "110101": "北京市东城区",
    "310104": "上海市徐汇区",
    "440305": "深圳市南山区",
    "510107": "成都市武侯区",
    "330106": "杭州市西湖区",
    "420102": "武汉市江岸区",
}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"
EMPLOYERS = ("", "某科技有限公司", "某贸易有限公司", "某餐饮管理有限公司", "某建筑工程有限公司")
BORN_FROM = date(1965, 1, 1)  # birth dates drawn from BORN_DAYS days from here
BORN_DAYS = 35 * 365


def check_digit(body17: str) -> str:
    return ID_CHECK[sum(int(d) * w for d, w in zip(body17, ID_WEIGHTS, strict=True)) % 11]


def id_number(rng: random.Random, region: str) -> str:
    born = BORN_FROM + timedelta(days=rng.randrange(BORN_DAYS))
    body = f"{region}{born:%Y%m%d}{rng.randrange(1000):03d}"
    return body + check_digit(body)


def mobile(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"


def loan_rows(count: int, *, seed: int, business_date: date) -> Iterator[dict[str, str]]:
    """``count`` loans disbursed over the 3 years before ``business_date``: mostly
    consumer loans, some mortgages and interest-only business loans."""
    rng = random.Random(seed)
    customer_serial = 0
    customer: dict[str, str] = {}
    for n in range(1, count + 1):
        if not customer or rng.random() > 0.1:  # one customer in ten has two loans (共债)
            customer_serial += 1
            region = rng.choice(list(REGIONS))
            customer = {
                "customer_id": f"C{customer_serial:08d}",
                "customer_name": rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
                "id_number": id_number(rng, region),
                "phone": mobile(rng),
                "address": f"{REGIONS[region]}某街道{rng.randrange(1, 300)}号",
                "employer": rng.choice(EMPLOYERS),
            }
        kind = rng.random()
        spread = ""
        if kind < 0.8:
            product, method = "consumer", "equal-installment"
            term = rng.choice((12, 24, 36))
            principal = rng.randrange(50, 3000) * 100
            rate = f"{rng.choice(('7.2', '9.6', '12', '15.4', '18'))}%"
        elif kind < 0.9:
            product, method = "mortgage", rng.choice(("equal-installment", "equal-principal"))
            term = rng.choice((240, 300, 360))
            principal = rng.randrange(500, 3000) * 1000
            rate = f"{rng.choice(('3.85', '4.1', '4.2', '4.9'))}%"
            spread = rng.choice(("-30", "-20", "0", "30"))  # floating: 5y LPR + spread
        else:
            product, method = "business", "interest-only"
            term = rng.choice((12, 24, 36))
            principal = rng.randrange(100, 2000) * 1000
            rate = f"{rng.choice(('4.35', '5.5', '6'))}%"
        age = rng.randrange(30, min(3 * 365, term * 30))
        disbursed = business_date - timedelta(days=age)
        repayment_day = rng.choice(("", "", "", str(rng.randrange(1, 29))))
        yield {
            "loan_id": f"L{n:09d}",
            **customer,
            "product": product,
            "principal": f"{principal}.00",
            "annual_rate": rate,
            "term_months": str(term),
            "method": method,
            "disbursed_on": disbursed.isoformat(),
            "first_due_on": "",
            "repayment_day": repayment_day,
            "lpr_spread_bps": spread,
        }


def write_csv(path: Path, rows: Iterator[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path
