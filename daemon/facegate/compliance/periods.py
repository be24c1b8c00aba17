"""How long each kind of data is kept, as the code enforces it: what the sign prints.

Each period names the code that enforces it, and ``tests/test_notice_truth.py`` drives that
code (the purge, the audit log's pruning, the enrolment default) with these numbers, so the
sign cannot promise a period the device does not keep.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import FacegateConfig

__all__ = ["Period", "retention_periods"]


@dataclass(slots=True, frozen=True)
class Period:
    """One kind of data and how long it is kept.

    Attributes:
        key: stable identifier.
        zh: the sentence for the zh-CN sign.
        en: the sentence for the English sign.
        enforced_by: the code that deletes it.
    """

    key: str
    zh: str
    en: str
    enforced_by: str


def retention_periods(cfg: FacegateConfig) -> tuple[Period, ...]:
    """The periods for this configuration, in the sign's order."""
    r = cfg.retention
    days, events, years = r.template_days, r.event_days, r.record_years
    return (
        Period(
            "templates",
            f"人脸特征模板自登记之日起最长保存{days}天（登记时可约定更早的删除日期），"
            "到期自动删除；撤回同意后立即删除。",
            f"Face templates: at most {days} days from enrolment (an earlier date may be set "
            "at enrolment), then deleted automatically; deleted at once when you withdraw "
            "consent.",
            "enrolment sets expires_at = now + retention.template_days; store.retention."
            "purge_expired deletes it",
        ),
        Period(
            "events",
            f"通行记录（时间、门、方式、结果及您的假名编号）假名化保存{events}天，到期删除。"
            "假名编号可由处理者关联到您的登记信息，因此不是匿名信息。",
            f"Entry records (time, door, way in, result and your pseudonym) are kept "
            f"pseudonymised for {events} days, then deleted. The handler can link the "
            "pseudonym to your enrolment, so they are not anonymous.",
            "store.retention.purge_expired (events older than retention.event_days)",
        ),
        Period(
            "audit",
            f"安全审计日志（每次通行决定、告警和管理操作，只含假名编号的加密散列）保存{years}年，"
            "之后删除。",
            f"The security audit log (every entry decision, alarm and admin action, with only a "
            f"keyed hash of the pseudonym) is kept {years} years, then deleted.",
            "audit.log.AuditLog.prune (keep_years = retention.record_years)",
        ),
        Period(
            "records",
            f"同意、撤回、删除等处理记录保存不少于{years}年；同意记录在删除人脸后仍作为合法处理的"
            "证据保留（不含人脸信息）。",
            f"Records of consent, withdrawal and deletion are kept at least {years} years; a "
            "consent record stays as evidence of lawful processing after the face is deleted "
            "(it holds no face data).",
            "store.retention.purge_expired (processing_records older than "
            "retention.record_years); consent rows are not purged",
        ),
        Period(
            "identity",
            "姓名、房号、电话、出生年份以及密码和门禁卡的哈希值保存至您注销或要求删除时。",
            "Name, unit, phone, birth year and the PIN and card hashes are kept until you "
            "leave or ask for deletion.",
            "store.lifecycle.delete_person",
        ),
    )
