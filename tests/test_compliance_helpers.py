"""Shared config text and facts for the compliance tests (``from test_compliance_helpers …``).

The YAML carries ``notice:`` and ``filing:`` sections, which ``load_config_text`` validates
as ``FacegateConfig.notice`` and ``.filing``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from facegate.compliance import ComplianceFacts, DoorFact
from facegate.compliance.ledger import LedgerFacts
from facegate.config import FacegateConfig, load_config_text
from facegate.config.filing import FilingConfig
from facegate.config.notice import NoticeConfig

SITE = """\
site:
  name: 阳光花园 3 号楼
  kind: {kind}
  purpose: {purpose}
camera:
  type: replay
  path: {state}/clip
doors:
  - id: main
    name: 南门
    relay: {{pin: 17}}
  - id: north
    relay: {{pin: 18}}
readers:
  - {{id: gate-reader, type: wiegand, door: main, d0: 22, d1: 23}}
  - {{id: north-reader, type: wiegand, door: north, d0: 24, d1: 25}}
store:
  state_dir: {state}
"""

RETENTION = """\
retention:
  template_days: 365
  event_days: 30
  record_years: 3
"""

NOTICE = """\
notice:
  controller_name:
    zh-CN: 阳光花园物业服务有限公司
    en: Sunrise Garden Property Services Co., Ltd.
  controller_contact: "{contact}"
  purpose:
    zh-CN: 为选择刷脸通行的业主开启小区大门。
    en: To open the compound gate for residents who chose face entry.
  alternatives:
    zh-CN: 门禁卡可在物业服务中心免费办理，密码由物业服务中心设置。
    en: Get a free access card or a PIN at the property office.
  withdrawal_how:
    zh-CN: 到物业服务中心或致电说明即可
    en: Ask the property office in person or by phone
  office_hours: "08:00-20:00"
  effective_date: 2026-06-01
"""

FILING = """\
filing:
  threshold: {threshold}
  warn_fraction: 0.8
"""

CONTACT = "物业服务中心 0571-8888 6666"


def config_text(
    state: Path,
    *,
    kind: str = "residential_compound",
    purpose: str = "为选择刷脸通行的业主开启小区大门；密码和门禁卡对所有人开放。",
    retention: bool = True,
    notice: bool = True,
    contact: str = CONTACT,
    threshold: int | None = None,
    extra: str = "",
) -> str:
    text = SITE.format(kind=kind, purpose=purpose, state=state)
    if retention:
        text += RETENTION
    if notice:
        text += NOTICE.format(contact=contact)
    if threshold is not None:
        text += FILING.format(threshold=threshold)
    return text + extra


def load(
    tmp_path: Path, **kwargs: object
) -> tuple[FacegateConfig, NoticeConfig | None, FilingConfig]:
    cfg = load_config_text(config_text(tmp_path / "state", **kwargs))  # type: ignore[arg-type]
    return cfg, cfg.notice, cfg.filing


SCOPE = "0123456789abcdef"
TODAY = dt.date(2026, 6, 1)  # a Monday


def ledger(**overrides: object) -> LedgerFacts:
    """Ledger facts with a PIA signed for ``SCOPE``, changed by ``overrides``."""
    values: dict[str, object] = {"pia_scopes": ((SCOPE, 1.0e9),), "last_pia_at": 1.0e9}
    values.update(overrides)
    return LedgerFacts(**values)  # type: ignore[arg-type]


def good_facts(notice_version: str | None, **overrides: object) -> ComplianceFacts:
    """Facts of a device where every rule passes."""
    values: dict[str, object] = {
        "people_with_face": 10,
        "faces_without_consent": 0,
        "minors_without_guardian": 0,
        "key_file_mode": 0o600,
        "store_encrypted": True,
        "audit_verified": True,
        "admin_socket_mode": 0o660,
        "unit_denies_ip": True,
        "notice_hash_recorded": notice_version,
        "doors": (DoorFact("main", True, True), DoorFact("north", True, True)),
        "cjk_font": "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
        "door_problems": (),
        "notice_rendered": True,
        "daemon_running": True,
        "ledger": ledger(),
        "scope": SCOPE,
        "today": TODAY,
    }
    values.update(overrides)
    return ComplianceFacts(**values)  # type: ignore[arg-type]
