"""The rules checked before any hardware is touched (2025 Measures Art. 10 and 13, checklist).

A forbidden site kind, a door where face would be the only way in, or any FAIL of the
compliance start-up checklist refuses to start (exit 3) with no GPIO reserved and no state
folder created.
"""

from __future__ import annotations

from typing import Any

from ..config import PRIVATE_SPACE_KINDS, FacegateConfig
from ..errors import FacegateError
from ..policy.checks import check_doors
from ..readers.registry import reader_kinds

__all__ = ["RefusedToStart", "enforce_rules", "ways_in"]


class RefusedToStart(FacegateError):
    """A rule of the 2025 Measures forbids running with this configuration."""


def ways_in(cfg: FacegateConfig, camera_door: str | None) -> dict[str, set[str]]:
    """Door → the ways in configured there (``camera``, ``card``, ``keypad``)."""
    kinds: dict[str, set[str]] = {door.id: set() for door in cfg.doors}
    if camera_door is not None:
        kinds[camera_door].add("camera")
    for reader in cfg.readers:
        kinds[reader.door] |= reader_kinds(reader)
    return kinds


def enforce_rules(
    cfg: FacegateConfig,
    camera_door: str | None,
    *,
    run_checklist: bool = False,
    facts: Any = None,
) -> None:
    """Refuse configurations the law forbids.

    Raises:
        RefusedToStart: a private space, a face-only door, or a checklist FAIL.
    """
    if cfg.site.kind in PRIVATE_SPACE_KINDS:
        raise RefusedToStart(
            f"site.kind is {cfg.site.kind.value}: face recognition is not allowed in "
            "private spaces such as hotel rooms, baths, changing rooms and toilets "
            "(2025 Measures Art. 13)"
        )
    problems = check_doors(cfg.doors, ways_in(cfg, camera_door))
    if problems:
        raise RefusedToStart(
            "face must never be the only way in (2025 Measures Art. 10): " + "; ".join(problems)
        )
    if run_checklist:
        from ..compliance import ComplianceRefused, enforce_startup_checklist
        from ..compliance.device import device_inputs

        try:
            enforce_startup_checklist(cfg, facts=facts, **device_inputs(cfg))
        except ComplianceRefused as exc:
            raise RefusedToStart(str(exc)) from None
