"""What this device can tell the checklist about itself: doors, audit chain, admin socket.

``door_problems`` is ``policy.check_doors`` on the configured ways in, the very check that
keeps ``facegate run`` from processing faces at a door where face would be the only way in,
so ``compliance check`` and ``run`` can never disagree about it.

Shared by ``facegate run`` (before anything opens) and ``facegate compliance check`` so both
judge the same facts.
"""

from __future__ import annotations

import datetime as dt
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .facts import AuditFact, DoorFact

if TYPE_CHECKING:
    from ..config import FacegateConfig

__all__ = [
    "audit_fact",
    "daemon_answers",
    "device_inputs",
    "door_facts",
    "door_problems",
    "local_today",
    "ways_in",
]


def ways_in(cfg: FacegateConfig, camera_door: str | None) -> dict[str, set[str]]:
    """Door → the ways in configured there (``camera``, ``card``, ``keypad``)."""
    from ..readers.registry import reader_kinds

    kinds: dict[str, set[str]] = {door.id: set() for door in cfg.doors}
    if camera_door is not None:
        kinds[camera_door].add("camera")
    for reader in cfg.readers:
        kinds[reader.door] |= reader_kinds(reader)
    return kinds


def door_problems(cfg: FacegateConfig) -> list[str]:
    """Every time window where face would be the only way in (Art. 10), as ``run`` sees it."""
    from ..policy.checks import check_doors

    return check_doors(cfg.doors, ways_in(cfg, cfg.doors[0].id))


def daemon_answers(path: Path) -> bool:
    """Whether a process accepts connections on the admin socket (a Unix socket, no network)."""
    if not path.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        try:
            sock.connect(str(path))
        except OSError as exc:  # refused: a stale socket file; EACCES: it is there, not ours
            return isinstance(exc, PermissionError)
    return True


def local_today(cfg: FacegateConfig, now: float | None = None) -> dt.date:
    """Today in the configured time zone (``calendar.timezone``)."""
    import time

    stamp = time.time() if now is None else now
    return dt.datetime.fromtimestamp(stamp, cfg.calendar.tz).date()


def door_facts(cfg: FacegateConfig) -> list[DoorFact]:
    """Per door: does it take faces (the camera's door, in any window), and does it have a
    configured PIN or card reader (Art. 10)?"""
    from ..policy.build import door_policy
    from ..readers.registry import reader_kinds

    camera_door = cfg.doors[0].id
    facts = []
    for door in cfg.doors:
        takes_face = door.id == camera_door and any(
            "face" in mode.value for _path, modes in door_policy(door).windows() for mode in modes
        )
        kinds: set[str] = set()
        for reader in cfg.readers:
            if reader.door == door.id:
                kinds |= reader_kinds(reader)
        facts.append(DoorFact(door.id, takes_face, bool(kinds & {"card", "keypad"})))
    return facts


def audit_fact(state_dir: Path) -> AuditFact:
    """Verify the audit trail in ``<state_dir>/audit`` for the checklist.

    No folder is ``intact=None``: a first start, unless the store says a trail was written
    (``gather_facts`` checks that, as it holds the store).
    """
    from ..audit.verify import verify

    audit_dir = state_dir / "audit"
    if not audit_dir.is_dir():
        return AuditFact(None, problem=f"the audit trail {audit_dir} is missing")
    report = verify(audit_dir)
    if not report.ok:
        b = report.first_broken
        where = "" if b is None else f" at {b.file} line {b.line}: {b.reason}"
        return AuditFact(False, problem=f"the audit chain does not verify{where}")
    return AuditFact(True, torn_bytes=report.torn_bytes)


def device_inputs(cfg: FacegateConfig) -> dict[str, Any]:
    """Keyword arguments for ``gather_facts``/``enforce_startup_checklist``."""
    path: Path = cfg.admin.socket

    def verify_audit() -> AuditFact:
        return audit_fact(cfg.store.state_dir)

    return {
        "doors": door_facts(cfg),
        "audit_verify": verify_audit,
        "admin_socket": path if path.exists() else None,
        "door_problems": door_problems(cfg),
        "daemon_running": daemon_answers(path),
        "today": local_today(cfg),
    }
