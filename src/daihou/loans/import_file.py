"""The loan-book file as read: its columns, the rows of text it holds and the errors that
reject it (row number as the user sees it — the header is row 1 —, field, message).

``read_rows`` reads a ``.csv`` (UTF-8 or GB18030) or ``.xlsx`` file; the checks of each
row are ``daihou.loans.importer``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

REQUIRED: tuple[str, ...] = (
    "loan_id",
    "customer_id",
    "customer_name",
    "id_number",
    "phone",
    "product",
    "principal",
    "annual_rate",
    "term_months",
    "method",
    "disbursed_on",
)
OPTIONAL: tuple[str, ...] = (
    "first_due_on",
    "repayment_day",
    "address",
    "employer",
    "lpr_spread_bps",
)
COLUMNS: tuple[str, ...] = REQUIRED + OPTIONAL

_HEADER_SEP = re.compile(r"[\s\-]+")
MESSAGE_LIMIT = 1000
"""At most this many errors are spelled out in ``str(ImportRejected)``; all are in ``.errors``."""


@dataclass(frozen=True, slots=True, order=True)
class RowError:
    row: int
    field: str
    message: str


class ImportRejected(ValueError):
    """The file was rejected and nothing was written; ``errors`` lists every problem."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        self.errors: list[RowError] = sorted(errors)
        super().__init__(_summary(self.errors))


def _summary(errors: Sequence[RowError]) -> str:
    rows = {e.row for e in errors}
    if rows == {1}:
        head = "file rejected, nothing imported:"
    else:
        count = len(rows - {1})
        head = f"{count} row{'s' if count != 1 else ''} rejected, nothing imported:"
    lines = [head] + [f"  row {e.row}, {e.field}: {e.message}" for e in errors[:MESSAGE_LIMIT]]
    if len(errors) > MESSAGE_LIMIT:
        lines.append(f"  … and {len(errors) - MESSAGE_LIMIT} more errors")
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One data row as read: column name → text ("" when empty)."""

    row: int
    values: dict[str, str]


def read_rows(path: Path) -> list[SourceRow]:
    """Read a ``.csv`` or ``.xlsx`` file into rows of text keyed by canonical column name.

    Header names are matched ignoring case, surrounding spaces and space/hyphen versus
    underscore. Unknown or missing columns raise ``ImportRejected`` (row 1). Blank rows
    are skipped but still counted, so row numbers match what the user sees.
    """
    suffix = path.suffix.lower()
    if suffix in {".xlsx", ".xlsm"}:
        table = _read_xlsx(path)
    elif suffix in {".csv", ".txt"}:
        table = _read_csv(path)
    else:
        raise ImportRejected([RowError(1, "file", f"{path.name}: expected a .csv or .xlsx file")])
    header = next(table, None)
    if header is None:
        raise ImportRejected([RowError(1, "file", f"{path.name} is empty")])
    columns = _columns(header)
    named = {i for i, _ in columns}
    rows: list[SourceRow] = []
    stray: list[RowError] = []
    for number, cells in enumerate(table, start=2):
        if not any(cells):
            continue
        if any(cell for i, cell in enumerate(cells) if i not in named):
            stray.append(RowError(number, "file", "a cell lies in a column without a header"))
        values = {name: (cells[i] if i < len(cells) else "") for i, name in columns}
        rows.append(SourceRow(number, values))
    if stray:
        raise ImportRejected(stray)
    return rows


def _columns(header: list[str]) -> list[tuple[int, str]]:
    errors: list[RowError] = []
    found: dict[str, int] = {}
    for i, raw in enumerate(header):
        name = _HEADER_SEP.sub("_", raw.strip().lower())
        if not name:
            continue
        if name not in COLUMNS:
            errors.append(
                RowError(1, raw.strip(), f"unknown column; expected {', '.join(COLUMNS)}")
            )
        elif name in found:
            errors.append(RowError(1, name, "column appears twice"))
        else:
            found[name] = i
    missing = [c for c in REQUIRED if c not in found]
    if missing:
        errors.append(RowError(1, "header", f"missing required columns: {', '.join(missing)}"))
    if errors:
        raise ImportRejected(errors)
    return [(i, name) for name, i in found.items()]


NOT_TEXT = "not UTF-8 or GB18030 text; save the CSV as UTF-8"


def csv_text(data: bytes) -> str | None:
    """The text of a CSV file written in UTF-8 (with or without a BOM) or in GB18030, as
    Excel on a Chinese Windows saves it; None when it is neither."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def _read_csv(path: Path) -> Iterator[list[str]]:
    text = csv_text(path.read_bytes())
    if text is None:
        raise ImportRejected([RowError(1, "file", NOT_TEXT)])
    for cells in csv.reader(io.StringIO(text, newline="")):
        yield [c.strip() for c in cells]


def _read_xlsx(path: Path) -> Iterator[list[str]]:
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        for cells in sheet.iter_rows(values_only=True):
            yield [_cell_text(c) for c in cells]
    finally:
        workbook.close()


def _cell_text(value: object) -> str:
    """Spreadsheet cell → text. Numbers keep the digits the user typed (repr of a float
    is the shortest text that round-trips); dates become ISO dates."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value).strip()
