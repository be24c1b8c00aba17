"""The notice text, built from the configuration by pure functions, and its version.

The sign, the small-screen text and the audio text all say the same things (2025 Measures
Art. 5): who collects faces and how to reach them, why, how faces are processed, how long
they are kept, that PIN or card entry is open to everyone, and how to withdraw consent and
have the template deleted. The *version* of the notice is the SHA-256 of its canonical text
in every configured language; consent records name it (``facegate enroll --notice-version``),
so any change of wording gives a new version.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import unicodedata
from dataclasses import dataclass

from ..config.notice import Language, NoticeConfig, localized
from ..config.retention import RetentionConfig
from ..config.site import SiteConfig

__all__ = [
    "SHORT_VERSION_CHARS",
    "NoticeBundle",
    "NoticeItem",
    "NoticeText",
    "build_notice",
]

SHORT_VERSION_CHARS = 16


@dataclass(slots=True, frozen=True)
class NoticeItem:
    """One paragraph of the sign.

    Attributes:
        key: stable identifier (``controller``, ``purpose``, ``method``, ``retention``,
            ``alternatives``, ``withdrawal``, ``rights``, ``extra``).
        heading: the paragraph's heading in the notice's language.
        body: the paragraph, one or more sentences.
    """

    key: str
    heading: str
    body: str


@dataclass(slots=True, frozen=True)
class NoticeText:
    """The notice in one language."""

    lang: Language
    title: str
    site_name: str
    items: tuple[NoticeItem, ...]
    effective_date: dt.date | None
    contact: str = ""

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
        lines = [self.title, self.site_name, ""]
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


def build_notice(
    site: SiteConfig, retention: RetentionConfig, notice: NoticeConfig
) -> NoticeBundle:
    """Build the notice in every configured language and compute its version.

    Args:
        site: ``cfg.site`` (site name, default purpose).
        retention: ``cfg.retention`` (the periods printed on the sign).
        notice: ``cfg.notice``.

    Returns:
        The bundle; ``bundle.version`` is the hex SHA-256 of ``bundle.canonical()``.
    """
    texts = tuple(_build_one(site, retention, notice, lang) for lang in notice.languages)
    draft = NoticeBundle(texts, "")
    version = hashlib.sha256(draft.canonical().encode("utf-8")).hexdigest()
    return NoticeBundle(texts, version)


def _sentence(text: str, lang: Language) -> str:
    text = text.strip()
    if not text:
        return text
    if text[-1] in "。．.!！?？；;":
        return text
    return text + ("。" if lang == "zh-CN" else ".")


def _build_one(
    site: SiteConfig, retention: RetentionConfig, notice: NoticeConfig, lang: Language
) -> NoticeText:
    name = localized(notice.controller_name, lang) or ""
    contact = localized(notice.controller_contact, lang) or ""
    hours = localized(notice.office_hours, lang)
    purpose = localized(notice.purpose, lang) or " ".join(site.purpose.split())
    alternatives = localized(notice.alternatives, lang)
    withdrawal = localized(notice.withdrawal_how, lang) or ""
    extra = [t for t in (localized(line, lang) for line in notice.extra) if t]
    days, event_days, years = retention.template_days, retention.event_days, retention.record_years
    items: list[NoticeItem]
    if lang == "zh-CN":
        who = f"{name}。联系方式：{contact}"
        if hours:
            who += f"（办公时间：{hours}）"
        alt = (
            "刷脸不是唯一的通行方式：任何人都可以选择使用密码或门禁卡通行，同样方便，"
            "不刷脸不影响享受任何服务，也不会被反复要求刷脸。"
        )
        if alternatives:
            alt += _sentence(alternatives, lang)
        items = [
            NoticeItem("controller", "收集者及联系方式", _sentence(who, lang)),
            NoticeItem("purpose", "处理目的", _sentence(purpose, lang)),
            NoticeItem(
                "method",
                "处理方式",
                "人脸信息仅在本设备上处理和保存，不通过网络上传或提供给他人；只保存由人脸计算出的"
                "特征模板，不保存人脸照片；模板加密存储。不分析年龄、民族、情绪等任何特征。",
            ),
            NoticeItem(
                "retention",
                "保存期限",
                f"人脸模板自登记之日起最长保存{days}天，到期自动删除；撤回同意后立即删除。"
                f"通行记录匿名保存{event_days}天。同意、删除等处理记录依法保存{years}年。",
            ),
            NoticeItem("alternatives", "不刷脸也能通行", alt),
            NoticeItem(
                "withdrawal",
                "撤回同意、删除人脸信息",
                _sentence(withdrawal, lang) + "撤回后您的人脸模板立即删除，并出具删除回执。",
            ),
            NoticeItem(
                "rights",
                "您的权利",
                "您可以查阅、复制、更正、删除您的个人信息，或对处理方式提出疑问和投诉，"
                "请联系上述收集者。",
            ),
        ]
        title = "人脸识别门禁告知"
    else:
        who = f"{_sentence(name, lang)} Contact: {contact}"
        if hours:
            who += f" (office hours: {hours})"
        alt = (
            "Face recognition is never the only way in: anyone may use a PIN or an access card "
            "instead, just as conveniently. Declining face entry costs you no service, and you "
            "will not be asked again."
        )
        if alternatives:
            alt += " " + _sentence(alternatives, lang)
        items = [
            NoticeItem("controller", "Who collects your face data", _sentence(who, lang)),
            NoticeItem("purpose", "Purpose", _sentence(purpose, lang)),
            NoticeItem(
                "method",
                "How faces are processed",
                "Faces are processed and stored on this device only, never uploaded or shared "
                "over a network. Only a face template (numbers computed from the face) is kept, "
                "never a photo, and it is encrypted. No age, ethnicity, emotion or other "
                "attribute is ever analysed.",
            ),
            NoticeItem(
                "retention",
                "How long it is kept",
                f"A face template is kept at most {days} days from enrolment and then deleted "
                f"automatically; it is deleted at once when you withdraw consent. Entry records "
                f"are kept anonymized for {event_days} days. Records of consent and deletion are "
                f"kept for {years} years, as the law requires.",
            ),
            NoticeItem("alternatives", "Prefer not to use your face?", alt),
            NoticeItem(
                "withdrawal",
                "Withdraw consent, delete your face data",
                _sentence(withdrawal, lang)
                + " Your face template is deleted at once and you receive a deletion receipt.",
            ),
            NoticeItem(
                "rights",
                "Your rights",
                "You may see, copy, correct or delete your personal information, or ask about "
                "or complain about how it is processed: contact the handler above.",
            ),
        ]
        title = "Face Recognition at This Gate"
    for i, line in enumerate(extra):
        heading = "其他说明" if lang == "zh-CN" else "Also"
        items.append(NoticeItem("extra" if i == 0 else f"extra{i}", heading, line))
    return NoticeText(lang, title, site.name, tuple(items), notice.effective_date, contact)


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()
