"""``service:`` — the main loop's timing and the daemon's logging."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Section

__all__ = ["ServiceConfig"]


class ServiceConfig(Section):
    """How the loop turns frames into decisions."""

    track_iou: float = Field(
        default=0.3,
        ge=0.05,
        le=0.95,
        description="Box overlap that makes a face in this frame the same person as in the last.",
    )
    track_lost_s: float = Field(
        default=1.0,
        ge=0.1,
        le=60.0,
        description="A face not seen for this long has left; its next appearance is a new attempt.",
    )
    redecide_after_s: float = Field(
        default=10.0,
        ge=1.0,
        le=600.0,
        description=(
            "A person still standing in view this long after their decision gets a new attempt "
            "(one decision per approach, not one per frame)."
        ),
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Journal verbosity. Never includes names or biometrics."
    )
