"""Exact column types that behave the same on SQLite and PostgreSQL.

SQLite has no decimal type (``NUMERIC`` falls back to binary floats), so money is
stored as an integer number of fen (分) in a ``BIGINT`` and rates as an integer number
of 1e-10 units. The ORM converts to and from ``Decimal``; set-based SQL (end of day)
works on the integers directly, which is exact and fast on both engines.

Identifiers and codes (``Code``) are compared byte by byte on PostgreSQL, as SQLite and
Python compare them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

RATE_SCALE = 10**10


class Money(TypeDecorator[Decimal]):
    """A ``Decimal`` amount with two decimals, stored as integer fen."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        amount = Decimal(value) if not isinstance(value, Decimal) else value
        fen = amount * 100
        if fen != fen.to_integral_value():
            raise ValueError(f"money value {value} has more than two decimals")
        return int(fen)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return (Decimal(int(value)) / 100).quantize(Decimal("0.01"))


class Rate(TypeDecorator[Decimal]):
    """A rate as a fraction (0.049 = 4.9%), stored as an integer of 1e-10 units."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        rate = Decimal(value) if not isinstance(value, Decimal) else value
        scaled = rate * RATE_SCALE
        if scaled != scaled.to_integral_value():
            raise ValueError(f"rate {value} has more than 10 decimals")
        return int(scaled)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return (Decimal(int(value)) / RATE_SCALE).normalize()


def Code(length: int) -> String:  # a type factory, named like the types it stands beside
    """A machine identifier or code (loan and customer ids, statuses, ledger accounts,
    keyed hashes): ASCII text that is only compared, never read by people.

    On PostgreSQL the column is ``COLLATE "C"``: ids order as SQLite and Python order
    them (by code point) whatever the database's collation, and comparisons, sorts and
    index builds are ``memcmp`` with abbreviated keys, where any other collation (the
    database's ``C.UTF-8`` here, or ``zh_CN.UTF-8``) goes through ``strcoll``. Equality
    is the same in every deterministic collation. Text people write or read
    (names, addresses, notes, memos, references) keeps the database's collation. Every
    column holding loan or customer ids uses this type (foreign keys copy it from the
    parent), so a join of two such columns can use either side's index: PostgreSQL uses
    an index only for comparisons in the index's own collation."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")
