"""The rules of the Measures that can forbid face processing here (Art. 10, Art. 13, checklist).

None of them stops the gate. A private-space site kind (Art. 13), a door where face would be
the only way in (Art. 10) or any FAIL of the compliance start-up checklist (notice, consent,
filing, audit trail …) means faces must not be processed: the daemon starts without the face
path, raises ``face_down`` with the reasons, and serves PIN, card, the exit button and the
door contact as always (Art. 10 protects exactly those alternatives). The reasons are checked
before any hardware is touched and again at every start and reload.
"""

from __future__ import annotations

from typing import Any

from ..compliance.device import ways_in
from ..config import PRIVATE_SPACE_KINDS, FacegateConfig
from ..policy.checks import check_doors

__all__ = ["face_refusals", "ways_in"]


def face_refusals(
    cfg: FacegateConfig,
    camera_door: str | None,
    run_checklist: bool = False,
    facts: Any = None,
) -> list[str]:
    """Why faces must not be processed with this configuration (empty: they may be).

    Args:
        cfg: the configuration.
        camera_door: the door the camera watches.
        run_checklist: also run the compliance start-up checklist (``facegate run``).
        facts: facts for the checklist (tests); gathered from the device otherwise.
    """
    reasons: list[str] = []
    if cfg.site.kind in PRIVATE_SPACE_KINDS:
        reasons.append(
            f"site.kind is {cfg.site.kind.value}: face recognition is not allowed in private "
            "spaces such as hotel rooms, baths, changing rooms and toilets (2025 Measures "
            "Art. 13)"
        )
    problems = check_doors(cfg.doors, ways_in(cfg, camera_door))
    if problems:
        reasons.append(
            "face must never be the only way in (2025 Measures Art. 10): " + "; ".join(problems)
        )
    if run_checklist and not reasons:
        from ..compliance import ComplianceRefused, enforce_startup_checklist
        from ..compliance.device import device_inputs

        try:
            enforce_startup_checklist(cfg, facts=facts, **device_inputs(cfg))
        except ComplianceRefused as exc:
            reasons.append(str(exc))
    return reasons
