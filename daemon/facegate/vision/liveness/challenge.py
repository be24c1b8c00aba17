"""The active challenge: ask for a blink or a small head turn, once, and judge the response.

A recording cannot know which challenge will be asked, or when. The judge picks one at random
(an injected ``random.Random``), announces it through :class:`ChallengePrompt` (buzzer/LED
pattern, display text), and watches for the response for ``timeout_s``.

* ``blink``: a blink (from :class:`~.blink.BlinkSignal`) that ends after the prompt.
* ``turn``: a head turn or nod: one of the two :func:`pose_proxy` values changes by at least
  ``structure.min_turn`` from its value at the prompt, *and* the 3-D-structure signal finds the
  face solid. Both are affine coordinates of the nose in the face's own frame, which an affine
  view of a plane keeps, so a picture tilted as a whole barely changes them; where perspective
  does, the structure signal sees a plane.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from ...config.liveness import ChallengeConfig
from .structure import LEFT_EYE, RIGHT_EYE

__all__ = ["ChallengeKind", "ChallengePrompt", "ChallengeState", "pose_proxy", "yaw_proxy"]

ChallengeKind = Literal["blink", "turn"]

_NOSE_TIP = 1
_MOUTH = (0, 13)  # the upper lip's outer and inner midpoints: they move little when talking


def pose_proxy(points: npt.ArrayLike) -> tuple[float, float]:
    """``(yaw, pitch)`` proxies of the head pose from 2-D landmarks.

    The nose tip written in the face's own frame: ``nose - eye_midpoint = yaw * eye_line +
    pitch * eyes_to_lip``, where ``eye_line`` runs from the right eye to the left and
    ``eyes_to_lip`` from the eye midpoint to the upper lip. Affine coordinates are unchanged by
    any affine view of a plane (turned, tilted, sheared, scaled, moved), so a picture held up and
    rocked keeps them; a head that turns or nods moves its nose out of that frame.
    """
    p = np.asarray(points, dtype=np.float64)[:, :2]
    right = p[list(RIGHT_EYE)].mean(axis=0)
    left = p[list(LEFT_EYE)].mean(axis=0)
    eyes = (right + left) / 2.0
    basis = np.column_stack([left - right, p[list(_MOUTH)].mean(axis=0) - eyes])
    if abs(float(np.linalg.det(basis))) < 1e-9:
        return 0.0, 0.0
    yaw, pitch = np.linalg.solve(basis, p[_NOSE_TIP] - eyes)
    return float(yaw), float(pitch)


def yaw_proxy(points: npt.ArrayLike) -> float:
    """The yaw of :func:`pose_proxy`: the nose tip's position along the eye line."""
    return pose_proxy(points)[0]


@dataclass(slots=True, frozen=True)
class ChallengePrompt:
    """What the door should show or sound while a challenge runs.

    Attributes:
        kind: ``blink`` or ``turn``.
        text: Text for a display, when one is configured.
        pattern: Buzzer/LED pattern name for the feedback device.
        deadline: Monotonic time the response must come by.
    """

    kind: ChallengeKind
    text: str
    pattern: str
    deadline: float


class ChallengeState:
    """One running challenge on one track.

    Args:
        cfg: Challenge settings.
        kind: The challenge asked.
        started: Monotonic time of the prompt.
        pose_at_start: :func:`pose_proxy` at the prompt (for ``turn``).
        min_turn: The change of either pose proxy that is a head turn or nod.
    """

    def __init__(
        self,
        cfg: ChallengeConfig,
        kind: ChallengeKind,
        started: float,
        pose_at_start: tuple[float, float],
        min_turn: float,
    ) -> None:
        self.cfg = cfg
        self.min_turn = min_turn
        self.kind: ChallengeKind = kind
        self.started = started
        self.pose_at_start = pose_at_start
        self.max_pose_change = 0.0

    @property
    def prompt(self) -> ChallengePrompt:
        text = self.cfg.text_blink if self.kind == "blink" else self.cfg.text_turn
        return ChallengePrompt(
            self.kind, text, f"challenge_{self.kind}", self.started + self.cfg.timeout_s
        )

    def observe_pose(self, pose: tuple[float, float]) -> None:
        """Note one frame's :func:`pose_proxy`."""
        change = max(abs(a - b) for a, b in zip(pose, self.pose_at_start, strict=True))
        self.max_pose_change = max(self.max_pose_change, change)

    def passed(self, blinks_since_start: int, solid: bool) -> bool:
        """Whether the response was seen: a blink since the prompt, or a solid head turn."""
        if self.kind == "blink":
            return blinks_since_start >= 1
        return solid and self.max_pose_change >= self.min_turn

    def expired(self, now: float) -> bool:
        return now > self.started + self.cfg.timeout_s
