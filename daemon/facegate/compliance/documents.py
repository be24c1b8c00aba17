"""Drafts of the impact assessment (Art. 9) and the filing materials (Art. 15), as Markdown.

Both are built from the configuration and the live state (``ComplianceFacts`` and the
checklist), never from boilerplate about measures the device does not have: a measure this
build cannot show is written down as *not in force*. Every field only the operator can
answer is marked ``【待填写 / TO FILL: …】``. Content is in Simplified Chinese with English
alongside, for the provincial cyberspace administration and for the operator's own staff.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from .. import __version__
from ..config.filing import FilingConfig
from ..config.notice import NoticeConfig, localized
from .checks import CheckResult, Status, run_checks
from .facts import ComplianceFacts

if TYPE_CHECKING:
    from ..config import FacegateConfig

__all__ = ["TO_FILL", "filing_markdown", "pia_markdown", "security_measures", "to_fill"]

TO_FILL = "【待填写 / TO FILL: {what}】"


def to_fill(what: str) -> str:
    """The marker for a field the operator must complete."""
    return TO_FILL.format(what=what)


def _esc(text: str) -> str:
    """Keep configuration text from breaking a Markdown table or list."""
    return " ".join(text.replace("|", "/").split())


def _controller(notice: NoticeConfig | None) -> tuple[str, str, str]:
    if notice is None:
        return (
            to_fill("处理者名称 controller's registered name"),
            to_fill("联系方式 contact"),
            to_fill("办公时间 office hours"),
        )
    name = localized(notice.controller_name, "zh-CN") or localized(notice.controller_name, "en")
    contact = localized(notice.controller_contact, "zh-CN") or localized(
        notice.controller_contact, "en"
    )
    hours = localized(notice.office_hours, "zh-CN") or localized(notice.office_hours, "en")
    return (
        _esc(name or to_fill("处理者名称 controller name")),
        _esc(contact or to_fill("联系方式 contact")),
        _esc(hours) if hours else to_fill("办公时间 office hours"),
    )


def _status_zh(status: Status) -> str:
    return {
        Status.PASS: "已落实 in force",
        Status.WARN: "待确认 unconfirmed",
        Status.FAIL: "未落实 NOT in force",
    }[status]


def security_measures(
    cfg: FacegateConfig, facts: ComplianceFacts, results: list[CheckResult]
) -> list[tuple[str, str, str]]:
    """``(measure, state, evidence)`` rows describing the measures as they run on this device."""
    by_id = {r.rule_id: r for r in results}

    def row(rule: str, measure: str) -> tuple[str, str, str]:
        r = by_id[rule]
        return (measure, _status_zh(r.status), _esc(r.reason))

    embedder = getattr(cfg.embedder, "type", "dlib")
    key_state, key_evidence = _key_protection(facts)
    rows = [
        row("store_encrypted", "加密存储 Encryption at rest (PyNaCl SecretBox, per-person keys)"),
        row("key_file", "主密钥文件权限 Master key file mode (0600 or a systemd credential)"),
        ("主密钥防盗 Master key if the SD card is stolen", key_state, key_evidence),
        row("audit_chain", "安全审计 Security audit (hash-chained, signed log)"),
        row("admin_socket", "访问控制 Access control (admin Unix socket, peer credentials)"),
        row(
            "unit_denies_ip", "网络隔离 No network egress (systemd IPAddressDeny / PrivateNetwork)"
        ),
        row("no_network_sink", "不向外传输 No network sink for biometric data in the config"),
        row("alternatives", "非人脸替代方式 PIN / card alternative on every face door"),
        row("consent", "单独同意 Separate consent before any template is stored"),
        row("guardian_consent", "未成年人监护人同意 Guardian consent for minors"),
        (
            "仅存模板 Templates only, no face images",
            "已落实 in force",
            f"embedder {embedder}; images are never written to disk (by construction)",
        ),
        (
            "自动删除 Scheduled deletion",
            "已落实 in force",
            f"templates ≤ {cfg.retention.template_days} d, events {cfg.retention.event_days} d, "
            "purged at start and daily",
        ),
        (
            "防拆开关与门磁告警 Enclosure tamper switch and door-forced alarm (not intrusion "
            "detection: nothing watches the network or the software)",
            "待确认 unconfirmed",
            to_fill("确认防拆开关和门磁已接线 confirm tamper and door contact are wired"),
        ),
        (
            "旧备份中的已删除数据 Deleted people in old backups",
            "部分落实 partial",
            "删除后本设备上的密文不可解；删除前的备份仍含其包裹的数据密钥，用当时的主密钥可解，"
            "须轮换主密钥（facegate keys rotate）并销毁旧密钥及其备份后才不可解。 A backup made "
            "before a deletion still opens with the master key of that time; only a key "
            "rotation, with the old key and its copies destroyed, makes it undecryptable.",
        ),
    ]
    return rows


def _key_protection(facts: ComplianceFacts) -> tuple[str, str]:
    """What protects the master key at rest, said exactly."""
    how = facts.key_protection
    if how == "passphrase":
        return "已落实 in force", (
            "主密钥以管理员口令（Argon2id）包裹：被盗的卡无口令不能解出模板；口令须在启动时提供。 "
            "Wrapped with an admin passphrase: a stolen card yields nothing without it."
        )
    if how == "rpi-otp":
        return "已落实 in force", (
            "主密钥与本树莓派的 OTP 私钥绑定（FGO1）：卡放到其他设备上打不开；本机 root 仍可读取。 "
            "Sealed to this Pi's OTP key: the card alone opens nowhere else; root on this Pi "
            "can still read it."
        )
    if how == "credential":
        return "待确认 unconfirmed", (
            "由 systemd 凭据提供：若用 systemd-creds 以 TPM 加密（LoadCredentialEncrypted=）则"
            "与设备绑定，否则凭据文件与数据库在同一张卡上。 From a systemd credential: bound to "
            "the device only when encrypted with a TPM (LoadCredentialEncrypted=)."
        )
    return "未落实 NOT in force", (
        "主密钥是与数据库同一张卡上的 0600 文件：被盗的卡可解出全部模板。请设置口令或"
        "`facegate keys seal`。 The key is a 0600 file on the same card as the database: a "
        "stolen card yields every template. Add a passphrase or `facegate keys seal`."
    )


def _least_intrusion(cfg: FacegateConfig) -> str:
    z = cfg.face_zone
    x0, _y0, x1, _y1 = z.region
    trigger = (
        "且仅在按下“刷脸”键或按钮之后（face_zone.trigger: request）；"
        if z.trigger == "request"
        else "（face_zone.trigger: zone）；"
    )
    trigger_en = (
        " and only after the face key or button is pressed (trigger: request)"
        if z.trigger == "request"
        else " (trigger: zone)"
    )
    return (
        f"仅处理人脸识别区域内的人脸（画面 {x0:.0%}–{x1:.0%}，宽度不小于 {z.min_face_px} 像素）"
        f"{trigger}区域外的人脸不提取特征、不比对；使用键盘或刷卡时暂停 {z.pause_s:g} 秒；"
        "不分析年龄、民族、情绪等特征；密码和门禁卡作为同等替代方式。 Only faces inside the "
        f"capture zone are processed{trigger_en}; faces outside are never embedded or "
        "searched; face pauses while a keypad or card is used; no attribute analysis; PIN and "
        "card are equal alternatives."
    )


def _filing_deadline(facts: ComplianceFacts) -> str:
    from .ledger import FILING_WORKING_DAYS, add_working_days

    crossed = facts.ledger.filing_crossed_on
    if crossed is None:
        return "- 达到门槛日期 Day the threshold was reached: 未达到 not reached"
    due = add_working_days(crossed, FILING_WORKING_DAYS, facts.holidays)
    return (
        f"- 达到门槛日期 Day the threshold was reached: {crossed.isoformat()}；备案期限 "
        f"filing due by {due.isoformat()} ({FILING_WORKING_DAYS} 个工作日 working days)"
    )


def _measures_table(rows: list[tuple[str, str, str]]) -> list[str]:
    out = ["| 措施 Measure | 状态 State | 依据 Evidence (from the running configuration) |"]
    out.append("| --- | --- | --- |")
    out += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return out


def _doors(cfg: FacegateConfig) -> str:
    return ", ".join(f"{d.id} ({_esc(d.name)})" if d.name else d.id for d in cfg.doors)


def _checklist_table(results: list[CheckResult]) -> list[str]:
    out = ["| 规则 Rule | 条款 Article | 结果 Status | 说明 Reason |", "| --- | --- | --- | --- |"]
    out += [f"| {r.rule_id} | {r.article} | {r.status.value} | {_esc(r.reason)} |" for r in results]
    return out


def _notice_version(cfg: FacegateConfig, notice: NoticeConfig | None) -> str:
    if notice is None:
        return to_fill("告知文本 notice: add a notice: section and run `facegate notice hash`")
    from .notice_text import build_notice

    return build_notice(cfg, notice).version


def pia_markdown(
    cfg: FacegateConfig,
    notice: NoticeConfig | None,
    filing: FilingConfig | None,
    facts: ComplianceFacts,
    *,
    today: dt.date,
) -> str:
    """The draft personal-information protection impact assessment (2025 Measures Art. 9).

    Args:
        cfg: the configuration.
        notice: the ``notice:`` section (None: those fields are marked to fill).
        filing: the ``filing:`` section (None: defaults).
        facts: the live state.
        today: the assessment's date (kept with it).
    """
    filing = filing or FilingConfig()
    results = run_checks(cfg, notice, filing, facts)
    name, contact, _hours = _controller(notice)
    r = cfg.retention
    fails = [x for x in results if x.status is Status.FAIL]
    lines = [
        "# 个人信息保护影响评估报告（草稿）",
        "# Personal Information Protection Impact Assessment (draft)",
        "",
        f"- 评估日期 Date: {today.isoformat()}",
        f"- 生成工具 Generated by: facegate {__version__}, from the running configuration and "
        "live state of this device",
        f"- 告知版本 Notice version: {_notice_version(cfg, notice)}",
        "- 依据 Basis: 《人脸识别技术应用安全管理办法》第九条; "
        "《个人信息保护法》第五十五、五十六条",
        "- 标注【待填写 / TO FILL】的内容须由处理者填写；签字后生效。"
        " Fields marked TO FILL must be completed by the operator; valid once signed.",
        "",
        "## 1. 基本情况 Basic information",
        "",
        f"- 个人信息处理者 Controller: {name}",
        f"- 联系方式 Contact: {contact}",
        f"- 统一社会信用代码 Unified social credit code: {to_fill('信用代码')}",
        f"- 个人信息保护负责人 Person responsible for PI protection: {to_fill('姓名、职务、电话')}",
        f"- 应用场所 Site: {_esc(cfg.site.name)} ({cfg.site.kind.value})",
        "",
        "## 2. 处理目的与必要性 Purpose and necessity (Art. 4)",
        "",
        f"- 处理目的 Purpose: {_esc(cfg.site.purpose)}",
        "- 必要性 Necessity: "
        + to_fill(
            "为何在此必须使用人脸识别，仅用密码/门禁卡为何不足 why face recognition is "
            "necessary here and why PIN/card alone are not sufficient"
        ),
        "- 最小影响 Least intrusion: " + _least_intrusion(cfg),
        "",
        "## 3. 处理方式 Method",
        "",
        "- 1:N 比对在本设备上完成，不联网；人脸图像不落盘，仅保存特征模板（加密）。"
        " 1:N matching on this device only, offline; images never stored, only encrypted "
        "templates.",
        f"- 特征提取 Embedder: {getattr(cfg.embedder, 'type', 'dlib')}; 匹配阈值由目标误识率推导 "
        f"threshold derived from a target false-positive identification rate of "
        f"{cfg.matcher.target_fpir:g}",
        "- 登记需单独同意（含告知版本）；未满十四周岁需监护人同意。 Enrolment needs separate "
        "consent naming the notice version; under 14 needs a guardian's consent.",
        "",
        "## 4. 处理范围 Scope",
        "",
        f"- 门禁点 Doors: {_doors(cfg)}",
        f"- 当前存储人脸的人数（去重） People with a stored face (de-duplicated), "
        f"{today.isoformat()}: {facts.people_with_face}",
        f"- 预计规模 Expected number of people: {to_fill('预计登记人数 expected count')}",
        "- 个人信息种类 Data: 人脸特征模板；同意记录；可选身份信息（姓名、房号、电话、出生年份，"
        "加密并与生物特征分开存储）；密码哈希；卡号键控哈希；假名化通行记录。 Face templates; "
        "consent records; optional identity (sealed, stored apart from biometrics); PIN "
        "hashes; keyed card hashes; pseudonymised events.",
        "",
        "## 5. 第九条评估事项 The four Art. 9 questions",
        "",
        "### 5.1 是否合法、正当、必要？ Lawful, legitimate and necessary?",
        "",
        f"- 场所类型 Site kind: {cfg.site.kind.value} — "
        + (
            "非私密场所 not a private space"
            if all(x.rule_id != "site_kind" or x.status is Status.PASS for x in results)
            else "私密场所，禁止使用 PRIVATE SPACE: not allowed (Art. 13)"
        ),
        "- 取得单独同意，刷脸非唯一方式。 Separate consent; face is never the only way in.",
        f"- 结论 Conclusion: {to_fill('合法性、正当性、必要性结论')}",
        "",
        "### 5.2 对个人权益的影响及降低不利影响的措施 Effect on rights and mitigations",
        "",
        "- 影响 Effect: 人脸信息属敏感个人信息，一旦泄露难以更改。 Face data is sensitive and "
        "cannot be changed once leaked.",
        "- 措施 Mitigations: 仅存加密模板；撤回即删除并出具回执；密码/门禁卡替代；"
        "拒绝者不会被反复询问。 Encrypted templates only; withdrawal deletes at once with a "
        "receipt; PIN/card alternative; people who decline are never asked again.",
        f"- 补充 Further mitigations: {to_fill('其他措施 other measures')}",
        "",
        "### 5.3 泄露、篡改、丢失、毁损风险 Risks of leakage, tampering, loss",
        "",
        "- 设备或存储卡被盗：模板以每人数据密钥加密，数据密钥由主密钥包裹；主密钥的保护见第 6 节"
        f"（本设备：{_key_protection(facts)[0]}）。 Device or card theft: templates sealed with "
        "per-person keys wrapped by the master key; what protects that key is in section 6.",
        "- 网络窃取：守护进程不建立外连；服务单元禁止 IP。 Network theft: no outbound "
        "connections; the unit denies IP.",
        "- 篡改：处理记录保存不少于三年；审计链见第 6 节。 Tampering: processing records kept "
        "≥ 3 years; audit chain see section 6.",
        f"- 其他风险 Other risks: {to_fill('现场特有风险 site-specific risks')}",
        "",
        "### 5.4 保护措施是否合法、有效并与风险相适应？ Are the measures lawful, effective, "
        "proportionate?",
        "",
        "- 未落实的措施 Measures not in force: "
        + (", ".join(f"{x.rule_id} ({x.article})" for x in fails) or "无 none"),
        f"- 结论 Conclusion: {to_fill('措施是否适当 are the measures proportionate')}",
        "",
        "## 6. 实际运行的安全保护措施 Security measures in force",
        "",
        f"按 {today.isoformat()} 本设备的运行配置与状态自动生成。 Generated from this device's "
        "running configuration and state.",
        "",
        *_measures_table(security_measures(cfg, facts, results)),
        "",
        "### 启动检查表 Start-up checklist",
        "",
        *_checklist_table(results),
        "",
        "## 7. 保存期限 Retention",
        "",
        f"- 人脸模板 Face templates: 自登记起最长 {r.template_days} 天；撤回即删除 "
        f"at most {r.template_days} days; deleted at once on withdrawal",
        f"- 假名化通行记录 Anonymized access events: {r.event_days} 天 days",
        f"- 处理记录 Processing records: {r.record_years} 年 years (不少于三年 at least three)",
        f"- 本评估报告及其所依据的处理记录保存不少于三年（本设备设置为 {r.record_years} 年）。"
        f" This assessment and the processing records behind it are kept at least three years "
        f"({r.record_years} configured).",
        "",
        "## 8. 评估结论 Overall conclusion",
        "",
        to_fill("评估结论及整改计划 conclusion and remediation plan"),
        "",
        "## 9. 签字 Signatures",
        "",
        "| 角色 Role | 姓名 Name | 签字 Signature | 日期 Date |",
        "| --- | --- | --- | --- |",
        f"| 评估人 Assessor | {to_fill('姓名')} |  |  |",
        f"| 个人信息保护负责人 PI protection officer | {to_fill('姓名')} |  |  |",
        f"| 处理者（盖章） Controller (seal) | {name} |  |  |",
        "",
    ]
    return "\n".join(lines)


def filing_markdown(
    cfg: FacegateConfig,
    notice: NoticeConfig | None,
    filing: FilingConfig | None,
    facts: ComplianceFacts,
    *,
    today: dt.date,
) -> str:
    """The filing content for the provincial cyberspace administration (Art. 15), pre-filled.

    Args:
        cfg: the configuration.
        notice: the ``notice:`` section (None: those fields are marked to fill).
        filing: the ``filing:`` section (None: defaults).
        facts: the live state (the de-duplicated count comes from here).
        today: the report's date.
    """
    filing = filing or FilingConfig()
    results = run_checks(cfg, notice, filing, facts)
    name, contact, hours = _controller(notice)
    r = cfg.retention
    n = facts.people_with_face
    must = n >= filing.threshold
    lines = [
        "# 人脸识别技术应用备案材料（草稿）",
        "# Filing of face recognition use (draft)",
        "",
        f"- 日期 Date: {today.isoformat()}",
        "- 依据 Basis: 《人脸识别技术应用安全管理办法》第十五条 (2025 Measures Art. 15)",
        f"- 备案编号 Filing reference: {filing.reference or to_fill('备案后填写 after filing')}",
        "- 标注【待填写 / TO FILL】的内容须由处理者填写。 Fields marked TO FILL must be "
        "completed by the operator.",
        "",
        "## 1. 处理者基本情况 Controller's basic information",
        "",
        "| 项目 Item | 内容 Content |",
        "| --- | --- |",
        f"| 名称 Name | {name} |",
        f"| 统一社会信用代码 Unified social credit code | {to_fill('信用代码')} |",
        f"| 住所 Registered address | {to_fill('地址 address')} |",
        f"| 法定代表人 Legal representative | {to_fill('姓名 name')} |",
        f"| 个人信息保护负责人 PI protection officer | {to_fill('姓名、电话 name, phone')} |",
        f"| 联系方式 Contact | {contact} |",
        f"| 办公时间 Office hours | {hours} |",
        f"| 应用场所 Site | {_esc(cfg.site.name)} ({cfg.site.kind.value}) |",
        f"| 场所地址 Site address | {to_fill('场所地址 site address')} |",
        "",
        "## 2. 处理目的和方式 Purpose and method",
        "",
        f"- 目的 Purpose: {_esc(cfg.site.purpose)}",
        "- 方式 Method: 门禁设备本地 1:N 人脸比对；不联网；仅保存加密特征模板，不保存人脸图像；"
        "密码和门禁卡为同等替代方式。 Local 1:N matching on the gate device, offline; encrypted "
        "templates only, no images; PIN and card as equal alternatives.",
        f"- 门禁点 Doors: {_doors(cfg)}",
        f"- 设备数量 Number of devices: {to_fill('设备数量 devices')}",
        "",
        "## 3. 存储人脸信息的数量 Number of people whose faces are stored",
        "",
        f"- 去重人数 Distinct people with a stored face ({today.isoformat()}): **{n}**",
        f"- 备案门槛 Filing threshold: {filing.threshold} "
        + (
            "(已达到，须在 30 个工作日内备案 reached: file within 30 working days)"
            if must
            else "(未达到 not reached)"
        ),
        _filing_deadline(facts),
        "- 统计方法 Method: 本设备存储中至少有一个人脸模板的不同个人（假名）数量。 Count of "
        "distinct pseudonymous people with at least one template in this device's store.",
        "- 其他设备合计 Total across the controller's other devices: "
        + to_fill("如有多台设备 if several devices"),
        "",
        "## 4. 安全保护措施 Security measures",
        "",
        *_measures_table(security_measures(cfg, facts, results)),
        "",
        "## 5. 处理规则和操作规程 Processing rules and procedures",
        "",
        f"- 告知 Notice: 门禁处张贴告知，版本 {_notice_version(cfg, notice)}；"
        "同意记录载明告知版本。"
        " A notice sign is posted at the gate; every consent names its version.",
        "- 同意 Consent: 登记前取得单独同意（方式、时间、经办人、告知版本）；不满十四周岁取得监护人"
        "同意。 Separate consent before enrolment (method, time, operator, notice version); "
        "guardian consent under 14.",
        "- 替代方式 Alternatives: 任何人可选择密码或门禁卡，不因拒绝刷脸受到区别对待。 Anyone may "
        "use PIN or card; no one is treated differently for declining.",
        "- 撤回与删除 Withdrawal and deletion: "
        + (_esc(localized(notice.withdrawal_how, "zh-CN") or "") if notice else "")
        + " 撤回即删除模板并出具删除回执。 Withdrawal deletes the template at once, with a "
        "receipt.",
        f"- 保存期限 Retention: 模板最长 {r.template_days} 天，通行记录 {r.event_days} 天，"
        "处理记录 "
        f"{r.record_years} 年。 Templates ≤ {r.template_days} days, events {r.event_days} days, "
        f"records {r.record_years} years.",
        "- 管理权限 Administration: 仅通过本机管理命令；"
        + to_fill("授权的管理人员名单 authorised administrators"),
        "- 安全事件处置 Incident response: "
        + to_fill("事件处置流程与联系人 incident procedure and contact"),
        "",
        "## 6. 个人信息保护影响评估 Impact assessment",
        "",
        f"- 评估日期 Date of the PIA: {to_fill('日期 date')} "
        "(`facegate pia render` 生成草稿 drafts it)",
        f"- 评估结论 Conclusion: {to_fill('结论摘要 summary')}",
        "- 附件 Attachment: 签字的影响评估报告 the signed PIA",
        "",
        "## 7. 启动检查表 Start-up checklist",
        "",
        *_checklist_table(results),
        "",
        "## 8. 签字 Signature",
        "",
        "| 角色 Role | 姓名 Name | 签字 Signature | 日期 Date |",
        "| --- | --- | --- | --- |",
        f"| 填报人 Prepared by | {to_fill('姓名')} |  |  |",
        f"| 处理者（盖章） Controller (seal) | {name} |  |  |",
        "",
    ]
    return "\n".join(lines)
