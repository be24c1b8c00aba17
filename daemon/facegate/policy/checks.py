"""Start-up check that PIN or card is an equal way in wherever face is (Art. 10).

The 2025 Measures forbid face as the only way through a gate, and a refuser must get a
"reasonable and convenient" alternative. :func:`check_doors` looks at every time window of
every door: where face is accepted, the same window must accept a mode without face whose
readers exist and work at that door. The service refuses to start on any problem.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from ..config.doors import DoorConfig
from .build import door_policy
from .modes import modes_problems, unreachable
from .snapshot import DoorPolicy

__all__ = ["READER_KINDS", "check_doors"]

logger = logging.getLogger(__name__)

READER_KINDS: frozenset[str] = frozenset({"camera", "card", "keypad"})
"""Reader kinds: ``camera`` (face), ``card`` (Wiegand, USB HID, OSDP), ``keypad`` (PIN)."""


def check_doors(
    door_configs: Iterable[DoorPolicy | DoorConfig],
    readers_configured: Mapping[str, Iterable[str]],
) -> list[str]:
    """Problems that must stop the daemon, one line each, naming the key path.

    Args:
        door_configs: the doors' policies (pure or as configured).
        readers_configured: door id → the reader kinds (``camera``, ``card``, ``keypad``)
            configured *and* opened successfully at that door. Pass only readers that work:
            a keypad that failed to open is no alternative.

    Returns:
        An empty list when every door is fine.
    """
    problems: list[str] = []
    for item in door_configs:
        door = door_policy(item) if isinstance(item, DoorConfig) else item
        readers = frozenset(readers_configured.get(door.door, ()))
        odd = sorted(readers - READER_KINDS)
        if odd:
            problems.append(f"doors -> {door.door}: unknown reader kind(s) {odd}")
        windows = door.windows()
        if not windows:
            logger.info("%s: no access windows; the door opens only by exit button", door.door)
        for path, modes in windows:
            where = f"doors -> {door.door} -> access -> {path}"
            for problem in modes_problems(modes, readers):
                problems.append(f"{where}: {problem}")
            for alt in unreachable(modes, readers):
                logger.warning("%s: '%s' cannot be used (its reader is missing)", where, alt)
    return problems
