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
import re
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
    "audio_text",
    "build_notice",
    "en_number",
    "short_text",
    "zh_number",
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


# -- short text for a small screen -----------------------------------------------------------


def short_text(bundle: NoticeBundle, lang: Language, *, max_chars: int = 40) -> str:
    """At most six short lines for the gate's small screen.

    Args:
        bundle: the notice.
        lang: which language.
        max_chars: longest line; a longer contact line is cut with an ellipsis.
    """
    text = bundle.text(lang)
    days = _first_number(text.item("retention").body)
    if lang == "zh-CN":
        lines = [
            "人脸识别门禁：仅在本设备处理",
            "只存加密模板，不存照片",
            "不想刷脸？可用密码或门禁卡",
            f"模板最长保存{days}天，可随时删除",
            f"咨询/删除：{text.contact}",
            f"告知版本 {bundle.short_version}",
        ]
    else:
        lines = [
            "Face entry: processed on this device",
            "Encrypted template only, no photos",
            "No face? Use a PIN or card",
            f"Kept {days} days max; delete any time",
            f"Ask/delete: {text.contact}",
            f"Notice {bundle.short_version}",
        ]
    lines = [ln if len(ln) <= max_chars else ln[: max_chars - 1] + "…" for ln in lines]
    return "\n".join(lines) + "\n"


def _first_number(text: str) -> str:
    m = re.search(r"\d+", text)
    return m.group(0) if m else "?"


# -- audio-friendly plain text ---------------------------------------------------------------

