"""Render the notice sign as HTML, PNG (Pillow) or PDF (fpdf2, font embedded).

A3 is the sign to post at the gate: under the title a large banner, "人脸识别区域 / Face
recognition zone", marks where faces are processed, and the body starts at 26 pt (about
9 mm tall Chinese characters), shrinking to no less than 12 pt to fit one page. A4 (18 down
to 10 pt) and A5 (12 down to 8 pt, two pages when needed) are hand-outs with the same complete
text. The paragraph
on PIN and card entry is highlighted: it is the right the sign most needs to carry (Art. 10).
"""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ..config.notice import Language
from .fonts import CJKFont, find_cjk_font
from .layout import PAGE_SIZES_PT, Measure, Op, RectOp, TextOp, mm, wrap
from .notice_text import NoticeBundle

if TYPE_CHECKING:
    from fpdf import FPDF

__all__ = [
    "BODY_SIZES",
    "PageSize",
    "layout_notice",
    "render_html",
    "render_notice",
    "render_pdf",
    "render_png",
]

logger = logging.getLogger(__name__)

PageSize = Literal["A3", "A4", "A5"]
Format = Literal["pdf", "png", "html"]

# (largest, smallest) body size in points per page size.
BODY_SIZES: dict[str, tuple[float, float]] = {
    "A3": (26.0, 12.0),
    "A4": (18.0, 10.0),
    "A5": (12.0, 8.0),
}
MARGIN_MM: dict[str, float] = {"A3": 16.0, "A4": 12.0, "A5": 8.0}
BANNER = "人脸识别区域 / Face recognition zone"
ORANGE = (214, 92, 0)

BLUE = (11, 79, 138)
WHITE = (255, 255, 255)
BLACK = (20, 20, 20)
GREY = (90, 90, 90)
HIGHLIGHT = (255, 243, 191)


def layout_notice(
    bundle: NoticeBundle, lang: Language, page: PageSize, measure: Measure
) -> list[list[Op]]:
    """Position the sign on pages, at the largest body size that fits one page.

    Returns:
        One list of drawing operations per page (usually one page).
    """
    big, small = BODY_SIZES[page]
    size = big
    while True:
        pages = _layout_at(bundle, lang, page, measure, size)
        if len(pages) == 1:
            return pages
        if size <= small:
            break
        size = max(small, size - 0.5)
    # Still too long at the smallest size: tighten the spacing before taking a second page.
    tight = _layout_at(bundle, lang, page, measure, small, line=1.25)
    if len(tight) > 1:
        logger.warning(
            "notice does not fit one %s page at %.1f pt; it takes %d pages (shorten the "
            "free-text fields to keep one page)",
            page,
            small,
            len(tight),
        )
    return tight


