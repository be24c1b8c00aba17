"""The console's words in Simplified Chinese (the default) and English."""

from __future__ import annotations

__all__ = ["LANGS", "translate"]

LANGS = ("zh-CN", "en")

# key: (zh-CN, en)
_T: dict[str, tuple[str, str]] = {
    "title": ("facegate 门禁管理", "facegate console"),
    "dashboard": ("总览", "Dashboard"),
    "people": ("人员", "People"),
    "events": ("通行记录", "Events"),
    "compliance": ("合规", "Compliance"),
    "audit": ("审计", "Audit"),
    "logout": ("退出", "Log out"),
    "login": ("登录", "Log in"),
    "username": ("用户名", "User name"),
    "password": ("密码", "Password"),
    "totp": ("动态验证码（如已启用）", "Authenticator code (if enabled)"),
    "login_failed": ("用户名、密码或验证码不正确。", "Wrong user name, password or code."),
    "login_rate": (
        "登录尝试过多，请稍后再试。",
        "Too many login attempts from here; wait a few minutes.",
    ),
    "login_locked": (
        "该账户因多次登录失败已被暂时锁定（15 分钟）。",
        "This account is locked for 15 minutes after repeated failed logins.",
    ),
    "csrf": (
        "表单已过期或来源无效，请重新提交。",
        "The form expired or did not come from this console; submit it again.",
    ),
    "forbidden": ("您的角色无权执行此操作。", "Your role may not do this."),
    "daemon_down": (
        "门禁守护进程未响应：以下信息可能不是最新的。门禁本身（密码、门卡、出门按钮）不受影响。",
        "The gate daemon is not answering: what is shown may be out of date. The gate itself "
        "(PIN, card, exit button) does not depend on this console.",
    ),
    "role": ("角色", "Role"),
    "doors": ("门", "Doors"),
    "locked": ("已锁", "locked"),
    "released": ("已开", "released"),
    "open_door": ("远程开门", "Open remotely"),
    "ways_in": ("通行方式", "Ways in"),
    "up": ("正常", "up"),
    "down": ("故障", "down"),
    "alarms": ("告警", "Alarms"),
    "none": ("无", "none"),
    "today": ("今日统计", "Today"),
    "granted": ("通过", "granted"),
    "denied": ("拒绝", "denied"),
    "pending": ("待第二因素", "pending"),
    "alarm": ("告警", "alarm"),
    "live": ("实时记录", "Live timeline"),
    "time": ("时间", "Time"),
    "door": ("门", "Door"),
    "method": ("方式", "Way in"),
    "result": ("结果", "Result"),
    "subject": ("人员（假名）", "Person (pseudonym)"),
    "reason": ("原因", "Reason"),
    "filter": ("筛选", "Filter"),
    "all": ("全部", "all"),
    "date": ("日期", "Date"),
    "per_hour": ("每小时通过/拒绝", "Grants and denials per hour"),
    "by_method": ("按通行方式", "By way in"),
    "events_window": (
        "显示守护进程返回的最近 {n} 条记录。",
        "Showing the daemon's latest {n} events.",
    ),
    "find": ("查找", "Find"),
    "find_hint": (
        "假名（p-…）；管理员还可按姓名或房号查找",
        "pseudonym (p-…); admins may also search names and units",
    ),
    "enrol": ("登记新人员", "Enrol a person"),
    "templates": ("人脸模板", "Face templates"),
    "credentials": ("密码/门卡", "PIN/card"),
    "consent": ("同意记录", "Consent"),
    "minor": ("未成年人", "Minor"),
    "face_until": ("人脸保留至", "Face kept until"),
    "name": ("姓名", "Name"),
    "unit": ("房号", "Unit"),
    "phone": ("电话", "Phone"),
    "detail": ("详情", "Detail"),
    "withdraw": ("撤回同意（删除人脸）", "Withdraw consent (delete the face)"),
    "withdraw_creds": ("同时删除密码和门卡", "Also remove PIN and card"),
    "delete": ("删除全部信息", "Delete everything"),
    "confirm_delete": (
        "输入该人员的假名以确认删除：",
        "Type the person's pseudonym to confirm the deletion:",
    ),
    "receipt": ("回执", "Receipt"),
    "download": ("下载", "Download"),
    "no_people": ("没有找到人员。", "No one found."),
    "photos": ("照片（1 至 3 张，每张不超过 4 MB）", "Photos (1 to 3, each at most 4 MB)"),
    "consent_method": ("同意方式", "How consent was given"),
    "paper-form": ("纸质同意书", "paper form"),
    "e-signature": ("电子签名", "e-signature"),
    "tablet-signature": ("平板签名", "signature on a tablet"),
    "consent_ref": ("同意书编号或电子签名编号", "Signed form's number or e-signature id"),
    "age": ("年龄（人脸登记必须明确）", "Age (a face needs it stated)"),
    "age_by_year": ("按出生年份", "from the birth year"),
    "adult": ("已满 14 周岁（本人确认）", "14 or older (attested)"),
    "child": ("未满 14 周岁（需监护人同意）", "under 14 (a guardian consents)"),
    "notice_version": ("告知书版本", "Notice version"),
    "taken_by": ("经办人", "Taken by"),
    "scope": ("范围（门，逗号分隔；空=全部）", "Scope (doors, comma-separated; empty: all)"),
    "birth_year": ("出生年份", "Birth year"),
    "guardian_name": ("监护人姓名", "Guardian's name"),
    "guardian_relation": ("监护关系", "Guardian's relation"),
    "guardian_method": ("监护人同意方式", "How the guardian consented"),
    "consent_ack": (
        "本人已阅读告知书，并单独同意处理其人脸信息（可随时撤回；可改用密码或门卡）。",
        "The person read the notice and separately consents to their face being processed "
        "(withdrawable at any time; PIN or card remain available instead).",
    ),
    "submit": ("提交", "Submit"),
    "enrolled": ("已登记 {p}，即时生效。", "Enrolled {p}; active now."),
    "photos_memory": (
        "照片仅在内存中处理，不会保存。",
        "Photos are processed in memory only and never stored.",
    ),
    "needs_daemon": (
        "需要守护进程支持（尚未提供此命令）：{what}",
        "Needs daemon support (no admin command yet): {what}",
    ),
    "checklist": ("启动检查清单", "Start-up checklist"),
    "notice": ("告知标识", "Notice sign"),
    "preview": ("预览", "Preview"),
    "pia": ("个人信息保护影响评估（草稿）", "Impact assessment (draft)"),
    "filing": ("备案报告（草稿）", "Filing report (draft)"),
    "verify": ("校验审计日志", "Verify the audit trail"),
    "verify_ok": ("审计日志完整：{n} 条记录，签名有效。", "The trail is intact: {n} records."),
    "verify_bad": ("审计日志已损坏：{where}", "The trail is broken: {where}"),
    "export": ("导出", "Export"),
    "bad_input": ("输入有误：{msg}", "Please check: {msg}"),
    "withdrawn": ("已撤回 {p} 的人脸信息。", "The face of {p} was deleted."),
    "deleted": ("已删除 {p} 的全部信息。", "Everything of {p} was deleted."),
    "export_person": ("导出个人信息（已签名）", "Export their information (signed)"),
    "exported": ("已导出 {p} 的个人信息。", "The information of {p} was exported."),
    "correct": ("更正个人信息", "Correct their information"),
    "corrected": ("已更正 {p} 的信息。", "The information of {p} was corrected."),
    "nothing_to_correct": ("请至少填写一项。", "fill in at least one field"),
    "not_found": ("页面不存在。", "No such page."),
    "daemon_said": ("守护进程拒绝：{msg}", "The daemon refused: {msg}"),
    "requests": ("权利请求", "Rights requests"),
    "requests_hint": (
        "个人行使查阅、复制、更正、删除、撤回等权利的请求登记；"
        "须在收到后规定的工作日内（默认 15 个）答复。",
        "The log of people's requests (access, copy, correction, deletion, withdrawal...); each "
        "is due within the configured working days (15 by default) of the day it was received.",
    ),
    "request": ("编号", "Request"),
    "kind": ("类型", "Kind"),
    "channel": ("渠道", "Channel"),
    "received": ("收到日期", "Received"),
    "due": ("答复期限", "Due"),
    "overdue": ("已逾期", "overdue"),
    "answered": ("已答复", "Answered"),
    "answer": ("标记为已答复", "Mark answered"),
    "open_only": ("仅显示未答复", "Open only"),
    "record_request": ("登记新请求", "Record a request"),
    "request_recorded": ("已登记请求 {r}，答复期限 {due}。", "Recorded {r}; due {due}."),
    "request_answered": ("请求 {r} 已标记为已答复。", "{r} is marked answered."),
    "kind_access": ("查阅", "access"),
    "kind_copy": ("复制", "copy"),
    "kind_correction": ("更正", "correction"),
    "kind_deletion": ("删除", "deletion"),
    "kind_withdrawal": ("撤回同意", "withdrawal"),
    "kind_explanation": ("解释说明", "explanation"),
    "kind_other": ("其他", "other"),
    "channel_in-person": ("当面", "in person"),
    "channel_phone": ("电话", "phone"),
    "channel_email": ("电子邮件", "email"),
    "channel_letter": ("信函", "letter"),
    "channel_other": ("其他", "other"),
    "outcome_done": ("已办理", "done"),
    "outcome_partly": ("部分办理", "partly"),
    "outcome_refused": ("拒绝（已说明理由）", "refused (reasons given)"),
    "reconsent": ("重新同意", "Re-consent"),
    "reconsent_hint": (
        "告知书更新后，按旧版本同意的人员须在期限内重新同意，"
        "否则其人脸信息到期删除（密码、门卡不受影响）。",
        "After a new notice is posted, people who consented under an older one must consent "
        "again by the deadline, or their face expires (PIN and card stay).",
    ),
    "reconsent_deadline": ("期限", "Deadline"),
    "given": ("同意时间", "Given"),
    "renew": ("记录新的同意", "Record the new consent"),
    "reconsented": ("已记录 {p} 按当前告知书的同意。", "{p} consented under the current notice."),
    "from": ("起", "From"),
    "to": ("止（含）", "To (inclusive)"),
    "audit_export_hint": (
        "下载该期间的已签名审计包（.tar.gz），可用 facegate audit verify --bundle 核验。",
        "Download the signed audit bundle of a period (.tar.gz); check it anywhere with "
        "`facegate audit verify --bundle`.",
    ),
    "enrol_camera": ("从门口摄像头登记", "Enrol from the gate camera"),
    "camera_hint": (
        "请本人单独站在门口摄像头前（最多等待 30 秒）；画面不离开门禁设备，也不保存。"
        "摄像头会登记第一个单独进入识别区的人脸：请确认站在那里的是本人"
        "（若设为按键触发，本人需在门口按人脸键确认）。",
        "The person stands alone at the gate camera (up to 30 s); no image leaves the gate "
        "or is stored. The first face alone in the zone is enrolled: make sure it is this "
        "person (with face_zone.trigger: request they confirm with the face key or button).",
    ),
    "lang_switch": ("English", "中文"),
}


def translate(lang: str, key: str, **values: object) -> str:
    pair = _T.get(key)
    if pair is None:
        return key
    text = pair[1] if lang == "en" else pair[0]
    return text.format(**values) if values else text