_ZH_DIGITS = "零一二三四五六七八九"
_EN_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_EN_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def zh_number(n: int) -> str:
    """A non-negative integer below 10^12 in Chinese numerals (730 → 七百三十)."""
    if n < 0 or n >= 10**12:
        raise ValueError("zh_number takes 0 <= n < 10**12")
    if n == 0:
        return "零"

    def below_10000(v: int) -> str:
        out = ""
        zero = False
        for unit_value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
            d = v // unit_value % 10
            if d == 0:
                zero = bool(out)
                continue
            if zero:
                out += "零"
                zero = False
            out += _ZH_DIGITS[d] + unit
        return out

    groups = [(n // 10**8) % 10**4, (n // 10**4) % 10**4, n % 10**4]
    units = ["亿", "万", ""]
    out = ""
    for g, unit in zip(groups, units, strict=True):
        if g == 0:
            if out and not out.endswith("零"):
                out += "零"
            continue
        if out and g < 1000 and not out.endswith("零"):
            out += "零"
        out += below_10000(g) + unit
    out = out.rstrip("零")
    if out.startswith("一十"):
        out = out[1:]
    return out


def en_number(n: int) -> str:
    """A non-negative integer below 10^9 in English words (730 → seven hundred thirty)."""
    if n < 0 or n >= 10**9:
        raise ValueError("en_number takes 0 <= n < 10**9")
    if n < 20:
        return _EN_ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _EN_TENS[tens] + (f"-{_EN_ONES[ones]}" if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"{_EN_ONES[hundreds]} hundred" + (f" {en_number(rest)}" if rest else "")
    for size, word in ((10**6, "million"), (1000, "thousand")):
        if n >= size:
            high, rest = divmod(n, size)
            return f"{en_number(high)} {word}" + (f" {en_number(rest)}" if rest else "")
    raise AssertionError("unreachable")


def _speak_digits(digits: str, lang: Language) -> str:
    if lang == "zh-CN":
        return " ".join(_ZH_DIGITS[int(d)] for d in digits)
    return " ".join(_EN_ONES[int(d)] for d in digits)


def _speak_time(hour: int, minute: int, lang: Language) -> str:
    if lang == "zh-CN":
        part = "上午" if hour < 12 else "下午" if hour < 18 else "晚上"
        h12 = hour if hour <= 12 else hour - 12
        out = f"{part}{zh_number(h12)}点"
        return out + (f"{zh_number(minute)}分" if minute else "")
    part = "in the morning" if hour < 12 else "in the afternoon" if hour < 18 else "in the evening"
    h12 = hour if hour <= 12 else hour - 12
    h12 = 12 if h12 == 0 else h12
    mins = (
        ""
        if minute == 0
        else f" {en_number(minute)}"
        if minute >= 10
        else f" oh {en_number(minute)}"
    )
    return f"{en_number(h12)}{mins} {part}"


def _speakable(text: str, lang: Language) -> str:
    """Rewrite symbols, times, long digit runs and numbers as words a speech engine reads well."""
    zh = lang == "zh-CN"

    def time_range(m: re.Match[str]) -> str:
        a = _speak_time(int(m.group(1)), int(m.group(2)), lang)
        b = _speak_time(int(m.group(3)), int(m.group(4)), lang)
        return f"{a}至{b}" if zh else f"{a} to {b}"

    text = re.sub(r"(\d{1,2}):(\d{2})\s*[-–~至到]\s*(\d{1,2}):(\d{2})", time_range, text)
    text = re.sub(
        r"(\d{1,2}):(\d{2})", lambda m: _speak_time(int(m.group(1)), int(m.group(2)), lang), text
    )
    text = re.sub(
        r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+",
        lambda m: m.group(0).replace("@", " at ").replace(".", " dot "),
        text,
    )
    # Dates 2026-06-01 before phone numbers, so they are not read digit by digit.
    text = re.sub(
        r"(\d{4})-(\d{2})-(\d{2})",
        lambda m: (
            f"{_speak_digits(m.group(1), lang).replace(' ', '')}年{zh_number(int(m.group(2)))}月"
            f"{zh_number(int(m.group(3)))}日"
            if zh
            else f"{_MONTHS[int(m.group(2)) - 1]} {en_number(int(m.group(3)))}, "
            f"{en_number(int(m.group(1)))}"
        ),
        text,
    )
    # Phone numbers and other long digit runs are read one digit at a time.
    text = re.sub(
        r"\d[\d -]{4,}\d",
        lambda m: ("，" if zh else ", ").join(
            _speak_digits(g, lang) for g in re.split(r"[ -]+", m.group(0)) if g
        ),
        text,
    )
    text = re.sub(r"\d+", lambda m: (zh_number if zh else en_number)(int(m.group(0))), text)
    for sym, word in (
        ("·", "，" if zh else ", "),
        ("/", "或" if zh else " or "),
        ("&", "和" if zh else " and "),
    ):
        text = text.replace(sym, word)
    text = re.sub(r"[#*_|<>\[\]{}~^`\\]", " ", text)
    return re.sub(r"[ \t]+", " ", text).strip()


def audio_text(bundle: NoticeBundle, lang: Language) -> str:
    """The notice as plain sentences for reading aloud (elderly and visually impaired people).

    No symbols, tables or headings-as-fragments: each paragraph becomes full sentences, numbers
    are written out, phone numbers are read digit by digit.
    """
    text = bundle.text(lang)
    zh = lang == "zh-CN"
    out: list[str] = []
    if zh:
        out.append(_speakable(f"这里是{text.site_name}的人脸识别门禁告知。", lang))
    else:
        out.append(_speakable(f"This is the face recognition notice for {text.site_name}.", lang))
    lead = {
        "controller": ("收集和处理您人脸信息的是", "Your face data is collected by "),
        "purpose": ("处理目的是：", "The purpose is this: "),
    }
    for it in text.items:
        body = it.body
        if it.key in lead:
            prefix = lead[it.key][0 if zh else 1]
            body = prefix + body
        elif it.key.startswith("extra"):
            body = ("另外，" if zh else "Also: ") + body
        out.append(_speakable(body, lang))
    version = _speak_digits_or_letters(bundle.short_version[:4], lang)
    if zh:
        date = text.effective_date
        out.append(
            f"本告知版本号的前四位是{version}。"
            + (f"生效日期是{_speakable(date.isoformat(), lang)}。" if date else "")
        )
    else:
        date = text.effective_date
        out.append(
            f"The notice version begins with {version}."
            + (f" It takes effect on {_speakable(date.isoformat(), lang)}." if date else "")
        )
    return "\n\n".join(out) + "\n"


def _speak_digits_or_letters(value: str, lang: Language) -> str:
    parts = []
    for ch in value:
        if ch.isdigit():
            parts.append(_speak_digits(ch, lang))
        else:
            parts.append(ch.upper())
    return ("，" if lang == "zh-CN" else ", ").join(parts)
