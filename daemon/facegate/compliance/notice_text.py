"""The notice text, built from the configuration by pure functions, and its version.

The sign, the small-screen text and the audio text all say the same things (2025 Measures
Art. 5; PIPL Art. 17, 30): the personal-information handler and how to reach them, the
purpose, why a face is necessary and its impact, the face recognition zone and what happens
in it, the kinds of data kept and each retention period as the code enforces it
(``periods``), the rule for children, that PIN or card entry is open to everyone, how to
withdraw consent and have the template deleted, the rights and how fast a request is
answered, where to complain, and what happens when the notice changes
(``notice_items``). The *version* of the notice is the SHA-256 of its canonical text
in every configured language; consent records name it (``facegate enroll --notice-version``),
so any change of wording gives a new version.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..config.notice import Language, NoticeConfig, localized
from .notice_items import ZONE_BANNER, Item, notice_items

if TYPE_CHECKING:
    from ..config import FacegateConfig

__all__ = [
    "SHORT_VERSION_CHARS",
    "NoticeBundle",
    "NoticeItem",
    "NoticeText",
    "build_notice",
]

SHORT_VERSION_CHARS = 16


NoticeItem = Item
"""One paragraph of the sign: ``key``, ``heading``, ``body``."""


@dataclass(slots=True, frozen=True)
class NoticeText:
    """The notice in one language."""

    lang: Language
    title: str
    site_name: str
    items: tuple[NoticeItem, ...]
    effective_date: dt.date | None
    contact: str = ""
    banner: str = ""

    def item(self, key: str) -> NoticeItem:
        """The paragraph with this key.

        Raises:
            KeyError: there is no such paragraph.
        """
        for it in self.items:
            if it.key == key:
                return it
        raise KeyError(key)

    def canonical(self) -> str:
        """The text that is hashed: title, site, every paragraph and the effective date."""
        lines = [self.title, self.site_name, self.banner, ""]
        for it in self.items:
            lines += [it.heading, it.body, ""]
        if self.effective_date is not None:
            label = "生效日期" if self.lang == "zh-CN" else "Effective date"
            lines.append(f"{label}: {self.effective_date.isoformat()}")
        return _normalise("\n".join(lines))


@dataclass(slots=True, frozen=True)
class NoticeBundle:
    """The notice in every configured language, with its version (the SHA-256 of them all)."""

    texts: tuple[NoticeText, ...]
    version: str

    @property
    def short_version(self) -> str:
        """The first 16 hex digits of the version, as printed on the sign."""
        return self.version[:SHORT_VERSION_CHARS]

    @property
    def languages(self) -> tuple[Language, ...]:
        return tuple(t.lang for t in self.texts)

    def text(self, lang: Language) -> NoticeText:
        """The notice in ``lang``.

        Raises:
            KeyError: ``lang`` is not one of ``notice.languages``.
        """
        for t in self.texts:
            if t.lang == lang:
                return t
        raise KeyError(f"the notice is not configured for {lang}; notice.languages lists it")

    def footer(self, lang: Language) -> str:
        """The version and date line printed at the foot of the sign."""
        date = self.text(lang).effective_date
        if lang == "zh-CN":
            out = f"告知版本 {self.short_version}"
            return out + (f" · 生效日期 {date.isoformat()}" if date else "")
        out = f"Notice version {self.short_version}"
        return out + (f" · effective {date.isoformat()}" if date else "")

    def canonical(self) -> str:
        """Every language's canonical text, in a fixed order: what the version hashes."""
        parts = [f"[{t.lang}]\n{t.canonical()}" for t in sorted(self.texts, key=lambda t: t.lang)]
        return "\n\n".join(parts) + "\n"


def build_notice(cfg: FacegateConfig, notice: NoticeConfig | None = None) -> NoticeBundle:
    """Build the notice in every configured language and compute its version.

    Args:
        cfg: the configuration (site, retention, face zone, enrolment age, calendar …).
        notice: the ``notice:`` section; None takes ``cfg.notice``.

    Returns:
        The bundle; ``bundle.version`` is the hex SHA-256 of ``bundle.canonical()``.

    Raises:
        ValueError: there is no ``notice:`` section.
    """
    notice = notice if notice is not None else cfg.notice
    if notice is None:
        raise ValueError("the configuration has no notice: section")
    texts = tuple(_build_one(cfg, notice, lang) for lang in notice.languages)
    draft = NoticeBundle(texts, "")
    version = hashlib.sha256(draft.canonical().encode("utf-8")).hexdigest()
    return NoticeBundle(texts, version)


def _build_one(cfg: FacegateConfig, notice: NoticeConfig, lang: Language) -> NoticeText:
    items = notice_items(cfg, notice, lang)
    extra = [t for t in (localized(line, lang) for line in notice.extra) if t]
    for i, line in enumerate(extra):
        heading = "其他说明" if lang == "zh-CN" else "Also"
        items.append(NoticeItem("extra" if i == 0 else f"extra{i}", heading, line))
    title = "人脸识别门禁告知" if lang == "zh-CN" else "Face Recognition at This Gate"
    site = localized(notice.site_name, lang) or cfg.site.name
    contact = localized(notice.controller_contact, lang) or ""
    return NoticeText(
        lang, title, site, tuple(items), notice.effective_date, contact, ZONE_BANNER[lang]
    )


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()
