"""A small Markdown-to-PDF writer for the PIA and the filing report (fpdf2, CJK font embedded).

It understands exactly what ``documents`` writes: ``#``/``##``/``###`` headings, paragraphs,
``-`` bullets, pipe tables and ``---`` rules; ``**`` and backticks are dropped. Lines holding a
``【待填写 / TO FILL …】`` marker are shaded, so the fields the operator must complete stand
out on paper too.
"""

from __future__ import annotations

import re
from pathlib import Path

from .fonts import find_cjk_font
from .layout import PAGE_SIZES_PT, Measure, Op, RectOp, TextOp, mm, wrap
from .notice_render import draw_pdf_ops

__all__ = ["TO_FILL_MARK", "layout_markdown", "markdown_to_pdf"]

TO_FILL_MARK = "【待填写"

BODY = 10.5
SIZES = {1: 17.0, 2: 14.0, 3: 12.0}
INK = (20, 20, 20)
BLUE = (11, 79, 138)
RULE = (150, 150, 150)
FILL = (255, 236, 179)


def _clean(text: str) -> str:
    return text.replace("**", "").replace("`", "")


def _cells(line: str) -> list[str]:
    return [_clean(c.strip()) for c in line.strip().strip("|").split("|")]


def layout_markdown(md: str, measure: Measure, *, page: str = "A4") -> list[list[Op]]:
    """Lay out Markdown on pages of ``page`` size; returns drawing operations per page."""
    width, height = PAGE_SIZES_PT[page]
    margin = mm(18)
    inner = width - 2 * margin
    bottom = height - margin
    pages: list[list[Op]] = [[]]
    y = margin

    def need(h: float) -> None:
        nonlocal y
        if y + h > bottom:
            pages.append([])
            y = margin

    def emit_lines(lines: list[str], x: float, size: float, color: tuple[int, int, int]) -> None:
        nonlocal y
        for ln in lines:
            need(size * 1.45)
            if TO_FILL_MARK in ln:
                pages[-1].append(RectOp(x - 2, y - 1, inner - (x - margin) + 4, size * 1.4, FILL))
            pages[-1].append(TextOp(x, y, ln, size, color))
            y += size * 1.45

    lines = md.splitlines()
    i = 0
    while i < len(lines):
        raw = lines[i].rstrip()
        if not raw.strip():
            y += BODY * 0.5
            i += 1
            continue
        m = re.match(r"^(#{1,3})\s+(.*)$", raw)
        if m:
            level = len(m.group(1))
            size = SIZES[level]
            y += size * 0.5
            need(size * 3)  # keep a heading with what follows
            emit_lines(wrap(_clean(m.group(2)), inner, size, measure), margin, size, BLUE)
            y += size * 0.2
            i += 1
            continue
        if raw.strip() in ("---", "***"):
            need(BODY)
            pages[-1].append(RectOp(margin, y + BODY * 0.4, inner, 0.6, RULE))
            y += BODY
            i += 1
            continue
        if raw.lstrip().startswith("|"):
            rows: list[list[str]] = []
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                cells = _cells(lines[i])
                if not all(re.fullmatch(r":?-{2,}:?", c) for c in cells if c):
                    rows.append(cells)
                i += 1
            _table(rows, pages, measure, margin, inner, bottom, y_ref := [y])
            y = y_ref[0] + BODY * 0.4
            continue
        bullet = re.match(r"^(\s*)[-*]\s+(.*)$", raw)
        if bullet:
            indent = margin + mm(4) + len(bullet.group(1)) * mm(2)
            body = wrap(_clean(bullet.group(2)), inner - (indent - margin), BODY, measure)
            need(BODY * 1.45)
            pages[-1].append(TextOp(indent - mm(3.5), y, "•", BODY, INK))
            emit_lines(body, indent, BODY, INK)
            i += 1
            continue
        emit_lines(wrap(_clean(raw.strip()), inner, BODY, measure), margin, BODY, INK)
        i += 1
    return pages


def _table(
    rows: list[list[str]],
    pages: list[list[Op]],
    measure: Measure,
    margin: float,
    inner: float,
    bottom: float,
    y_ref: list[float],
) -> None:
    if not rows:
        return
    ncol = max(len(r) for r in rows)
    size = BODY * 0.95

    # Each column gets at least its longest unbreakable word; the rest is shared in
    # proportion to the longest cell text.
    def cell(r: list[str], c: int) -> str:
        return r[c] if c < len(r) else ""

    floor = [
        max((measure(w, size) for r in rows for w in cell(r, c).split()), default=0.0) + 8
        for c in range(ncol)
    ]
    longest = [max(measure(cell(r, c), size) for r in rows) + 8 for c in range(ncol)]
    if sum(floor) >= inner:
        widths = [inner * f / sum(floor) for f in floor]
    else:
        spare = inner - sum(floor)
        extra = [max(0.0, lg - f) for lg, f in zip(longest, floor, strict=True)]
        total = sum(extra) or 1.0
        widths = [f + spare * e / total for f, e in zip(floor, extra, strict=True)]
    y = y_ref[0]
    for n, row in enumerate(rows):
        wrapped = [
            wrap(row[c] if c < len(row) else "", widths[c] - 6, size, measure) for c in range(ncol)
        ]
        h = max(len(w) for w in wrapped) * size * 1.4 + 4
        if y + h > bottom:
            pages.append([])
            y = mm(18)
        if n == 0:
            pages[-1].append(RectOp(margin, y, inner, h, (225, 234, 245)))
        x = margin
        for c in range(ncol):
            fill = any(TO_FILL_MARK in ln for ln in wrapped[c])
            if fill:
                pages[-1].append(RectOp(x, y, widths[c], h, FILL))
            ty = y + 2
            for ln in wrapped[c]:
                pages[-1].append(TextOp(x + 3, ty, ln, size, INK))
                ty += size * 1.4
            x += widths[c]
        pages[-1].append(RectOp(margin, y + h, inner, 0.5, RULE))
        y += h
    y_ref[0] = y


def markdown_to_pdf(md: str, out: Path, *, title: str, page: str = "A4") -> Path:
    """Write ``md`` as a PDF at ``out`` with the CJK font embedded.

    Raises:
        FontNotFoundError: no CJK font is installed (the message names the package).
    """
    from fpdf import FPDF

    font = find_cjk_font()
    w, h = PAGE_SIZES_PT[page]
    pdf = FPDF(unit="pt", format=(w, h))
    pdf.set_auto_page_break(False)
    pdf.add_font("cjk", "", str(font.path), collection_font_number=font.index)
    pdf.set_font("cjk", size=BODY)

    def measure(text: str, size: float) -> float:
        pdf.set_font_size(size)
        return float(pdf.get_string_width(text))

    pages = layout_markdown(md, measure, page=page)
    # Page numbers, so a printed, signed copy is complete.
    total = len(pages)
    for n, ops in enumerate(pages, start=1):
        label = f"{n} / {total}"
        ops.append(TextOp(w - mm(18) - measure(label, 8.0), h - mm(12), label, 8.0, RULE))
    draw_pdf_ops(pdf, pages)
    pdf.set_title(title)
    pdf.set_creator("facegate")
    pdf.output(str(out))
    return out
