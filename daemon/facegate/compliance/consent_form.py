"""The consent form a person signs before their face is enrolled (zh-CN and English, PDF).

Separate consent (2025 Measures Art. 6; PIPL Art. 29) is evidence only if it says what was
consented to: the form prints the full hash of the notice posted now (the version
``facegate enroll --notice-version`` records), the notice's paragraphs, each retention period as
the code enforces it, the alternative (PIN or card), the age question (under 14: a guardian
consents, and GB/T 41819-2022 advises card or PIN first), and lines for the signatures.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .md_pdf import markdown_to_pdf
from .periods import period_sentences

if TYPE_CHECKING:
    from ..config import FacegateConfig
    from .notice_text import NoticeBundle

__all__ = ["consent_form_markdown", "write_consent_form"]

BLANK = "________________________"


def consent_form_markdown(bundle: NoticeBundle, cfg: FacegateConfig) -> str:
    """The form as Markdown (what :func:`write_consent_form` prints)."""
    site = cfg.site.name
    lines = [
        "# 人脸识别单独同意书 / Separate Consent to Face Recognition",
        "",
        f"场所 Site: {site}",
        "",
        f"告知版本 Notice version (SHA-256): `{bundle.version}`",
        f"告知牌上的短版本 Short form on the sign: `{bundle.short_version}`",
        "",
    ]
    for lang in bundle.languages:
        text = bundle.text(lang)
        lines += [f"## {text.title}", ""]
        for item in text.items:
            lines += [f"### {item.heading}", item.body, ""]
    lines += ["## 保存期限 / How long data is kept", ""]
    for period in period_sentences(cfg.retention):
        lines += [f"- {period.zh}", f"  {period.en}"]
    minor = cfg.enrollment.minor_age
    lines += [
        "",
        "## 本人声明 / Declaration",
        "",
        "- 我已阅读上述告知（版本见本页顶部），自愿、单独同意本场所处理我的人脸信息，仅用于开启"
        "上述门禁。不同意刷脸，也可以使用密码或门禁卡通行，不受任何影响。",
        "  I have read the notice above (version at the top of this page) and freely and "
        "separately consent to this site processing my face, only to open these doors. "
        "Without face entry I can use a PIN or card, with no disadvantage.",
        "- 我可以随时撤回同意，撤回后人脸模板立即删除。",
        "  I can withdraw at any time; my face template is then deleted at once.",
        "",
        "## 填写 / To fill in",
        "",
        f"- 姓名 Name: {BLANK}    房号 Unit: {BLANK}",
        f"- 电话 Phone (可不填 optional): {BLANK}",
        f"- 出生年份 Birth year: {BLANK}   或 or: □ 年满{minor}周岁 I am {minor} or older"
        f"   □ 未满{minor}周岁 Under {minor}",
        f"- 本人签名 Signature: {BLANK}    日期 Date: {BLANK}",
        "",
        f"## 未满{minor}周岁 / Under {minor}: 监护人同意 / Guardian's consent",
        "",
        "- GB/T 41819-2022 建议：儿童优先使用门禁卡或密码，而非人脸识别。",
        "  GB/T 41819-2022 advises a card or PIN for children rather than face recognition.",
        f"- 监护人姓名 Guardian's name: {BLANK}    关系 Relation: {BLANK}",
        f"- 监护人签名 Guardian's signature: {BLANK}    日期 Date: {BLANK}",
        "",
        "## 经办 / Taken by (operator)",
        "",
        f"- 经办人编号 Operator id (--taken-by): {BLANK}",
        f"- 表单编号 Form no. (--consent-ref): {BLANK}",
        "- 方式 Method: □ paper-form   □ e-signature   □ tablet-signature",
        "",
        "本同意书与处理记录一并保存，保存期限见上文。 This form is kept with the processing "
        "records for the period stated above.",
    ]
    return "\n".join(lines) + "\n"


def write_consent_form(
    bundle: NoticeBundle, cfg: FacegateConfig, out: Path, *, page: str = "A4"
) -> Path:
    """Write the form as a PDF at ``out``.

    Raises:
        FontNotFoundError: no CJK font is installed (the message names the Debian package).
    """
    title = f"Consent form, notice {bundle.short_version}"
    return markdown_to_pdf(consent_form_markdown(bundle, cfg), out, title=title, page=page)
