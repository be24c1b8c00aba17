"""The paragraphs of the sign, in zh-CN and English, from the configuration and the code.

Every fact is read, not written in: the handler and contact, the purpose, the capture zone
and trigger (``face_zone``), the kinds of data (the fields of ``store.lifecycle.Identity``
and the credential and event tables), each retention period (``periods.retention_periods``,
tied to the code that deletes), the age below which a guardian consents
(``enrollment.minor_age``), the rights-request response time (``rights.response_working_days``), the
alternative, and where to complain. Items in order (2025 Measures Art. 5; PIPL Art. 17, 30):

``controller``, ``purpose``, ``necessity``, ``zone``, ``method``, ``data``, ``retention``,
``minors``, ``alternatives``, ``withdrawal``, ``rights``, ``complaints``, ``changes``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..config.notice import Language, NoticeConfig, localized
from .periods import retention_periods

if TYPE_CHECKING:
    from ..config import FacegateConfig

__all__ = ["IDENTITY_LABELS", "ZONE_BANNER", "Item", "notice_items", "sentence"]

ZONE_BANNER = {"zh-CN": "人脸识别区域", "en": "Face recognition zone"}

# One label per field of store.lifecycle.Identity; a new field without a label is an error.
IDENTITY_LABELS: dict[str, tuple[str, str]] = {
    "name": ("姓名", "name"),
    "unit": ("房号或单位", "unit or company"),
    "phone": ("电话", "phone"),
    "birth_year": ("出生年份", "birth year"),
}


@dataclass(slots=True, frozen=True)
class Item:
    key: str
    heading: str
    body: str


def sentence(text: str, lang: Language) -> str:
    """End ``text`` with a full stop of the language unless it ends with punctuation."""
    text = text.strip()
    if not text or text[-1] in "。．.!！?？；;":
        return text
    return text + ("。" if lang == "zh-CN" else ".")


def _identity_fields(lang: Language) -> str:
    # The labels, not store.lifecycle.Identity itself: the sign is rendered by processes that
    # never open the store (facegate-web); tests/test_notice_truth.py keeps the two equal.
    idx = 0 if lang == "zh-CN" else 1
    labels = [zh_en[idx] for zh_en in IDENTITY_LABELS.values()]
    return ("、" if lang == "zh-CN" else ", ").join(labels)


def _zone_zh(cfg: FacegateConfig) -> str:
    z = cfg.face_zone
    start = (
        f"只有按下“刷脸”键或刷脸按钮后，设备才在{z.awake_s:g}秒内识别人脸识别区域内的人脸，"
        "未按键时不检测任何人脸。"
        if z.trigger == "request"
        else "只识别站在人脸识别区域内的人脸。"
    )
    return (
        f"本门禁终端正前方、约1米以内（画面中部{z.region[0]:.0%}至"
        f"{z.region[2]:.0%}宽度，人脸宽度不小于{z.min_face_px}像素）。{start}"
        "区域外路过的人不计算特征、不比对、不保存。有人使用键盘或刷卡时，人脸识别暂停"
        f"{z.pause_s:g}秒。"
    )


def _zone_en(cfg: FacegateConfig) -> str:
    z = cfg.face_zone
    start = (
        "Faces are looked at only after someone presses the face key or button, for "
        f"{z.awake_s:g} seconds, and only inside the zone; without a press no face is even "
        "detected."
        if z.trigger == "request"
        else "Only a face inside the zone is recognised."
    )
    return (
        "The face recognition zone is directly in front of this terminal, within about "
        f"one metre (the middle {z.region[0]:.0%} to {z.region[2]:.0%} of the picture, faces "
        f"at least {z.min_face_px} pixels wide). {start} People passing outside the zone are "
        "never turned into templates, compared or kept. While someone uses the keypad or a "
        f"card, face recognition pauses for {z.pause_s:g} seconds."
    )


def notice_items(cfg: FacegateConfig, notice: NoticeConfig, lang: Language) -> list[Item]:
    """Every paragraph of the sign in ``lang`` (``extra`` lines are added by the caller)."""
    zh = lang == "zh-CN"
    name = localized(notice.controller_name, lang) or ""
    contact = localized(notice.controller_contact, lang) or ""
    hours = localized(notice.office_hours, lang)
    purpose = localized(notice.purpose, lang) or " ".join(cfg.site.purpose.split())
    necessity = localized(notice.necessity, lang)
    alternatives = localized(notice.alternatives, lang)
    withdrawal = localized(notice.withdrawal_how, lang) or ""
    complaints = localized(notice.complaints, lang)
    periods = retention_periods(cfg)
    minor = cfg.enrollment.minor_age
    days = cfg.rights.response_working_days
    tz = cfg.calendar.timezone
    if zh:
        who = f"{name}。联系方式：{contact}"
        if hours:
            who += f"（办公时间：{hours}）"
        need = (
            "人脸识别只为自愿登记并单独同意的人提供免卡、免密码通行。人脸信息属于敏感个人信息，"
            "一旦泄露难以更改，可能影响您的人身和财产安全；为此只在本设备上处理、加密保存、"
            "不联网、到期删除，并始终提供密码和门禁卡通行。"
        ) + (sentence(necessity, lang) if necessity else "")
        method = (
            "仅在本设备上由人脸计算特征模板（加密保存），与已登记并同意的人的模板进行比对，只为开门；"
            "不上传、不向他人提供，不保存人脸照片，不分析年龄、民族、情绪等任何特征。"
        )
        data = (
            f"已登记的人：{_identity_fields(lang)}（均为可选，加密保存），加密的人脸特征模板，"
            "密码和门禁卡号的哈希值（不保存明文），同意记录，以及每次通行的记录。"
            "未登记的人：不保存任何信息。"
        )
        alt = (
            "刷脸不是唯一的通行方式：任何人都可以选择使用密码或门禁卡通行，同样方便，"
            "不刷脸不影响享受任何服务，也不会被反复要求刷脸。"
        ) + (sentence(alternatives, lang) if alternatives else "")
        when = "北京时间" if tz == "Asia/Shanghai" else f"当地时间（{tz}）"
        return [
            Item("controller", "个人信息处理者及联系方式", sentence(who, lang)),
            Item("purpose", "处理目的", sentence(purpose, lang)),
            Item("necessity", "必要性及对您的影响", need),
            Item("zone", "人脸识别区域", _zone_zh(cfg)),
            Item("method", "处理方式", method),
            Item("data", "处理的个人信息种类", data),
            Item("retention", "保存期限", "\n".join("· " + p.zh for p in periods)),
            Item(
                "minors",
                "未成年人",
                f"不满{minor}周岁的未成年人登记人脸，须经其父母或其他监护人同意；"
                "建议儿童优先使用门禁卡或密码通行。",
            ),
            Item("alternatives", "不刷脸也能通行", alt),
            Item(
                "withdrawal",
                "撤回同意、删除人脸信息",
                sentence(withdrawal, lang)
                + f"撤回后您的人脸模板立即删除，并出具中英文删除回执（{when}）。",
            ),
            Item(
                "rights",
                "您的权利及办理方式",
                "您有权查阅、复制、更正、补充、删除您的个人信息，撤回同意，并要求解释处理规则。"
                f"请通过上述联系方式提出，核实身份后{days}个工作日内答复。",
            ),
            Item(
                "complaints",
                "投诉举报",
                sentence(complaints, lang)
                if complaints
                else "如认为处理违法，可向处理者投诉，也可向所在地网信部门投诉举报"
                "（网信部门举报电话12377）。",
            ),
            Item(
                "changes",
                "告知变更",
                "本告知内容变更时将重新张贴并告知已登记的人；处理目的或方式变更时，"
                "将重新取得您的同意。",
            ),
        ]
    who = f"{sentence(name, lang)} Contact: {contact}"
    if hours:
        who += f" (office hours: {hours})"
    need = (
        "Face recognition lets people who enrolled and gave separate consent in without a "
        "card or PIN. Face data is sensitive personal information: once leaked it cannot be "
        "changed and may affect your personal and property safety. So it is processed on this "
        "device only, encrypted, offline and deleted when due, and PIN and card are always "
        "offered."
    ) + (" " + sentence(necessity, lang) if necessity else "")
    method = (
        "On this device only, a face template (encrypted at rest) is computed from your face "
        "and compared with the templates of people who enrolled and consented, only to open "
        "the door. Nothing is "
        "uploaded or shared, no photo is kept, and no age, ethnicity, emotion or other "
        "attribute is ever analysed."
    )
    data = (
        f"Enrolled people: {_identity_fields(lang)} (all optional, encrypted), the encrypted "
        "face template, hashes of the PIN and card number (never the number itself), the "
        "consent record, and a record of each entry. People not enrolled: nothing is kept."
    )
    alt = (
        "Face recognition is never the only way in: anyone may use a PIN or an access card "
        "instead, just as conveniently. Declining face entry costs you no service, and you "
        "will not be asked again."
    ) + (" " + sentence(alternatives, lang) if alternatives else "")
    when = "Beijing time" if tz == "Asia/Shanghai" else f"local time ({tz})"
    return [
        Item("controller", "Personal information handler and contact", sentence(who, lang)),
        Item("purpose", "Purpose", sentence(purpose, lang)),
        Item("necessity", "Why a face, and its impact on you", need),
        Item("zone", "Face recognition zone", _zone_en(cfg)),
        Item("method", "How faces are processed", method),
        Item("data", "Personal information kept", data),
        Item("retention", "How long it is kept", "\n".join("· " + p.en for p in periods)),
        Item(
            "minors",
            "Children",
            f"A child under {minor} is enrolled only with a parent's or guardian's consent; "
            "a card or PIN is recommended for children.",
        ),
        Item("alternatives", "Prefer not to use your face?", alt),
        Item(
            "withdrawal",
            "Withdraw consent, delete your face data",
            sentence(withdrawal, lang)
            + " Your face template is deleted at once and you receive a deletion receipt in "
            f"Chinese and English ({when}).",
        ),
        Item(
            "rights",
            "Your rights and how to use them",
            "You may see, copy, correct, complete or delete your personal information, withdraw "
            "consent and ask how it is processed. Ask the handler above; once your identity is "
            f"checked you get an answer within {days} working days.",
        ),
        Item(
            "complaints",
            "Complaints",
            sentence(complaints, lang)
            if complaints
            else "If you think the processing is unlawful, complain to the handler or to the "
            "local cyberspace administration (reporting line 12377).",
        ),
        Item(
            "changes",
            "Changes to this notice",
            "When this notice changes it is posted again and enrolled people are told; a change "
            "of purpose or method asks for your consent again.",
        ),
    ]
