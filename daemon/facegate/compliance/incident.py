"""The PIPL Art. 57 notification drafted when a security incident is recorded.

Art. 57: where personal information is or may be leaked, tampered with or lost, the handler
takes remedial measures at once and notifies the authority performing PI protection duties
and the individuals concerned of the kinds of information involved, the cause and the
possible harm, the remedial measures taken, what individuals can do to mitigate harm, and
the handler's contact. The draft fills in what the device knows (kinds of data it holds,
the handler and contact, the incident's kind and time) and marks the rest to fill.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from ..config.notice import localized

if TYPE_CHECKING:
    from ..config import FacegateConfig

__all__ = ["INCIDENT_KINDS", "notification_markdown"]

INCIDENT_KINDS: dict[str, tuple[str, str]] = {
    "leak": ("个人信息泄露或可能泄露", "personal information leaked or possibly leaked"),
    "tamper": ("个人信息被篡改或可能被篡改", "personal information tampered with"),
    "loss": (
        "个人信息丢失（如设备、存储卡或备份丢失）",
        "personal information lost (device, SD card or backup)",
    ),
    "intrusion": (
        "设备被非法打开或访问",
        "the device was opened or accessed without authorisation",
    ),
    "other": ("其他安全事件", "another security incident"),
}

_FILL = "【待填写 / TO FILL: {}】"


def notification_markdown(
    cfg: FacegateConfig,
    *,
    incident_id: str,
    kind: str,
    at: float,
    affected: int | None,
) -> str:
    """The zh-CN and English notification drafts for one incident (Markdown)."""
    notice = cfg.notice
    name = contact = None
    if notice is not None:
        name = localized(notice.controller_name, "zh-CN")
        contact = localized(notice.controller_contact, "zh-CN")
        name_en = localized(notice.controller_name, "en") or name
        contact_en = localized(notice.controller_contact, "en") or contact
    else:
        name_en = contact_en = None
    when = dt.datetime.fromtimestamp(at, cfg.calendar.tz).strftime("%Y-%m-%d %H:%M")
    zh_kind, en_kind = INCIDENT_KINDS[kind]
    count = str(affected) if affected is not None else _FILL.format("受影响人数 number of people")
    keys = (
        "假名化的人脸特征模板（加密）、姓名、房号、电话、出生年份（加密）、"
        "密码和门禁卡的哈希值、通行记录"
    )
    keys_en = (
        "pseudonymised face templates (encrypted), name, unit, phone and birth year "
        "(encrypted), PIN and card hashes, entry records"
    )
    return "\n".join(
        [
            f"# 个人信息安全事件通知（草稿） {incident_id}",
            "",
            f"依据《个人信息保护法》第五十七条。事件时间：{when}（{cfg.calendar.timezone}）。",
            "",
            f"- 事件类型：{zh_kind}",
            f"- 涉及的个人信息种类：{keys}",
            f"- 涉及人数：{count}",
            f"- 发生原因：{_FILL.format('原因')}",
            f"- 可能造成的危害：{_FILL.format('可能的危害')}",
            "- 已采取的补救措施："
            + _FILL.format("补救措施，例如已轮换主密钥（facegate keys rotate）"),
            "- 个人可以采取的减轻危害的措施：可申请撤回同意并删除人脸信息，改用密码或门禁卡通行；"
            f"更换密码、挂失门禁卡。{_FILL.format('其他建议')}",
            f"- 个人信息处理者及联系方式：{name or _FILL.format('处理者')}，"
            f"{contact or _FILL.format('联系方式')}",
            "- 已通知／将通知：履行个人信息保护职责的部门（所在地网信部门）及受影响的个人。",
            "",
            f"# Personal information security incident notification (draft) {incident_id}",
            "",
            f"Under PIPL Art. 57. Time of the incident: {when} ({cfg.calendar.timezone}).",
            "",
            f"- Kind: {en_kind}",
            f"- Kinds of personal information involved: {keys_en}",
            f"- People affected: {count}",
            f"- Cause: {_FILL.format('cause')}",
            f"- Possible harm: {_FILL.format('possible harm')}",
            "- Remedial measures taken: "
            + _FILL.format("e.g. master key rotated (facegate keys rotate)"),
            "- What you can do: withdraw consent and have your face data deleted, and use a PIN "
            f"or card instead; change your PIN, report a lost card. {_FILL.format('more advice')}",
            f"- Handler and contact: {name_en or _FILL.format('handler')}, "
            f"{contact_en or _FILL.format('contact')}",
            "- Notified / to notify: the authority performing PI protection duties (the local "
            "cyberspace administration) and the people affected.",
            "",
        ]
    )
