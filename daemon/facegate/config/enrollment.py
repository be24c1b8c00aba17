"""``enrollment:`` — how `facegate enroll` takes a face from the camera."""

from __future__ import annotations

from pydantic import Field

from .base import Section

__all__ = ["EnrollmentConfig"]


class EnrollmentConfig(Section):
    """Camera enrolment: several good, different frames per person."""

    frames: int = Field(
        default=5, ge=1, le=20, description="Good frames to embed per person from the camera."
    )
    min_interval_s: float = Field(
        default=0.4,
        ge=0.0,
        le=10.0,
        description="Least time between two frames kept, so they differ (pose, expression).",
    )
    timeout_s: float = Field(
        default=60.0,
        ge=5.0,
        le=600.0,
        description="Give up (and store nothing) when not enough good frames come in this long.",
    )
    minor_age: int = Field(
        default=14,
        ge=14,
        le=18,
        description=(
            "People younger than this need a guardian's consent (Art. 7: under 14). With only a "
            "birth year, anyone who may still be under it counts as a minor."
        ),
    )
