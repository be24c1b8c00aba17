"""The active challenge: ask for a blink, a head turn or an open mouth, and judge the response.

A recording cannot know which challenge will be asked, or when. The judge picks one (an
injected ``random.Random`` chooses among the candidates, see ``LivenessJudge._challenge``),
announces it through :class:`ChallengePrompt` (buzzer/LED pattern, display text, and a
spoken prompt at a door with a speaker), and watches for the response for ``timeout_s`` after
the spoken prompt has ended (``spoken_s`` after the prompt; 0 without a speaker).

* ``blink``: a blink (from :class:`~.blink.BlinkSignal`) that ends after the prompt.
* ``turn``: a head turn or nod: one of the two :func:`pose_proxy` values changes by at least
  ``structure.min_turn`` from its value at the prompt, *and* the 3-D-structure signal finds the
  face solid. Both are affine coordinates of the nose in the face's own frame, which an affine
  view of a plane keeps, so a picture tilted as a whole barely changes them; where perspective
  does, the structure signal sees a plane.
* ``mouth``: the mouth opens and closes after the prompt: the spread (95th minus 5th
  percentile) of the track's smoothed opening (``ExpressionSignal.opening``: the median of the
  last ``expression.smooth_frames`` :func:`~.expression.mouth_opening` values, so the first
  values after the prompt still hold a frame or two from before it) over the frames since the
  prompt reaches ``expression.min_range``, over at least ``_MOUTH_FRAMES`` frames. The opening
  is a ratio of two vertical lengths of the face, which any tilt or bend of a picture keeps; no
  print can answer it. A replayed video that talks can, as one that blinks can answer ``blink``: the
  screen detector, not the challenge, must stop replays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from ...config.liveness import ChallengeConfig
from .structure import LEFT_EYE, RIGHT_EYE

__all__ = ["ChallengeKind", "ChallengePrompt", "ChallengeState", "pose_proxy", "yaw_proxy"]

ChallengeKind = Literal["blink", "turn", "mouth"]

_MOUTH_FRAMES = 4  # frames since the prompt before a mouth answer may count

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
        kind: ``blink``, ``turn`` or ``mouth``.
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
        min_mouth: The spread of the mouth opening since the prompt that answers ``mouth``.
        spoken_s: How long the door's spoken prompt lasts: the ``timeout_s`` to answer starts
            when it ends (a response while it plays counts too).
    """

    def __init__(
        self,
        cfg: ChallengeConfig,
        kind: ChallengeKind,
        started: float,
        pose_at_start: tuple[float, float],
        min_turn: float,
        min_mouth: float = 0.13,
        spoken_s: float = 0.0,
    ) -> None:
        self.cfg = cfg
        self.deadline = started + spoken_s + cfg.timeout_s
        self.min_turn = min_turn
        self.kind: ChallengeKind = kind
        self.started = started
        self.pose_at_start = pose_at_start
        self.max_pose_change = 0.0
        self.min_mouth = min_mouth
        self.mouth: list[float] = []  # mouth openings since the prompt

    @property
    def prompt(self) -> ChallengePrompt:
        text = {
            "blink": self.cfg.text_blink, "turn": self.cfg.text_turn, "mouth": self.cfg.text_mouth
        }[self.kind]  # fmt: skip
        return ChallengePrompt(self.kind, text, f"challenge_{self.kind}", self.deadline)

    def observe_pose(self, pose: tuple[float, float]) -> None:
        """Note one frame's :func:`pose_proxy`."""
        change = max(abs(a - b) for a, b in zip(pose, self.pose_at_start, strict=True))
        self.max_pose_change = max(self.max_pose_change, change)

    def observe_mouth(self, opening: float) -> None:
        """Note one frame's smoothed mouth opening (``ExpressionSignal.opening``)."""
        self.mouth.append(opening)

    def mouth_spread(self) -> float:
        """95th minus 5th percentile of the mouth opening since the prompt (``0``: too few)."""
        if len(self.mouth) < _MOUTH_FRAMES:
            return 0.0
        low, high = np.percentile(self.mouth, [5, 95])
        return float(high - low)

    def passed(self, blinks_since_start: int, solid: bool) -> bool:
        """Whether the response was seen: a blink since the prompt, a solid head turn, or a
        mouth that opened and closed since the prompt."""
        if self.kind == "blink":
            return blinks_since_start >= 1
        if self.kind == "mouth":
            return self.mouth_spread() >= self.min_mouth
        return solid and self.max_pose_change >= self.min_turn

    def expired(self, now: float) -> bool:
        return now > self.deadline
