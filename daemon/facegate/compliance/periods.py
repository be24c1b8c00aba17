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
    from ..config.retention import RetentionConfig

__all__ = ["Period", "RetentionPeriod", "period_sentences", "retention_periods"]


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
    """The periods for this configuration, in the sign's order.

    Faces, identities, consents and records take their sentences from
    :func:`period_sentences`, which states what :mod:`facegate.store.retention` purges (one
    wording for the sign, the consent form and the PIA); the sign adds what pseudonymised
    events mean and the audit log's period.
    """
    r = cfg.retention
    events, years = r.event_days, r.record_years
    stored = {p.kind: p for p in period_sentences(r)}
    face, identity = stored["face_template"], stored["identity"]
    consent, records = stored["consent"], stored["records"]
    return (
        Period(
            "templates",
            face.zh + "。",
            face.en + ".",
            "store.retention.purge_expired (expires_at, created_at + retention.template_days, "
            "valid_until, the re-consent deadline); store.lifecycle.withdraw at once",
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
            f"{consent.zh}；{records.zh}。",
            f"{consent.en}; {records.en}.",
            "store.retention.purge_expired (ended consents, processing_records and answered "
            "requests older than retention.record_years)",
        ),
        Period(
            "identity",
            identity.zh + "；您也可随时要求删除。",
            identity.en + "; or at once when you ask for deletion.",
            "store.retention.purge_expired (_purge_people); store.lifecycle.delete_person",
        ),
    )


@dataclass(slots=True, frozen=True)
class RetentionPeriod:
    """One kind of data and how long the code keeps it (bilingual, for the sign and PIA)."""

    kind: str
    zh: str
    en: str


def period_sentences(r: RetentionConfig) -> list[RetentionPeriod]:
    """Every retention period as :func:`facegate.store.retention.purge_expired` enforces it."""
    y = r.record_years
    return [
        RetentionPeriod(
            "face_template",
            f"人脸特征模板：以下最早者删除——登记后{r.template_days}天、本人通行有效期届满、"
            f"撤回同意（立即删除）、告知变更后{r.reconsent_days}天内未重新同意",
            f"Face templates: deleted at the earliest of {r.template_days} days after "
            "enrolment, the end of the person's access validity, withdrawal of consent "
            f"(at once), or {r.reconsent_days} days after a changed notice without new consent",
        ),
        RetentionPeriod(
            "identity",
            "姓名、房号、电话、出生年份及PIN/卡的哈希值：通行有效期届满，或不再有人脸、"
            "有效PIN或卡时删除",
            "Name, unit, phone, birth year and PIN/card hashes: deleted when the person's "
            "access validity ends or no face and no valid PIN or card is left",
        ),
        RetentionPeriod(
            "events",
            f"通行记录（假名化）：{r.event_days}天",
            f"Access events (pseudonymised): {r.event_days} days",
        ),
        RetentionPeriod(
            "consent",
            f"同意记录：同意结束（撤回、到期或删除）后保存{y}年，然后删除",
            f"Consent records: kept {y} years after the consent ends (withdrawal, expiry or "
            "deletion), then deleted",
        ),
        RetentionPeriod(
            "records",
            f"处理记录及权利请求记录：{y}年",
            f"Processing records and rights-request records: {y} years",
        ),
    ]
