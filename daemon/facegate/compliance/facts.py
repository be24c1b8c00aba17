"""The live state the start-up checklist judges, and the adapter that reads it.

``ComplianceFacts`` is plain values, so ``run_checks`` stays a pure function that tests drive
with any state they like. ``gather_facts`` reads them from this device: the store (counts,
consent records), the key file, the systemd unit, the admin socket, the recorded notice
versions. What this build cannot know yet is ``None`` (the checklist then says WARN, never
PASS).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import os
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import FacegateError
from .ledger import LedgerFacts

if TYPE_CHECKING:
    from ..config import FacegateConfig
    from ..config.notice import NoticeConfig
    from ..store import Store

__all__ = [
    "DEFAULT_UNIT_PATHS",
    "ComplianceFacts",
    "DoorFact",
    "DoorFacts",
    "consent_counts",
    "gather_facts",
    "unit_denies_ip",
]

logger = logging.getLogger(__name__)

DEFAULT_UNIT_PATHS: tuple[Path, ...] = (
    Path("/etc/systemd/system/facegate.service"),
    Path("/usr/local/lib/systemd/system/facegate.service"),
    Path("/lib/systemd/system/facegate.service"),
    Path("/usr/lib/systemd/system/facegate.service"),
)


@dataclass(slots=True, frozen=True)
class DoorFact:
    """Whether a door takes faces, and whether it has a working PIN or card reader (Art. 10)."""

    door_id: str
    accepts_face: bool
    has_pin_or_card_reader: bool


DoorFacts = Sequence[DoorFact] | Callable[["FacegateConfig"], Sequence[DoorFact]]


@dataclass(slots=True, frozen=True)
class ComplianceFacts:
    """Live state for the checklist. ``None`` means "not known in this build" (→ WARN).

    Attributes:
        people_with_face: distinct people with at least one stored template.
        faces_without_consent: people with a template but no live (unwithdrawn) consent.
        minors_without_guardian: minors with a template but no live guardian consent.
        key_file_mode: permission bits of the master key file; None when it is missing.
        key_is_credential: the key comes from systemd ``LoadCredential=`` (mode is systemd's).
        store_encrypted: the store opened with the master key and is sealed with it.
        store_error: why the store could not be read, if it could not.
        audit_verified: the audit hash chain verified; None when there is no audit trail
            yet (a first start: no store either).
        audit_torn_bytes: the chain verified, but its last line is an incomplete write of
            this many bytes (a crash or power cut; the daemon drops it at start).
        audit_problem: why the chain does not verify, or why it is missing.
        admin_socket_mode: permission bits of the admin socket; None when there is none.
        unit_denies_ip: the systemd unit denies IP traffic; None when no unit file is found.
        notice_hash_recorded: the recorded notice version (the current one when it is
            recorded, else the latest); None when none is recorded.
        doors: one fact per door; None until door access modes are configurable.
        cjk_font: the CJK font the notice renders with; None when none is installed.
        door_problems: what ``policy.check_doors`` finds (a face-only time window …), the
            same check ``facegate run`` makes; None when not looked at.
        notice_rendered: a sign (PDF, PNG or HTML) was rendered for the recorded version;
            None when not known.
        daemon_running: the daemon answers on its admin socket (None: not looked at).
        ledger: filing, PIA and incident records (``compliance/ledger.json``).
        scope: the current processing scope (``ledger.processing_scope``); None: unknown.
        today: the local date the checklist judges deadlines on; None: not known.
        holidays: non-working days for the filing deadline (``calendar.holidays``).
        key_protection: what protects the master key at rest: ``plain`` (a 0600 file, on
            the same card as the database), ``passphrase`` (Argon2id-wrapped), ``rpi-otp``
            (sealed to the Pi's OTP key), ``credential`` (a systemd credential); None:
            unknown (no key file).
        faces_to_reenrol: people whose stored face is only in another embedding space than
            the configured embedder's (they must enrol again; nothing is converted).
        face_space: the configured embedder's embedding space (None: not known).
    """

    people_with_face: int = 0
    faces_without_consent: int = 0
    minors_without_guardian: int = 0
    key_file_mode: int | None = None
    key_is_credential: bool = False
    store_encrypted: bool = False
    store_error: str | None = None
    audit_verified: bool | None = None
    audit_torn_bytes: int = 0
    audit_problem: str | None = None
    admin_socket_mode: int | None = None
    unit_denies_ip: bool | None = None
    notice_hash_recorded: str | None = None
    doors: tuple[DoorFact, ...] | None = None
    cjk_font: str | None = None
    door_problems: tuple[str, ...] | None = None
    notice_rendered: bool | None = None
    daemon_running: bool | None = None
    ledger: LedgerFacts = field(default_factory=LedgerFacts)
    scope: str | None = None
    today: dt.date | None = None
    holidays: frozenset[dt.date] = frozenset()
    key_protection: str | None = None
    faces_to_reenrol: int = 0
    face_space: str | None = None


@dataclass(slots=True, frozen=True)
class AuditFact:
    """What verifying the audit trail found (``audit_verify`` callables return it)."""

    intact: bool | None
    torn_bytes: int = 0
    problem: str | None = None


def consent_counts(store: Store) -> tuple[int, int, int]:
    """``(people_with_face, faces_without_consent, minors_without_guardian)`` from the store.

    Counts are of distinct people (pseudonyms) with at least one stored template.
    """
    db = store._db  # read-only queries; the store has no public query for these yet
    with_face = store.count_people_with_face()
    without_consent = int(
        db.execute(
            "SELECT COUNT(DISTINCT t.pseudonym) FROM templates t WHERE NOT EXISTS ("
            " SELECT 1 FROM consents c WHERE c.pseudonym = t.pseudonym"
            " AND c.withdrawn_at IS NULL)"
        ).fetchone()[0]
    )
    minors_without_guardian = int(
        db.execute(
            "SELECT COUNT(DISTINCT t.pseudonym) FROM templates t"
            " JOIN people p ON p.pseudonym = t.pseudonym WHERE p.minor = 1 AND NOT EXISTS ("
            " SELECT 1 FROM consents c WHERE c.pseudonym = t.pseudonym"
            " AND c.withdrawn_at IS NULL AND c.guardian_method IS NOT NULL"
            " AND c.guardian_relation IS NOT NULL)"
        ).fetchone()[0]
    )
    return with_face, without_consent, minors_without_guardian


_TRUE = {"yes", "true", "1", "on"}


def unit_denies_ip(text: str, broker: str | None = None) -> bool:
    """Whether a systemd unit's ``[Service]`` settings keep the daemon off IP networks.

    True for ``PrivateNetwork=yes``, for ``IPAddressDeny=any`` unless an ``IPAddressAllow=``
    opens more than loopback (and, for a compound gate, the broker's own address ``broker``
    as a single host), or for ``RestrictAddressFamilies=`` without AF_INET/AF_INET6.
    The last assignment of a key wins, as in systemd; an empty assignment resets it.
    """
    values: dict[str, list[str]] = {}
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        if section != "Service" or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if value == "":
            values[key] = []
        else:
            values.setdefault(key, []).extend(value.split())
    private = values.get("PrivateNetwork", [])
    if private and private[-1].lower() in _TRUE:
        return True
    deny = {v.lower() for v in values.get("IPAddressDeny", [])}
    allow = {v.lower() for v in values.get("IPAddressAllow", [])}
    loopback = {"localhost", "127.0.0.0/8", "::1/128", "::1", "127.0.0.1"}
    if broker is not None:
        loopback |= broker_hosts(broker)
    if "any" in deny and allow <= loopback:
        return True
    families = values.get("RestrictAddressFamilies", [])
    if families:
        if families[0].startswith("~"):
            denied = {f.lstrip("~") for f in families}
            return {"AF_INET", "AF_INET6"} <= denied
        return not ({"AF_INET", "AF_INET6"} & set(families))
    return False


def broker_hosts(broker: str) -> set[str]:
    """How a unit may allow exactly the compound broker: its address, alone (``/32``, ``/128``).

    Empty unless ``broker`` is a literal private LAN address (RFC 1918, link-local, IPv6
    unique-local): a host name or a public address is never a compound's broker (Art. 8)."""
    try:
        ip = ipaddress.ip_address(broker)
    except ValueError:
        return set()
    if not lan_address(broker):
        return set()
    return {str(ip), f"{ip}/{ip.max_prefixlen}"}


def lan_address(host: str) -> bool:
    """A literal private address of the local network (not loopback, not public)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(ip in net for net in _LAN_NETWORKS if net.version == ip.version)


# RFC 1918, IPv4 link-local, IPv6 unique-local and link-local: the compound's own network.
_LAN = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "fc00::/7", "fe80::/10")
_LAN_NETWORKS = tuple(ipaddress.ip_network(n) for n in _LAN)


def _unit_fact(paths: Iterable[Path], broker: str | None = None) -> bool | None:
    found = False
    texts: list[str] = []
    for path in paths:
        if path.is_file():
            found = True
            texts.append(path.read_text(encoding="utf-8", errors="replace"))
            dropins = path.with_name(path.name + ".d")
            if dropins.is_dir():
                texts += [p.read_text(errors="replace") for p in sorted(dropins.glob("*.conf"))]
            break  # the first unit found is the one systemd uses
    if not found:
        return None
    return unit_denies_ip("\n".join(texts), broker)


def _key_protection(path: Path, is_credential: bool) -> str | None:
    if is_credential:
        return "credential"
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
    except OSError:
        return None
    return {b"FGK1": "passphrase", b"FGO1": "rpi-otp"}.get(head, "plain")


def _mode(path: Path | None) -> int | None:
    if path is None:
        return None
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None


def gather_facts(
    cfg: FacegateConfig,
    store: Store | None = None,
    *,
    notice: NoticeConfig | None = None,
    doors: DoorFacts | None = None,
    unit_paths: Sequence[Path] = DEFAULT_UNIT_PATHS,
    admin_socket: Path | None = None,
    audit_verify: Callable[[], AuditFact | bool] | None = None,
    door_problems: Sequence[str] | None = None,
    daemon_running: bool | None = None,
    today: dt.date | None = None,
) -> ComplianceFacts:
    """Read the live state of this device for the checklist.

    Args:
        cfg: the configuration.
        store: an open store; when None it is opened from the configuration (and closed),
            and a failure to open it becomes ``store_error``.
        notice: the notice section, to tell whether its current version is recorded.
        doors: per-door facts, or a callable computing them from ``cfg`` (door access modes
            are configured elsewhere); None leaves them unknown.
        unit_paths: where to look for the systemd unit, first match wins.
        admin_socket: the admin socket's path, when this build has one.
        audit_verify: verifies the audit chain, when this build has one.
        door_problems: what ``policy.check_doors`` found (``device.door_problems``).
        daemon_running: whether the daemon answers on its admin socket.
        today: the local date (deadlines); the first day the enrolled count is seen at or
            above the filing threshold is recorded in the compliance ledger.
    """
    from ..audit.signing import AUDIT_SIGNING_KEY
    from ..store import open_store, people_to_reenrol, resolve_key_path
    from ..store.crypto import CREDENTIAL_NAME
    from ..vision.registry import embedding_space
    from .fonts import FontNotFoundError, find_cjk_font
    from .ledger import Ledger, ledger_facts, processing_scope
    from .notice_text import build_notice
    from .records import recorded_notices, rendered_formats

    key_path = resolve_key_path(cfg.store.key_file, cfg.store.state_dir)
    cred_dir = os.environ.get("CREDENTIALS_DIRECTORY")
    key_is_credential = bool(cred_dir) and key_path == Path(str(cred_dir)) / CREDENTIAL_NAME
    counts = (0, 0, 0)
    audit_started = False
    store_error: str | None = None
    encrypted = False
    space, reenrol = embedding_space(cfg), 0
    own_store = store is None
    try:
        if store is None:
            store = open_store(key_path, cfg.store.state_dir)
        counts = consent_counts(store)
        reenrol = people_to_reenrol(store, space)
        encrypted = bool(store.key_id)
        audit_started = store.has_device_key(AUDIT_SIGNING_KEY)
    except FacegateError as exc:
        store_error = str(exc)
    finally:
        if own_store and store is not None:
            store.close()

    recorded = [r.version for r in recorded_notices(cfg.store.state_dir)]
    notice_recorded: str | None = recorded[-1] if recorded else None
    if notice is not None and recorded:
        current = build_notice(cfg, notice).version
        if current in recorded:
            notice_recorded = current
    rendered = (
        bool(rendered_formats(cfg.store.state_dir, notice_recorded)) if notice_recorded else None
    )
    if today is not None and store_error is None:
        try:
            Ledger(cfg.store.state_dir).note_count(counts[0], cfg.filing.threshold, today)
        except FacegateError as exc:  # a read-only state folder (an admin's check): say so
            logger.warning("filing threshold crossing not recorded: %s", exc)
    try:
        font: str | None = str(find_cjk_font())
    except FontNotFoundError:
        font = None

    door_facts: tuple[DoorFact, ...] | None = None
    if doors is not None:
        door_facts = tuple(doors(cfg) if callable(doors) else doors)

    audit = AuditFact(None)
    if audit_verify is not None:
        try:
            found = audit_verify()
            audit = found if isinstance(found, AuditFact) else AuditFact(bool(found))
        except FacegateError as exc:
            audit = AuditFact(False, problem=str(exc))
    if audit.intact is None and audit_started:
        # This store signed audit records before: the trail was removed, not never made.
        audit = AuditFact(False, problem=audit.problem or "the audit trail is missing")

    return ComplianceFacts(
        people_with_face=counts[0],
        faces_without_consent=counts[1],
        minors_without_guardian=counts[2],
        key_file_mode=_mode(key_path),
        key_is_credential=key_is_credential,
        store_encrypted=encrypted,
        store_error=store_error,
        audit_verified=audit.intact,
        audit_torn_bytes=audit.torn_bytes,
        audit_problem=audit.problem,
        admin_socket_mode=_mode(admin_socket),
        unit_denies_ip=_unit_fact(
            unit_paths, None if cfg.compound is None else cfg.compound.broker
        ),
        notice_hash_recorded=notice_recorded,
        doors=door_facts,
        cjk_font=font,
        door_problems=None if door_problems is None else tuple(door_problems),
        notice_rendered=rendered,
        daemon_running=daemon_running,
        ledger=ledger_facts(cfg.store.state_dir),
        scope=processing_scope(cfg),
        today=today,
        holidays=frozenset(h.date for h in cfg.calendar.holidays),
        key_protection=_key_protection(key_path, key_is_credential),
        faces_to_reenrol=reenrol,
        face_space=space,
    )