def _layout_at(
    bundle: NoticeBundle,
    lang: Language,
    page: PageSize,
    measure: Measure,
    body: float,
    *,
    line: float = 1.38,
) -> list[list[Op]]:
    text = bundle.text(lang)
    width, height = PAGE_SIZES_PT[page]
    margin = mm(MARGIN_MM[page])
    inner = width - 2 * margin
    title_size = body * 1.75
    sub_size = body * 0.95
    head_size = body * 1.12
    foot_size = max(10.0, body * 0.6)
    gap = 0.55 if line > 1.3 else 0.35
    pages: list[list[Op]] = [[]]
    ops = pages[0]

    # Title band.
    title_lines = wrap(text.title, inner - 2 * mm(4), title_size, measure)
    site_lines = wrap(text.site_name, inner - 2 * mm(4), sub_size, measure)
    band_h = mm(4) * 2 + len(title_lines) * title_size * 1.2 + len(site_lines) * sub_size * 1.3
    ops.append(RectOp(margin, margin, inner, band_h, BLUE))
    y = margin + mm(4)
    for t in title_lines:
        ops.append(TextOp(margin + mm(4), y, t, title_size, WHITE))
        y += title_size * 1.2
    for t in site_lines:
        ops.append(TextOp(margin + mm(4), y, t, sub_size, WHITE))
        y += sub_size * 1.3
    y = margin + band_h + body * 0.5

    # The zone banner: where faces are processed, large enough to see from the approach.
    banner_size = title_size * 1.05
    banner_lines = wrap(BANNER, inner - 2 * mm(4), banner_size, measure)
    banner_h = mm(3) * 2 + len(banner_lines) * banner_size * 1.2
    ops.append(RectOp(margin, y, inner, banner_h, ORANGE))
    by = y + mm(3)
    for t in banner_lines:
        ops.append(TextOp(margin + mm(4), by, t, banner_size, WHITE))
        by += banner_size * 1.2
    y += banner_h + body * 0.8

    bottom = height - margin - foot_size * 2.8
    for item in text.items:
        heads = wrap(item.heading, inner, head_size, measure)
        pad = mm(2.5) if item.key == "alternatives" else 0.0
        lines = wrap(item.body, inner - 2 * pad, body, measure)
        block_h = len(heads) * head_size * 1.25 + len(lines) * body * line + 2 * pad
        if y + block_h > bottom and ops:
            pages.append([])
            ops = pages[-1]
            y = margin
        if pad:
            ops.append(RectOp(margin, y - pad / 2, inner, block_h, HIGHLIGHT))
        for h in heads:
            ops.append(TextOp(margin + pad, y + pad / 2, h, head_size, BLUE))
            y += head_size * 1.25
        for t in lines:
            ops.append(TextOp(margin + pad, y + pad / 2, t, body, BLACK))
            y += body * line
        y += 2 * pad + body * gap

    footer = bundle.footer(lang)
    fy = height - margin - foot_size * 1.3
    ops.append(RectOp(margin, fy - foot_size * 0.5, inner, 0.8, GREY))
    for t in wrap(footer, inner, foot_size, measure):
        ops.append(TextOp(margin, fy, t, foot_size, GREY))
        fy += foot_size * 1.3
    return pages


# -- PDF -------------------------------------------------------------------------------------


def _new_pdf(page: PageSize, font: CJKFont) -> FPDF:
    from fpdf import FPDF

    w, h = PAGE_SIZES_PT[page]
    pdf = FPDF(unit="pt", format=(w, h))
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    pdf.add_font("cjk", "", str(font.path), collection_font_number=font.index)
    pdf.set_font("cjk", size=12)
    return pdf


def _pdf_measure(pdf: FPDF) -> Measure:
    def measure(text: str, size: float) -> float:
        pdf.set_font_size(size)
        return float(pdf.get_string_width(text))

    return measure


def draw_pdf_ops(pdf: FPDF, pages: list[list[Op]]) -> None:
    """Draw laid-out pages on an fpdf2 document whose font ``cjk`` is set."""
    for ops in pages:
        pdf.add_page()
        for op in ops:
            if isinstance(op, RectOp):
                pdf.set_fill_color(*op.color)
                pdf.rect(op.x, op.y, op.w, op.h, style="F")
            else:
                pdf.set_font_size(op.size)
                pdf.set_text_color(*op.color)
                pdf.text(op.x, op.baseline, op.text)


def render_pdf(
    bundle: NoticeBundle, lang: Language, out: Path, *, page: PageSize = "A4"
) -> list[Path]:
    """Write the sign as a PDF with the CJK font embedded.

    Raises:
        FontNotFoundError: no CJK font is installed (the message names the package).
    """
    font = find_cjk_font()
    pdf = _new_pdf(page, font)
    pages = layout_notice(bundle, lang, page, _pdf_measure(pdf))
    draw_pdf_ops(pdf, pages)
    pdf.set_title(bundle.text(lang).title)
    pdf.set_subject(f"notice version {bundle.version}")
    pdf.set_creator("facegate")
    pdf.output(str(out))
    return [out]


# -- PNG -------------------------------------------------------------------------------------


