"""Find a CJK font for the Chinese sign, or fail with the package to install.

Rendering Simplified Chinese needs a font that has the glyphs; facegate ships none. It looks,
in order, at ``$FACEGATE_CJK_FONT`` (``path`` or ``path#index`` for a font collection),
fontconfig (``fc-list :lang=zh-cn``), then the paths where Debian's ``fonts-wqy-microhei``,
``fonts-wqy-zenhei`` and ``fonts-noto-cjk`` install their files.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..errors import FacegateError

__all__ = ["FONT_ENV", "INSTALL_HINT", "CJKFont", "FontNotFoundError", "find_cjk_font"]

logger = logging.getLogger(__name__)

FONT_ENV = "FACEGATE_CJK_FONT"
INSTALL_HINT = (
    "no Chinese (CJK) font found to render the notice: install one with "
    "`sudo apt-get install fonts-wqy-microhei` (or `fonts-noto-cjk`), or set "
    f"${FONT_ENV} to a .ttf/.ttc file"
)

# Preferred first: TrueType outlines embed smallest and most reliably in a PDF.
KNOWN_FONTS: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),  # face 2 = SC
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2),
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", 0),
)
_PREFERRED_NAMES = ("wqy-microhei", "wqy-zenhei", "notosanscjk", "notoserifcjk", "droidsans")
_SAMPLE = "人脸识别告知"


class FontNotFoundError(FacegateError, FileNotFoundError):
    """No usable CJK font: the message names the Debian package to install."""


@dataclass(slots=True, frozen=True)
class CJKFont:
    """A font file and, for a collection (``.ttc``), the index of the face to use."""

    path: Path
    index: int = 0

    def __str__(self) -> str:
        return f"{self.path}#{self.index}" if self.index else str(self.path)


def find_cjk_font() -> CJKFont:
    """The first usable CJK font.

    Raises:
        FontNotFoundError: none found; the message names ``fonts-wqy-microhei`` and
            ``fonts-noto-cjk``.
    """
    env = os.environ.get(FONT_ENV)
    if env:
        path_s, _, idx = env.partition("#")
        font = CJKFont(Path(path_s), int(idx) if idx.isdigit() else 0)
        if not _usable(font):
            raise FontNotFoundError(f"${FONT_ENV}={env} is not a readable font with Chinese glyphs")
        return font
    for font in [*_fontconfig_fonts(), *_known_fonts()]:
        if _usable(font):
            logger.debug("CJK font: %s", font)
            return font
    raise FontNotFoundError(INSTALL_HINT)


def _known_fonts() -> list[CJKFont]:
    return [CJKFont(Path(p), i) for p, i in KNOWN_FONTS if Path(p).is_file()]


def _fontconfig_fonts() -> list[CJKFont]:
    exe = shutil.which("fc-list")
    if exe is None:
        return []
    try:
        res = subprocess.run(
            [exe, ":lang=zh-cn", "file", "index"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    fonts: list[CJKFont] = []
    for line in res.stdout.splitlines():
        # "/usr/share/fonts/…/wqy-microhei.ttc: :index=0" (the format varies a little)
        path_s, _, rest = line.partition(":")
        idx = 0
        if "index=" in rest:
            digits = rest.split("index=", 1)[1].split(":")[0].strip()
            idx = int(digits) if digits.isdigit() else 0
        suffix = Path(path_s).suffix.lower()
        if suffix in (".ttf", ".ttc", ".otf", ".otc"):
            fonts.append(CJKFont(Path(path_s.strip()), idx))

    def rank(f: CJKFont) -> tuple[int, str, int]:
        name = f.path.name.lower().replace("_", "-")
        pos = next((i for i, p in enumerate(_PREFERRED_NAMES) if p in name), len(_PREFERRED_NAMES))
        return (pos, str(f.path), f.index)

    # For Noto's collection prefer the Simplified Chinese face.
    out = sorted(set(fonts), key=rank)
    return [_prefer_sc_face(f) for f in out]


def _prefer_sc_face(font: CJKFont) -> CJKFont:
    if "notosanscjk" in font.path.name.lower() or "notoserifcjk" in font.path.name.lower():
        return CJKFont(font.path, 2)
    return font


def _usable(font: CJKFont) -> bool:
    """Whether the file opens and has glyphs for a short Chinese sample."""
    try:
        from fontTools.ttLib import TTFont
    except ImportError:  # pragma: no cover - fontTools comes with fpdf2
        return font.path.is_file()
    try:
        tt = TTFont(str(font.path), fontNumber=font.index, lazy=True)
        cmap = tt.getBestCmap() or {}
        tt.close()
    except Exception:  # any parse error means "not usable"
        return False
    return all(ord(ch) in cmap for ch in _SAMPLE)
