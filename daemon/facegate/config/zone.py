"""``face_zone:`` — only faces that asked are processed.

A face is searched only when it is *in the zone*: its centre inside ``region`` (fractions of
the frame: the part of the picture in front of the terminal) and at least ``min_face_px``
wide (close enough that the person is at the terminal, within about a metre). Faces outside
are detected at most, to know someone is in view, and never tracked, embedded or searched.
While someone uses a keypad or card reader at the camera's door (a PIN being typed, or a
card or PIN within the last ``pause_s`` seconds), the face path there is paused: a resident
walking up to the keypad is not scanned.

``trigger: request`` goes further, where the operator chooses it: no face is processed (not
even detected) until someone at the terminal asks, with a keypad's ``pin.face_key`` or a
``type: button`` reader at the camera's door; the face path then stays awake for
``awake_s`` seconds or until it has decided one attempt. ``trigger: zone`` (the default)
processes any face inside the zone.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .base import Section

__all__ = ["FaceZoneConfig"]


class FaceZoneConfig(Section):
    """Where a face must be to be processed, and when face processing pauses."""

    region: tuple[float, float, float, float] = Field(
        default=(0.15, 0.0, 0.85, 1.0),
        description=(
            "x0, y0, x1, y1 as fractions of the frame (0-1): a face whose centre is outside "
            "this rectangle is never searched."
        ),
    )
    min_face_px: int = Field(
        default=80,
        ge=20,
        le=1000,
        description=(
            "Faces narrower than this (pixels) are too far from the terminal to be processed "
            "(a face is about 80 px wide at 1 m from a 640x480 camera with a 60° lens)."
        ),
    )
    pause_s: float = Field(
        default=3.0,
        ge=0.0,
        le=60.0,
        description=(
            "After a card or PIN at the camera's door, no face is processed there for this "
            "long (and never while a PIN is being typed)."
        ),
    )

    trigger: Literal["zone", "request"] = Field(
        default="zone",
        description=(
            "`zone`: a face in the zone is processed. `request`: only after the face key "
            "(readers[].pin.face_key) or a face button (readers[].type: button) at the "
            "camera's door was pressed; no face is even detected before."
        ),
    )
    awake_s: float = Field(
        default=10.0,
        ge=2.0,
        le=60.0,
        description=(
            "With trigger: request, faces in the zone are processed this long after a "
            "request, or until one attempt is decided."
        ),
    )

    @model_validator(mode="after")
    def _region_is_a_rectangle(self) -> FaceZoneConfig:
        x0, y0, x1, y1 = self.region
        if not (0.0 <= x0 < x1 <= 1.0 and 0.0 <= y0 < y1 <= 1.0):
            raise ValueError("region: need 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1")
        return self
