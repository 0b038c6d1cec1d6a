"""Reproducible PDF with Chinese text: reportlab platypus and the built-in CJK CID font.

``STSong-Light`` is one of the Adobe CID fonts every PDF reader has, so nothing is
embedded and nothing is downloaded. ``invariant=1`` fixes the creation date and the
document id, so the same blocks give the same bytes on every run and every machine.

A document is a list of blocks: ``("title", text)``, ``("heading", text)``,
``("para", text)``, ``("table", rows)``, ``("kv", [(label, value), ...])``,
``("space", points)``, ``("pagebreak", "")``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import (
    Flowable,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))

Block = tuple[str, Any]

_BODY = ParagraphStyle("body", fontName=FONT, fontSize=10.5, leading=16, wordWrap="CJK")
_TITLE = ParagraphStyle(
    "title", parent=_BODY, fontSize=18, leading=26, alignment=TA_CENTER, spaceAfter=10
)
_HEADING = ParagraphStyle("heading", parent=_BODY, fontSize=12.5, leading=20, spaceBefore=8)
_CELL = ParagraphStyle("cell", parent=_BODY, fontSize=9, leading=12)


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(str(text)).replace("\n", "<br/>"), style)


def _table(rows: Sequence[Sequence[Any]], width: float) -> Table:
    data = [[_p(str(cell), _CELL) for cell in row] for row in rows]
    columns = max(len(r) for r in rows)
    table = Table(data, colWidths=[width / columns] * columns, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def _kv(pairs: Sequence[Sequence[Any]], width: float) -> Table:
    data = [[_p(str(k), _CELL), _p(str(v), _CELL)] for k, v in pairs]
    table = Table(data, colWidths=[width * 0.3, width * 0.7])
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey)]))
    return table


def render(blocks: Sequence[Block], *, title: str, author: str, subject: str) -> bytes:
    """The PDF bytes of ``blocks`` — identical for identical arguments."""
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=20 * mm,
        bottomMargin=20 * mm,
        title=title,
        author=author,
        subject=subject,
        creator="daihou",
        producer="daihou (reportlab)",
        invariant=1,
    )
    width = doc.width
    story: list[Flowable] = []
    for kind, value in blocks:
        if kind == "title":
            story.append(_p(value, _TITLE))
        elif kind == "heading":
            story.append(_p(value, _HEADING))
        elif kind == "para":
            story.append(_p(value, _BODY))
        elif kind == "table":
            story.append(_table(value, width))
        elif kind == "kv":
            story.append(_kv(value, width))
        elif kind == "space":
            story.append(Spacer(1, float(value)))
        elif kind == "pagebreak":
            story.append(PageBreak())
        else:
            raise ValueError(f"unknown block kind {kind!r}")

    def footer(canvas: Any, document: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 8)
        canvas.drawCentredString(A4[0] / 2, 10 * mm, f"{title} · 第 {document.page} 页")
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
