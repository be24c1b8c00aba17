"""Page layout shared by the PDF and PNG renderers: line wrapping and positioned text.

Both renderers draw the same list of :class:`TextOp` / :class:`RectOp` (points, origin at the
top left), so a PNG and a PDF of the sign look the same. Wrapping knows CJK: a line may break
between any two Chinese characters, Latin words stay whole, and closing punctuation never
starts a line (nor opening punctuation end one).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "PAGE_SIZES_PT",
    "Measure",
    "Op",
    "RectOp",
    "TextOp",
    "mm",
    "wrap",
]

# Width, height in points (1 pt = 1/72 inch).
PAGE_SIZES_PT: dict[str, tuple[float, float]] = {
    "A3": (841.89, 1190.55),
    "A4": (595.28, 841.89),
    "A5": (419.53, 595.28),
}

Measure = Callable[[str, float], float]
"""``measure(text, size_pt) -> width_pt`` for the font in use."""

# Phone numbers ("0571-8888 6666") stay whole, then Latin words, spaces, single characters.
_TOKEN = re.compile(r"\+?\d[\d\- ]*\d(?![A-Za-z])|[A-Za-z0-9@.,_%+\-/:'’()&#]+|\s+|.", re.DOTALL)
_NO_LINE_START = set("，。、；：！？）》」』”’,.;:!?)%…·")
_NO_LINE_END = set("（《「『“‘(")


def mm(value: float) -> float:
    """Millimetres to points."""
    return value * 72.0 / 25.4


@dataclass(slots=True, frozen=True)
class TextOp:
    """One line of text; ``y`` is the top of the line box, ``size`` the font size (pt)."""

    x: float
    y: float
    text: str
    size: float
    color: tuple[int, int, int] = (0, 0, 0)

    @property
    def baseline(self) -> float:
        return self.y + self.size * 0.9


@dataclass(slots=True, frozen=True)
class RectOp:
    """A filled rectangle."""

    x: float
    y: float
    w: float
    h: float
    color: tuple[int, int, int]


Op = TextOp | RectOp


def _tokens(text: str) -> list[str]:
    raw = _TOKEN.findall(text)
    out: list[str] = []
    for tok in raw:
        if (out and tok and tok[0] in _NO_LINE_START and not out[-1].isspace()) or (
            out and out[-1] and out[-1][-1] in _NO_LINE_END
        ):
            out[-1] += tok
        else:
            out.append(tok)
    return out


def wrap(text: str, width: float, size: float, measure: Measure) -> list[str]:
    """Break ``text`` into lines no wider than ``width`` points at ``size``.

    Explicit newlines are kept. A token wider than a whole line is cut character by character.
    """
    lines: list[str] = []
    for para in text.split("\n"):
        line = ""
        for tok in _tokens(para):
            candidate = line + tok
            if measure(candidate.rstrip(), size) <= width or not line.strip():
                if not line.strip() and measure(tok.strip(), size) > width:
                    # A single token longer than a line: cut it.
                    for ch in tok:
                        if measure(line + ch, size) > width and line:
                            lines.append(line.rstrip())
                            line = ""
                        line += ch
                    continue
                line = candidate
                continue
            lines.append(line.rstrip())
            line = tok.lstrip()
            if measure(line, size) > width:
                cut = ""
                for ch in line:
                    if measure(cut + ch, size) > width and cut:
                        lines.append(cut)
                        cut = ""
                    cut += ch
                line = cut
        lines.append(line.rstrip())
    return lines
