"""``notice:`` — the sign at the gate: who collects faces, why, and how to say no (Art. 5).

The text of the sign is built from this section, ``site`` and ``retention`` by
``facegate.compliance.notice_text``; its SHA-256 is the notice version that every consent
record names. Changing any field here changes the version.

Free-text fields take either one string (used for every language) or a mapping with one
entry per language in ``languages``:

.. code-block:: yaml

    notice:
      controller_name: 阳光花园物业服务有限公司
      controller_contact: "物业服务中心 0571-8888 6666"
      languages: [zh-CN, en]
      alternatives:
        zh-CN: 门禁卡可在物业服务中心免费办理；密码由物业服务中心设置。
        en: Get a free access card or a PIN at the property office.
      withdrawal_how:
        zh-CN: 到物业服务中心或致电说明即可，您的人脸模板当场删除。
        en: Ask the property office in person or by phone; your template is deleted at once.
      office_hours: "08:00-20:00"
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from .base import Section

__all__ = ["NOTICE_LANGUAGES", "Language", "LocalizedText", "NoticeConfig", "localized"]

Language = Literal["zh-CN", "en"]
NOTICE_LANGUAGES: tuple[Language, ...] = ("zh-CN", "en")

_Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=400)]
LocalizedText = _Text | dict[Language, _Text]


def localized(value: LocalizedText | None, lang: Language) -> str | None:
    """The text of ``value`` for ``lang``: the string itself, or that language's entry."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return value.get(lang)


class NoticeConfig(Section):
    """Who is responsible, how to reach them, and how to use the gate without a face."""

    controller_name: LocalizedText = Field(
        description=(
            "The personal-information handler (the property company or employer) as it should "
            "appear on the sign, e.g. its registered name."
        ),
    )
    controller_contact: LocalizedText = Field(
        description=(
            "How residents reach the handler about their face data: phone, e-mail and/or "
            "office, e.g. `物业服务中心 0571-8888 6666`."
        ),
    )
    purpose: LocalizedText | None = Field(
        default=None,
        description=(
            "The purpose as printed on the sign, per language. Empty: `site.purpose` is "
            "printed in every language."
        ),
    )
    languages: list[Language] = Field(
        default_factory=lambda: list(NOTICE_LANGUAGES),
        min_length=1,
        max_length=2,
        description="Languages of the sign, in print order (zh-CN, en). zh-CN is the default.",
    )
    alternatives: LocalizedText | None = Field(
        default=None,
        description=(
            "How to use PIN or card instead of a face: where to get a card, who sets a PIN. "
            "The sign always says that PIN and card are open to everyone; this adds the how."
        ),
    )
    withdrawal_how: LocalizedText = Field(
        description=(
            "How to withdraw consent and have the face template deleted, e.g. `ask the "
            "property office in person or by phone; your template is deleted at once`."
        ),
    )
    office_hours: LocalizedText | None = Field(
        default=None,
        description="When the office in `controller_contact` is open, e.g. `08:00-20:00 daily`.",
    )
    site_name: LocalizedText | None = Field(
        default=None,
        description=(
            "The site's name on the sign, per language (e.g. zh-CN 阳光花园 3 号楼, en Sunrise "
            "Garden Building 3). Empty: `site.name` in every language."
        ),
    )
    necessity: LocalizedText | None = Field(
        default=None,
        description=(
            "Why face recognition is necessary here and its impact on the person (PIPL "
            "Art. 30), added to the standard paragraph the sign always prints."
        ),
    )
    complaints: LocalizedText | None = Field(
        default=None,
        description=(
            "Where to complain besides the handler, e.g. the local cyberspace administration's "
            "office and number. Empty: the sign names the local cyberspace administration and "
            "the 12377 reporting line."
        ),
    )
    effective_date: dt.date | None = Field(
        default=None,
        description=(
            "Date this notice takes effect, printed on the sign and part of its version. "
            "Empty: the sign shows no effective date (only its version)."
        ),
    )
    extra: list[LocalizedText] = Field(
        default_factory=list,
        max_length=5,
        description="Up to five more lines printed at the end of the sign (same text rules).",
    )

    @model_validator(mode="after")
    def _every_language_present(self) -> NoticeConfig:
        if len(set(self.languages)) != len(self.languages):
            raise ValueError("languages lists a language twice")
        fields: list[tuple[str, LocalizedText | None]] = [
            ("controller_name", self.controller_name),
            ("controller_contact", self.controller_contact),
            ("purpose", self.purpose),
            ("alternatives", self.alternatives),
            ("withdrawal_how", self.withdrawal_how),
            ("office_hours", self.office_hours),
            ("site_name", self.site_name),
            ("necessity", self.necessity),
            ("complaints", self.complaints),
        ]
        fields += [(f"extra[{i}]", line) for i, line in enumerate(self.extra)]
        for key, value in fields:
            if isinstance(value, dict):
                missing = [lang for lang in self.languages if lang not in value]
                if missing:
                    raise ValueError(
                        f"{key} has no text for {', '.join(missing)} "
                        f"(give one string for all languages, or one entry per language)"
                    )
        return self
