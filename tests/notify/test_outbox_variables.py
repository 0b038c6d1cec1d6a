"""How a message's variables are stored: JSON-plain values, the same for every type."""

from __future__ import annotations

import enum
from collections import OrderedDict
from datetime import UTC, date, datetime
from decimal import Decimal

from daihou.notify.outbox import _plain


class Colour(enum.StrEnum):
    RED = "red"


def test_plain_values() -> None:
    when = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
    data = OrderedDict(
        name="王*",
        n=3,
        ok=True,
        ratio=0.5,
        none=None,
        amount=Decimal("1200.50"),
        tiny=Decimal("1E-2"),
        due=date(2026, 5, 15),
        at=when,
        methods=("bank", Decimal("2")),
        nested={1: [date(2026, 1, 2)]},
        colour=Colour.RED,
        other=object,
    )
    assert _plain(data) == {
        "name": "王*",
        "n": 3,
        "ok": True,
        "ratio": 0.5,
        "none": None,
        "amount": "1200.50",
        "tiny": "0.01",
        "due": "2026-05-15",
        "at": "2026-05-01T09:30:00+00:00",
        "methods": ["bank", "2"],
        "nested": {"1": ["2026-01-02"]},
        "colour": "red",
        "other": str(object),
    }
    assert type(_plain(True)) is bool and type(_plain(Colour.RED)) is Colour
