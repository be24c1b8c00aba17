"""What this device can tell the checklist about itself: doors, audit chain, admin socket.

Shared by ``facegate run`` (before anything opens) and ``facegate compliance check`` so both
judge the same facts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .facts import DoorFact

if TYPE_CHECKING:
    from ..config import FacegateConfig

__all__ = ["device_inputs", "door_facts"]


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


def device_inputs(cfg: FacegateConfig) -> dict[str, Any]:
    """Keyword arguments for ``gather_facts``/``enforce_startup_checklist``."""
    from ..audit.verify import verify

    audit_dir = cfg.store.state_dir / "audit"

    def audit_ok() -> bool:
        # First start: no chain yet, so nothing can be broken.
        return not audit_dir.is_dir() or verify(audit_dir).ok

    socket: Path = cfg.admin.socket
    verify_audit: Callable[[], bool] = audit_ok
    return {
        "doors": door_facts(cfg),
        "audit_verify": verify_audit,
        "admin_socket": socket if socket.exists() else None,
    }
