"""What the sign says, for a small screen and for a speaker.

``short_text`` fits the gate's character display; ``audio_text`` is the same notice as plain
sentences a speech synthesizer reads well: numbers, times, dates and contact numbers spelled
the way a person says them in Chinese or English.
"""

from __future__ import annotations

import re

from ..config.notice import Language
from .notice_text import NoticeBundle

__all__ = ["audio_text", "en_number", "short_text", "zh_number"]


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
    # Addresses: a room number is read digit by digit (三零一室, room three oh one), a year
    # too (二零二六年); a building, unit or floor number as a number (三号楼); percentages.
    if zh:
        text = re.sub(
            r"(\d+)\s*(室|号房|房间)",
            lambda m: _speak_digits(m.group(1), lang).replace(" ", "") + m.group(2),
            text,
        )
        text = re.sub(
            r"(\d{4})\s*年", lambda m: _speak_digits(m.group(1), lang).replace(" ", "") + "年", text
        )
        text = re.sub(r"(\d+)\s*(号楼|栋|幢|单元|层|号)", lambda m: zh_number(int(m.group(1)))
                      + m.group(2), text)  # fmt: skip
        text = re.sub(r"(\d+)\s*%", lambda m: "百分之" + zh_number(int(m.group(1))), text)
    else:
        text = re.sub(
            r"\b(Room|Rm\.?|Flat|Apt\.?)\s*(\d+)",
            lambda m: (
                "room " + " ".join("oh" if d == "0" else _EN_ONES[int(d)] for d in m.group(2))
            ),
            text,
            flags=re.IGNORECASE,
        )
        text = re.sub(r"\bNo\.\s*(\d+)", lambda m: "number " + en_number(int(m.group(1))), text)
        text = re.sub(r"(\d+)\s*%", lambda m: en_number(int(m.group(1))) + " percent", text)
    # Phone numbers and other long digit runs are read one digit at a time.
    text = re.sub(
        r"\d[\d -]{3,}\d",
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
        out.append(_speakable(f"{text.banner}：请只在这里刷脸。", lang))
    else:
        out.append(_speakable(f"This is the face recognition notice for {text.site_name}.", lang))
        out.append(_speakable(f"{text.banner}: faces are recognised only here.", lang))
    lead = {
        "controller": ("个人信息处理者是", "The personal information handler is "),
        "purpose": ("处理目的是：", "The purpose is this: "),
    }
    for it in text.items:
        body = it.body.replace("\n· ", " ").removeprefix("· ")
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
