"""The audit digests' JSON form: the fast path for common exact types converts every
value as the general chain does, so the hashes of the chain do not move."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, time
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Any
from uuid import UUID

import pytest

from daihou.compliance.audit.service import _jsonable, _jsonable_any, canonical_json, digest


class Colour(StrEnum):
    RED = "red"


class Level(IntEnum):
    HIGH = 3


class Amounts(dict[str, Any]):
    pass


@dataclasses.dataclass(frozen=True)
class Part:
    period: int | None
    amount: Decimal


VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -7,
    1.5,
    "文本",
    Decimal("5307.27"),
    Decimal("-0.00"),
    Decimal("1E+2"),
    date(2026, 12, 3),
    datetime(2026, 12, 3, 9, 5, 1, 12),
    time(9, 5),
    Colour.RED,
    Level.HIGH,
    UUID(int=5),
    b"\x00\xff",
    {1: Decimal("1.10"), "b": [date(2026, 1, 31), (None, "x")]},
    Amounts(principal=Decimal("3.00")),
    ((1, "principal", Decimal("100.00")), (None, "credit", Decimal("0.01"))),
    [Part(1, Decimal("2.50")), {"nested": {"deeper": (True, 2)}}],
    frozenset({"b", "a"}),
]


def _case_id(value: Any) -> str:
    # A set's repr follows string hashing, which differs between processes;
    # pytest-xdist needs every worker to collect the same ids.
    if isinstance(value, frozenset):
        return f"frozenset({sorted(value)!r})"
    return repr(value)


@pytest.mark.parametrize("value", VALUES, ids=_case_id)
def test_fast_path_converts_as_the_general_chain(value: Any) -> None:
    assert _jsonable(value) == _jsonable_any(value)
    assert type(_jsonable(value)) is type(_jsonable_any(value))


def test_a_postings_record_keeps_its_digest() -> None:
    after = {
        "loan_id": "L0001",
        "kind": "repayment",
        "amount": Decimal("5307.27"),
        "value_date": date(2026, 12, 3),
        "channel": "online",
        "reference": "R-1",
        "allocation": [(1, "interest", Decimal("4083.33")), (None, "credit", Decimal("1.00"))],
    }
    assert canonical_json(after) == (
        '{"allocation":[[1,"interest","4083.33"],[null,"credit","1.00"]],"amount":"5307.27",'
        '"channel":"online","kind":"repayment","loan_id":"L0001","reference":"R-1",'
        '"value_date":"2026-12-03"}'
    )
    # a dict subclass takes the general chain, the plain dict the fast path: same digest
    assert digest(after) == digest(Amounts(after))
