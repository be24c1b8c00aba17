"""Combine the liveness signals of one track into a verdict, frame by frame.

Rules (per track = per attempt):

1. Any signal that finds an attack (a flat face that moved, or the model's median score over
   its runs) makes the verdict ``spoof``.
2. The verdict is ``live`` when the model (if configured) has concluded bona fide and either
   a blink was seen, or the head turned or nodded (``structure.min_turn``) while showing 3-D
   structure.
   3-D structure alone is not enough: FaceMesh sometimes reads a slanted picture as a turned
   head.
3. Otherwise it is ``inconclusive`` until ``decide_within_s`` after the track's first frame.
   Then, in ``passive`` mode, it becomes ``spoof`` (reason ``no_liveness_evidence``: the gate
   cannot vouch for the face; PIN or card still work). In ``passive+challenge`` mode the judge
   starts **one** challenge (blink or turn, chosen at random) and the verdict is ``challenge``
   until the response is seen (``live``) or the challenge times out (``spoof``, reason
   ``challenge_failed``). During a challenge only the requested response counts as live
   evidence (a blink after the prompt, or a head turn that shows 3-D structure); attack
   evidence still ends it as ``spoof``, and a configured model must still agree.

``live`` and ``spoof`` are final for the track. Everything is driven by the ``now`` the caller
passes (monotonic seconds), so tests can use a fake clock.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from ...config.liveness import LivenessConfig
from ..landmarks import FaceLandmarks
from ..types import Detection
from .blink import BlinkSignal
from .challenge import ChallengePrompt, ChallengeState, pose_proxy
from .model import ModelSamples
from .structure import StructureSignal

__all__ = ["LivenessJudge", "LivenessVerdict", "Status"]

Status = Literal["live", "spoof", "inconclusive", "challenge"]

_MIN_PRESENCE = 0.5
_FORGET_AFTER_S = 10.0


class _Mesh(Protocol):
    def landmarks(
        self, image_rgb: npt.NDArray[np.uint8], detection: Detection
    ) -> FaceLandmarks: ...


class _Model(Protocol):
    def score(self, image_rgb: npt.NDArray[np.uint8], points: npt.ArrayLike) -> float: ...


@dataclass(slots=True, frozen=True)
class LivenessVerdict:
    """The liveness verdict of one track after a frame.

    Attributes:
        status: ``live``, ``spoof``, ``inconclusive`` or ``challenge``.
        reason: Short machine-readable reason (``3d_turn``, ``blink``, ``flat``, ``model``,
            ``challenge_passed``, ``challenge_failed``, ``no_liveness_evidence``, ``waiting``,
            ``challenge_running``, ``off``).
        scores: Each signal's score so far (``structure``, ``blink``, ``model``).
        prompt: The running challenge (what to show or sound), when ``status == "challenge"``.
        challenged: Whether this attempt has had its one challenge.
    """

    status: Status
    reason: str
    scores: dict[str, float] = field(default_factory=dict)
    prompt: ChallengePrompt | None = None
    challenged: bool = False

    @property
    def final(self) -> bool:
        return self.status in ("live", "spoof")


class _TrackState:
    __slots__ = (
        "blink", "challenge", "first", "last", "model", "pose_max", "pose_min", "structure",
        "verdict",
    )  # fmt: skip

    def __init__(self, cfg: LivenessConfig, now: float) -> None:
        self.structure = StructureSignal(cfg.structure)
        self.blink = BlinkSignal(cfg.blink)
        self.model = ModelSamples(cfg.model) if cfg.model is not None else None
        self.challenge: ChallengeState | None = None
        self.first = now
        self.last = now
        self.verdict: LivenessVerdict | None = None
        self.pose_min = np.full(2, np.inf)
        self.pose_max = np.full(2, -np.inf)

    def turned(self, min_turn: float) -> bool:
        """Whether either pose proxy moved by ``min_turn`` over the track."""
        return bool(np.max(self.pose_max - self.pose_min) >= min_turn)


class LivenessJudge:
    """Per-track liveness accumulators and the rules that combine them.

    Args:
        cfg: The liveness section.
        facemesh: A :class:`~facegate.vision.landmarks.FaceMesh` (or anything with its
            ``landmarks`` method); called once per observed frame unless landmarks are passed.
        model: The anti-spoofing model (``PadModel``) when ``cfg.model`` is set, else ``None``.
        rng: Chooses the challenge; pass a seeded one for reproducible runs.
    """

    def __init__(
        self,
        cfg: LivenessConfig,
        facemesh: _Mesh | None,
        model: _Model | None = None,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.cfg = cfg
        self.facemesh = facemesh
        self.model = model if cfg.model is not None else None
        self.rng = rng or random.SystemRandom()
        self._tracks: dict[int, _TrackState] = {}

    def forget(self, track_id: int) -> None:
        """Drop a track's state (it ended, or its attempt was decided and reset)."""
        self._tracks.pop(track_id, None)

    def observe(
        self,
        track_id: int,
        image: npt.NDArray[np.uint8],
        detection: Detection,
        now: float,
        *,
        landmarks: FaceLandmarks | None = None,
    ) -> LivenessVerdict:
        """Feed one frame of a track; returns the verdict so far."""
        if self.cfg.mode == "off":
            return LivenessVerdict("live", "off")
        for tid in [t for t, s in self._tracks.items() if now - s.last > _FORGET_AFTER_S]:
            del self._tracks[tid]
        state = self._tracks.get(track_id)
        if state is None:
            state = self._tracks[track_id] = _TrackState(self.cfg, now)
        state.last = now
        if state.verdict is not None and state.verdict.final:
            return state.verdict
        if landmarks is None:
            if self.facemesh is None:
                raise ValueError("LivenessJudge needs a FaceMesh or precomputed landmarks")
            landmarks = self.facemesh.landmarks(image, detection)
        if landmarks.presence < _MIN_PRESENCE:  # not a face the mesh can follow: no evidence
            state.verdict = self._decide(state, now, None)
            return state.verdict
        state.structure.add(landmarks.points, now)
        state.blink.add(landmarks.points, now)
        pose = pose_proxy(landmarks.points)
        np.minimum(state.pose_min, pose, out=state.pose_min)
        np.maximum(state.pose_max, pose, out=state.pose_max)
        if state.challenge is not None:
            state.challenge.observe_pose(pose)
        if state.model is not None and self.model is not None and state.model.due():
            state.model.add(self.model.score(image, landmarks.points))
        state.verdict = self._decide(state, now, landmarks)
        return state.verdict

    def _decide(
        self, state: _TrackState, now: float, landmarks: FaceLandmarks | None
    ) -> LivenessVerdict:
        structure = state.structure.result()
        blink = state.blink.result()
        model = state.model.result() if state.model is not None else None
        scores = {"structure": structure.score, "blink": blink.score}
        if model is not None:
            scores["model"] = model.score
        challenged = state.challenge is not None

        def verdict(status: Status, reason: str) -> LivenessVerdict:
            prompt = state.challenge.prompt if status == "challenge" and state.challenge else None
            return LivenessVerdict(status, reason, scores, prompt, challenged)

        if structure.status == "spoof":
            return verdict("spoof", "flat")
        if model is not None and model.status == "spoof":
            return verdict("spoof", "model")
        model_ok = model is None or model.status == "live"
        if state.challenge is not None:
            ch = state.challenge
            solid = structure.status == "live"
            if ch.passed(state.blink.count_since(ch.started), solid) and model_ok:
                return verdict("live", "challenge_passed")
            if ch.expired(now):
                return verdict("spoof", "challenge_failed")
            return verdict("challenge", "challenge_running")
        if model_ok:
            if blink.status == "live":
                return verdict("live", "blink")
            if structure.status == "live" and state.turned(self.cfg.structure.min_turn):
                return verdict("live", "3d_turn")
        if now - state.first < self.cfg.decide_within_s:
            return verdict("inconclusive", "waiting")
        if self.cfg.mode == "passive":
            return verdict("spoof", "no_liveness_evidence")
        if landmarks is None:  # start the challenge on a frame the mesh can follow
            return verdict("inconclusive", "waiting")
        kind = self.rng.choice(self.cfg.challenge.kinds)
        state.challenge = ChallengeState(
            self.cfg.challenge, kind, now, pose_proxy(landmarks.points), self.cfg.structure.min_turn
        )
        challenged = True
        return verdict("challenge", "challenge_started")