def render_png(
    bundle: NoticeBundle, lang: Language, out: Path, *, page: PageSize = "A4", dpi: int = 150
) -> list[Path]:
    """Write the sign as PNG at ``dpi``; a second page, if any, goes to ``<stem>-2.png``.

    Raises:
        FontNotFoundError: no CJK font is installed (the message names the package).
    """
    from PIL import Image, ImageDraw, ImageFont

    font = find_cjk_font()
    scale = dpi / 72.0
    cache: dict[int, ImageFont.FreeTypeFont] = {}

    def face(size_pt: float) -> ImageFont.FreeTypeFont:
        px = max(1, round(size_pt * scale))
        if px not in cache:
            cache[px] = ImageFont.truetype(str(font.path), px, index=font.index)
        return cache[px]

    def measure(text: str, size: float) -> float:
        return float(face(size).getlength(text)) / scale

    pages = layout_notice(bundle, lang, page, measure)
    w, h = PAGE_SIZES_PT[page]
    written: list[Path] = []
    for n, ops in enumerate(pages, start=1):
        img = Image.new("RGB", (round(w * scale), round(h * scale)), WHITE)
        draw = ImageDraw.Draw(img)
        for op in ops:
            if isinstance(op, RectOp):
                draw.rectangle(
                    (op.x * scale, op.y * scale, (op.x + op.w) * scale, (op.y + op.h) * scale),
                    fill=op.color,
                )
            else:
                draw.text(
                    (op.x * scale, op.baseline * scale),
                    op.text,
                    font=face(op.size),
                    fill=op.color,
                    anchor="ls",
                )
        path = out if n == 1 else out.with_name(f"{out.stem}-{n}{out.suffix}")
        img.save(path, format="PNG", dpi=(dpi, dpi))
        written.append(path)
    return written


# -- HTML ------------------------------------------------------------------------------------

_FONT_STACK = (
    '"Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "PingFang SC", '
    '"Microsoft YaHei", sans-serif'
)


def render_html(
    bundle: NoticeBundle, lang: Language, out: Path | None = None, *, page: PageSize = "A4"
) -> str:
    """The sign as one self-contained HTML page with print CSS for A4 or A5.

    Uses the system's CJK font by name (nothing is fetched). Written to ``out`` when given.
    """
    text = bundle.text(lang)
    big, _small = BODY_SIZES[page]
    margin = MARGIN_MM[page]
    esc = html.escape
    items = "\n".join(
        f'<section class="item {esc(it.key)}"><h2>{esc(it.heading)}</h2>'
        f"<p>{esc(it.body)}</p></section>"
        for it in text.items
    )
    doc = f"""<!DOCTYPE html>
<html lang="{esc(lang)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="facegate-notice-version" content="{esc(bundle.version)}">
<title>{esc(text.title)}</title>
<style>
@page {{ size: {page}; margin: {margin}mm; }}
html {{ font-family: {_FONT_STACK}; color: #141414; background: #fff; }}
body {{ margin: 0 auto; max-width: 60em; font-size: {big:.0f}pt; line-height: 1.38; }}
header {{ background: #0b4f8a; color: #fff; padding: 4mm; }}
header h1 {{ font-size: 1.75em; margin: 0; line-height: 1.2; }}
header p {{ font-size: 0.95em; margin: 0.2em 0 0; }}
.banner {{ background: #d65c00; color: #fff; font-size: 1.8em; font-weight: bold;
  padding: 3mm 4mm; margin-top: 0.4em; }}
h2 {{ color: #0b4f8a; font-size: 1.12em; margin: 0.6em 0 0; }}
p {{ margin: 0; }}
.alternatives {{ background: #fff3bf; padding: 2.5mm; margin-top: 0.5em; }}
footer {{ color: #5a5a5a; font-size: 0.6em; border-top: 1px solid #5a5a5a; margin-top: 1em;
  padding-top: 0.3em; }}
@media screen {{ body {{ padding: 1em; }} }}
</style>
</head>
<body>
<header><h1>{esc(text.title)}</h1><p>{esc(text.site_name)}</p></header>
<div class="banner">{esc(BANNER)}</div>
<main>
{items}
</main>
<footer>{esc(bundle.footer(lang))}</footer>
</body>
</html>
"""
    if out is not None:
        out.write_text(doc, encoding="utf-8")
    return doc


def render_notice(
    bundle: NoticeBundle,
    lang: Language,
    fmt: Format,
    out: Path,
    *,
    page: PageSize = "A4",
    dpi: int = 150,
) -> list[Path]:
    """Render the sign in ``fmt`` (pdf, png or html) to ``out``; returns the files written.

    Raises:
        FontNotFoundError: PDF or PNG without a CJK font installed.
        KeyError: ``lang`` is not configured in ``notice.languages``.
    """
    bundle.text(lang)  # fail early on an unconfigured language
    if fmt == "pdf":
        return render_pdf(bundle, lang, out, page=page)
    if fmt == "png":
        return render_png(bundle, lang, out, page=page, dpi=dpi)
    render_html(bundle, lang, out, page=page)
    return [out]
