"""What this device can tell the checklist about itself: doors, audit chain, admin socket.

Shared by ``facegate run`` (before anything opens) and ``facegate compliance check`` so both
judge the same facts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .facts import AuditFact, DoorFact

if TYPE_CHECKING:
    from ..config import FacegateConfig

__all__ = ["audit_fact", "device_inputs", "door_facts"]


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
    socket: Path = cfg.admin.socket

    def verify_audit() -> AuditFact:
        return audit_fact(cfg.store.state_dir)

    return {
        "doors": door_facts(cfg),
        "audit_verify": verify_audit,
        "admin_socket": socket if socket.exists() else None,
    }
