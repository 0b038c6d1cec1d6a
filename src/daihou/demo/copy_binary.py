"""PostgreSQL's binary ``COPY`` format, for the generated book's schedule (installments).

The server parses text ``COPY`` field by field (``int8in``, ``date_in``, …); in the
binary format each field arrives as its length and its value in network byte order, so
the server only copies it. Loading the installments of a 200k-loan book (4.7 M rows)
from a file took 13.3–13.4 s as text and 9.1–9.9 s as binary on PostgreSQL 15 (bench/
README.md, "The generator"). This module encodes the field types that table uses; the
rows are assembled in ``demo.copy_rows`` from pieces encoded once per template or date.

The stream: ``SIGNATURE`` (11-byte magic, flags, header extension length), then per
row a 16-bit field count and per field a 32-bit length (−1 for NULL) and the bytes,
then ``TRAILER``.
"""

from __future__ import annotations

import struct
from datetime import date

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
TRAILER = b"\xff\xff"
NULL = b"\xff\xff\xff\xff"
EPOCH = date(2000, 1, 1).toordinal()  # PostgreSQL dates count days from 2000-01-01

_INT4 = struct.Struct(">ii")
_INT8 = struct.Struct(">iq")
_LENGTH = struct.Struct(">i")
ROW_INT8 = struct.Struct(">hiq")
"""A row's field count and its first field, a ``bigint`` id: ``ROW_INT8.pack(n, 8, id)``."""


def int4(value: int) -> bytes:
    """An ``integer`` field."""
    return _INT4.pack(4, value)


def int8(value: int) -> bytes:
    """A ``bigint`` field."""
    return _INT8.pack(8, value)


def day(value: date | None) -> bytes:
    """A ``date`` field, or NULL."""
    return NULL if value is None else _INT4.pack(4, value.toordinal() - EPOCH)


def text(value: str | None) -> bytes:
    """A ``varchar``/``text`` field (UTF-8), or NULL."""
    if value is None:
        return NULL
    data = value.encode()
    return _LENGTH.pack(len(data)) + data
