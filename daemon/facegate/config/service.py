"""``service:`` — the main loop's timing and the daemon's logging."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Section

__all__ = ["ServiceConfig"]


class ServiceConfig(Section):
    """How the loop turns frames into decisions."""

    grant_cooldown_s: float = Field(
        default=10.0,
        ge=0.0,
        le=600.0,
        description=(
            "After a grant, the same person at the same door is not granted again for this long "
            "unless they left the camera's view first."
        ),
    )
    absence_reset_s: float = Field(
        default=1.5,
        ge=0.1,
        le=60.0,
        description="No face for this long ends a visit: the next face is a new attempt.",
    )
    deny_after_frames: int = Field(
        default=3,
        ge=1,
        le=30,
        description="Consecutive unrecognised frames before an attempt is recorded as DENIED.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Journal verbosity. Never includes names or biometrics."
    )
