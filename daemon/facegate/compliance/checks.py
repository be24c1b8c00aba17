"""The start-up checklist: one row per rule of the 2025 Measures, PASS / WARN / FAIL.

``run_checks`` is a pure function of the configuration and :class:`ComplianceFacts`; it does
no I/O, so every rule is tested with made-up state. ``facegate compliance check`` prints the
table; ``facegate run`` runs the same checks before it opens anything and refuses to start on
any FAIL (exit 3, the relay never energised). A WARN never blocks: it marks what this device
cannot prove yet (no audit trail in this build, no unit file found, …).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..config.filing import FilingConfig
from ..config.notice import NoticeConfig, localized
from ..config.site import PRIVATE_SPACE_KINDS
from .checks_workflow import door_windows_rule, filing_rule, pia_rule
from .facts import ComplianceFacts, lan_address
from .result import CheckResult, Status

if TYPE_CHECKING:
    from ..config import FacegateConfig

__all__ = [
    "EXIT_FAIL",
    "CheckResult",
    "Status",
    "exit_code",
    "failures",
    "run_checks",
    "summary",
]

EXIT_FAIL = 3


_PLACEHOLDER = re.compile(
    r"TODO|TBD|FIXME|待填写|待定|xxx|changeme|lorem ipsum|<[^>]*>|example\.(?:com|org|net)",
    re.IGNORECASE,
)
# Any of these in a configuration value would send data somewhere.
_NETWORK_URL = re.compile(
    # A Path field collapses "//", so one slash is enough; a bare IPv4 address with a port
    # is a sink too.
    r"\b(?:https?|ftps?|sftp|mqtts?|wss?|tcp|udp|amqps?|s3|gs|smtp|redis|kafka):/{1,2}"
    r"|\b\d{1,3}(?:\.\d{1,3}){3}:\d{2,5}\b",
    re.IGNORECASE,
)
_CAMERA_STREAM = re.compile(r"\b(?:rtsp|rtmp|https?):/{1,2}", re.IGNORECASE)


def _placeholder(value: str | None) -> bool:
    return value is None or not value.strip() or bool(_PLACEHOLDER.search(value))


# -- the rules -------------------------------------------------------------------------------


def _purpose(cfg: FacegateConfig, *_: Any) -> CheckResult:
    art = "Art. 4"
    if _placeholder(cfg.site.purpose):
        return CheckResult("purpose", art, Status.FAIL, "site.purpose is a placeholder; state it")
    return CheckResult("purpose", art, Status.PASS, "site.purpose states a specific purpose")


def _controller(cfg: FacegateConfig, notice: NoticeConfig | None, *_: Any) -> CheckResult:
    art = "Art. 5"
    if notice is None:
        return CheckResult(
            "controller", art, Status.FAIL, "no notice: section (controller name and contact)"
        )
    bad = [
        key
        for key, value in (
            ("notice.controller_name", notice.controller_name),
            ("notice.controller_contact", notice.controller_contact),
        )
        if any(_placeholder(localized(value, lang)) for lang in notice.languages)
    ]
    if bad:
        return CheckResult(
            "controller", art, Status.FAIL, f"{', '.join(bad)}: empty or a placeholder"
        )
    return CheckResult("controller", art, Status.PASS, "controller name and contact stated")


def _retention(cfg: FacegateConfig, *_: Any) -> CheckResult:
    art = "Art. 5, 8"
    r = cfg.retention
    if "retention" not in cfg.model_fields_set:
        return CheckResult(
            "retention",
            art,
            Status.FAIL,
            "no retention: section; state template_days, event_days and record_years "
            f"(defaults would be {r.template_days} d / {r.event_days} d / {r.record_years} y)",
        )
    return CheckResult(
        "retention",
        art,
        Status.PASS,
        f"templates ≤ {r.template_days} d, events {r.event_days} d, records {r.record_years} y",
    )


def _notice(
    cfg: FacegateConfig, notice: NoticeConfig | None, _f: FilingConfig, facts: ComplianceFacts
) -> CheckResult:
    from .notice_text import SHORT_VERSION_CHARS, build_notice

    art = "Art. 5"
    if notice is None:
        return CheckResult("notice", art, Status.FAIL, "no notice: section; the sign is required")
    try:
        bundle = build_notice(cfg, notice)
    except (ValueError, KeyError) as exc:  # pragma: no cover - config validation prevents it
        return CheckResult("notice", art, Status.FAIL, f"the notice text cannot be built: {exc}")
    short = bundle.short_version
    if facts.notice_hash_recorded is None:
        return CheckResult(
            "notice",
            art,
            Status.FAIL,
            f"version {short} not recorded: run `facegate notice render` or "
            "`facegate notice hash --record` and post the sign",
        )
    if facts.notice_hash_recorded != bundle.version:
        old = facts.notice_hash_recorded[:SHORT_VERSION_CHARS]
        return CheckResult(
            "notice",
            art,
            Status.FAIL,
            f"the notice changed (now {short}, recorded {old}): render, post and record it",
        )
    if "zh-CN" in notice.languages and facts.cjk_font is None:
        return CheckResult(
            "notice",
            art,
            Status.WARN,
            f"version {short} recorded; no CJK font here to render it "
            "(apt-get install fonts-wqy-microhei)",
        )
    if facts.notice_rendered is False:
        return CheckResult(
            "notice",
            art,
            Status.FAIL,
            f"version {short} is recorded but a sign of it was never rendered: run "
            "`facegate notice render` (PDF or PNG) and post it",
        )
    return CheckResult("notice", art, Status.PASS, f"version {short} rendered and recorded")


def _site_kind(cfg: FacegateConfig, *_: Any) -> CheckResult:
    art = "Art. 13"
    kind = cfg.site.kind
    if kind in PRIVATE_SPACE_KINDS:
        return CheckResult(
            "site_kind",
            art,
            Status.FAIL,
            f"site.kind is {kind.value}: no face recognition in private spaces",
        )
    return CheckResult("site_kind", art, Status.PASS, f"site.kind is {kind.value}")


def _alternatives(cfg: FacegateConfig, _n: Any, _f: Any, facts: ComplianceFacts) -> CheckResult:
    art = "Art. 10"
    if facts.doors is None:
        return CheckResult(
            "alternatives",
            art,
            Status.WARN,
            "door access modes not known in this build; cannot confirm PIN/card on every door",
        )
    bad = [d.door_id for d in facts.doors if d.accepts_face and not d.has_pin_or_card_reader]
    if bad:
        return CheckResult(
            "alternatives",
            art,
            Status.FAIL,
            f"door(s) {', '.join(bad)} accept faces without a working PIN or card reader",
        )
    known = {d.door_id for d in facts.doors}
    missing = [d.id for d in cfg.doors if d.id not in known]
    if missing:
        return CheckResult(
            "alternatives", art, Status.WARN, f"no access facts for door(s) {', '.join(missing)}"
        )
    return CheckResult("alternatives", art, Status.PASS, "every face door also takes PIN or card")


def _walk(value: Any, path: str = "") -> Iterable[tuple[str, str]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]")
    elif isinstance(value, str):
        yield path, value


def _liveness(cfg: FacegateConfig, *_: Any) -> CheckResult:
    art = "Art. 14"
    camera_door = cfg.doors[0].id
    mode = cfg.liveness_mode(camera_door)
    if mode == "off":
        return CheckResult(
            "liveness",
            art,
            Status.WARN,
            f"liveness is off at door {camera_door}: a photo of a resident opens it",
        )
    pad = cfg.liveness.model
    model = f" with the anti-spoofing model {pad.path.name}" if pad is not None else ""
    return CheckResult("liveness", art, Status.PASS, f"door {camera_door}: {mode}{model}")


def _no_network_sink(cfg: FacegateConfig, notice: NoticeConfig | None, *_: Any) -> CheckResult:
    art = "Art. 8"
    data = cfg.model_dump(mode="json")
    sinks: list[str] = []
    stream = False
    for path, value in _walk(data):
        if path.startswith("camera.") and _CAMERA_STREAM.search(value):
            stream = True
        elif path.startswith("notice."):
            continue  # the sign's own text may name a web page for questions
        elif _NETWORK_URL.search(value):
            sinks.append(path)
    if sinks:
        return CheckResult(
            "no_network_sink",
            art,
            Status.FAIL,
            f"network address in {', '.join(sinks)}: biometric data never leaves the device",
        )
    if stream:
        return CheckResult(
            "no_network_sink",
            art,
            Status.WARN,
            "camera is a network stream: keep it on an isolated link to this device",
        )
    if cfg.compound is not None:
        broker = cfg.compound.broker
        if not lan_address(broker):
            return CheckResult(
                "no_network_sink",
                art,
                Status.FAIL,
                f"compound.broker {broker} is not a private LAN address: give the office "
                "node's LAN IP (the compound's data never leaves the compound)",
            )
        return CheckResult(
            "no_network_sink",
            art,
            Status.PASS,
            f"only the compound's broker {broker} on the LAN: sealed enrolments in, "
            "pseudonymised events and signed receipts out; no face image leaves this device",
        )
    return CheckResult(
        "no_network_sink", art, Status.PASS, "nothing in the config sends data anywhere"
    )


def _unit_network(cfg: Any, _n: Any, _f: Any, facts: ComplianceFacts) -> CheckResult:
    art = "Art. 8"
    if facts.unit_denies_ip is None:
        return CheckResult(
            "unit_denies_ip",
            art,
            Status.WARN,
            "facegate.service not found; install the hardened unit (IPAddressDeny=any)",
        )
    compound = getattr(cfg, "compound", None)
    if not facts.unit_denies_ip:
        fix = "set IPAddressDeny=any or PrivateNetwork=yes"
        if compound is not None:
            fix = f"keep IPAddressDeny=any and allow only IPAddressAllow={compound.broker}/32"
        return CheckResult(
            "unit_denies_ip", art, Status.FAIL, f"facegate.service allows IP traffic; {fix}"
        )
    if compound is not None:
        return CheckResult(
            "unit_denies_ip",
            art,
            Status.PASS,
            f"the service unit denies IP traffic except to the compound's broker {compound.broker}",
        )
    return CheckResult("unit_denies_ip", art, Status.PASS, "the service unit denies IP traffic")


def _store_encrypted(_c: Any, _n: Any, _f: Any, facts: ComplianceFacts) -> CheckResult:
    art = "Art. 14"
    if not facts.store_encrypted:
        why = facts.store_error or "the store is not sealed with a master key"
        return CheckResult("store_encrypted", art, Status.FAIL, why)
    return CheckResult("store_encrypted", art, Status.PASS, "templates sealed with per-person keys")


def _key_file(_c: Any, _n: Any, _f: Any, facts: ComplianceFacts) -> CheckResult:
    art = "Art. 14"
    if facts.key_is_credential:
        return CheckResult("key_file", art, Status.PASS, "master key from a systemd credential")
    mode = facts.key_file_mode
    if mode is None:
        return CheckResult(
            "key_file", art, Status.FAIL, "no master key file; run `facegate keys init`"
        )
    if mode & 0o077:
        return CheckResult(
            "key_file", art, Status.FAIL, f"master key file has mode {mode:04o}; chmod 600 it"
        )
    return CheckResult("key_file", art, Status.PASS, f"master key file mode {mode:04o}")


def _audit(_c: Any, _n: Any, _f: Any, facts: ComplianceFacts) -> CheckResult:
    art = "Art. 9, 14"
    if facts.audit_verified is None:
        return CheckResult(
            "audit_chain",
            art,
            Status.WARN,
            "no audit trail yet: the daemon starts the signed chain at its first start "
            "(`facegate audit verify` checks it from then on)",
        )
    if not facts.audit_verified:
        why = facts.audit_problem or "the audit chain does not verify"
        return CheckResult("audit_chain", art, Status.FAIL, f"{why}; see `facegate audit verify`")
    if facts.audit_torn_bytes:
        return CheckResult(
            "audit_chain",
            art,
            Status.WARN,
            f"the audit chain verifies, but its last line is an incomplete write "
            f"({facts.audit_torn_bytes} bytes, a crash or power cut); the daemon drops it at "
            "start with a signed record, or run `facegate audit repair`",
        )
    return CheckResult("audit_chain", art, Status.PASS, "the audit chain verifies")


def _admin_socket(_c: Any, _n: Any, _f: Any, facts: ComplianceFacts) -> CheckResult:
    art = "Art. 14"
    mode = facts.admin_socket_mode
    if mode is None:
        # Stopped, or this is the daemon's own start-up checklist (the socket comes last).
        return CheckResult(
            "admin_socket",
            art,
            Status.WARN,
            "the daemon is stopped, so there is no admin socket to check; it creates the "
            "socket when it starts, mode 0660 (run `facegate compliance check` again while "
            "it runs)",
        )
    if facts.daemon_running is False:
        return CheckResult(
            "admin_socket",
            art,
            Status.WARN,
            f"the daemon is stopped (a stale socket file, mode {mode:04o}, answers nobody); "
            "it is replaced at the next start, mode 0660",
        )
    if mode & 0o007:
        return CheckResult(
            "admin_socket",
            art,
            Status.FAIL,
            f"admin socket mode {mode:04o} lets any local user connect; it must be 0660 or less",
        )
    return CheckResult("admin_socket", art, Status.PASS, f"admin socket mode {mode:04o}")


def _consent(_c: Any, _n: Any, _f: Any, facts: ComplianceFacts) -> CheckResult:
    art = "Art. 6"
    if facts.store_error is not None:
        return CheckResult("consent", art, Status.WARN, "the store could not be read; not counted")
    if facts.faces_without_consent:
        return CheckResult(
            "consent",
            art,
            Status.FAIL,
            f"{facts.faces_without_consent} stored face(s) have no live consent record; "
            "delete them (`facegate person delete`)",
        )
    return CheckResult("consent", art, Status.PASS, "every stored face has a consent record")


def _guardian(_c: Any, _n: Any, _f: Any, facts: ComplianceFacts) -> CheckResult:
    art = "Art. 7"
    if facts.store_error is not None:
        return CheckResult(
            "guardian_consent", art, Status.WARN, "the store could not be read; not counted"
        )
    if facts.minors_without_guardian:
        return CheckResult(
            "guardian_consent",
            art,
            Status.FAIL,
            f"{facts.minors_without_guardian} minor(s) have a face without guardian consent",
        )
    return CheckResult(
        "guardian_consent", art, Status.PASS, "every minor's face has guardian consent"
    )


def _face_space(_c: Any, _n: Any, _f: Any, facts: ComplianceFacts) -> CheckResult:
    art = "Art. 10"  # whoever the face path cannot recognise uses the other ways in
    if facts.store_error is not None:
        return CheckResult("face_templates", art, Status.WARN, "the store could not be read")
    if facts.faces_to_reenrol:
        return CheckResult(
            "face_templates",
            art,
            Status.WARN,
            f"{facts.faces_to_reenrol} people have a face only from another embedder (not "
            f"{facts.face_space}): they are not recognised until they enrol again "
            "(`facegate person list`); PIN and card still work",
        )
    return CheckResult(
        "face_templates", art, Status.PASS, "every stored face matches the configured embedder"
    )


Rule = Callable[[Any, Any, Any, ComplianceFacts], CheckResult]

RULES: tuple[Rule, ...] = (
    _purpose,
    _controller,
    _retention,
    _notice,
    _site_kind,
    _alternatives,
    door_windows_rule,
    _liveness,
    _no_network_sink,
    _unit_network,
    _store_encrypted,
    _key_file,
    _audit,
    _admin_socket,
    filing_rule,
    pia_rule,
    _consent,
    _guardian,
    _face_space,
)


def run_checks(
    cfg: FacegateConfig,
    notice: NoticeConfig | None,
    filing: FilingConfig | None,
    facts: ComplianceFacts,
) -> list[CheckResult]:
    """Judge the configuration and the live state against every rule, in checklist order.

    Args:
        cfg: the validated configuration.
        notice: the ``notice:`` section (``cfg.notice`` once wired); None counts as missing.
        filing: the ``filing:`` section; None means the defaults.
        facts: live state from :func:`facegate.compliance.facts.gather_facts`.
    """
    filing = filing or FilingConfig()
    return [rule(cfg, notice, filing, facts) for rule in RULES]


def failures(results: Iterable[CheckResult]) -> list[CheckResult]:
    """The rows that block start-up."""
    return [r for r in results if r.status is Status.FAIL]


def exit_code(results: Iterable[CheckResult]) -> int:
    """3 when any rule FAILs, else 0."""
    return EXIT_FAIL if failures(results) else 0


def summary(results: Iterable[CheckResult]) -> str:
    """``"12 PASS, 3 WARN, 0 FAIL"``."""
    rows = list(results)
    counts = {s: sum(1 for r in rows if r.status is s) for s in Status}
    return ", ".join(f"{counts[s]} {s.value}" for s in (Status.PASS, Status.WARN, Status.FAIL))
