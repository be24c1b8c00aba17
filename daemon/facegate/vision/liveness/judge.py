"""Combine the liveness signals of one track into a verdict, frame by frame.

Evidence, not the absence of evidence. Per track (= per attempt):

1. **Attack evidence refuses** (``spoof``): the screen detector's moiré (``screen``), a
   straight-edged frame on all sides of the face (``frame``: a paper margin or a bezel), the
   model's median score (``model``, when one is configured), or an overwhelmingly flat face
   (``flat``: parallax over motion below ``structure.final_flat_ratio``).
2. **Two pieces of live evidence accept** (``live``; ``min_evidence``, 2 by default), once the
   screen detector has measured ``screen.min_samples`` frames, from
   independent signals: a blink (``blink``), a mouth that moves (``expression``), a head
   turn or nod with 3-D structure (``3d_turn``), a challenge answered (``challenge``). The
   reason lists them, joined by ``+`` (``challenge_passed`` when a challenge completed them).
   A configured model must also have concluded bona fide.
3. **Anything else goes to the challenge** (``passive+challenge``): after
   ``decide_within_s``, at once when the face looks flat (a flat look hands over to the
   challenge; real heads whose motion is mostly expression look flat too), and already after
   ``challenge.after_evidence_s`` when the attempt has one piece of live evidence and the
   screen detector has its samples (ask for the second rather than wait). The judge asks for
   a blink, a turn or an open mouth (``challenge_started``, with the prompt): first one the
   face has already shown passively, when there is one, else at random; the verdict is
   ``challenge`` until the response is seen. An unanswered challenge, or one answered while
   the attempt still lacks a second piece of evidence, gets ``challenge.retries`` (one) more
   of the other kind; after that the verdict is ``spoof`` (``challenge_failed``). During a
   challenge only the requested response counts as its answer (a blink after the prompt, or a
   head turn that shows 3-D structure); attack evidence still refuses. In ``passive`` mode
   there is no challenge: without two pieces of evidence by ``decide_within_s`` the face is
   refused (``no_liveness_evidence``: the gate cannot vouch for it; PIN or card still work).

``live`` and ``spoof`` are final for the track. Everything is driven by the ``now`` the caller
passes (monotonic seconds), so tests can use a fake clock.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from ...config.liveness import LivenessConfig
from ..landmarks import FaceLandmarks
from ..types import Detection
from .blink import BlinkSignal
from .challenge import ChallengeKind, ChallengePrompt, ChallengeState, pose_proxy
from .expression import ExpressionSignal
from .frame import FrameSignal
from .model import ModelSamples
from .screen import ScreenSignal
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
    def score(self, image_rgb: npt.NDArray[np.uint8], points: npt.ArrayLike) -> float | None: ...


@dataclass(slots=True, frozen=True)
class LivenessVerdict:
    """The liveness verdict of one track after a frame.

    Attributes:
        status: ``live``, ``spoof``, ``inconclusive`` or ``challenge``.
        reason: Short machine-readable reason: for ``live`` the evidence joined by ``+``
            (``blink``, ``expression``, ``3d_turn``; e.g. ``blink+expression``) or
            ``challenge_passed``; for ``spoof`` ``screen``, ``frame``, ``flat``, ``model``,
            ``challenge_failed`` or ``no_liveness_evidence``; otherwise ``waiting``,
            ``challenge_started`` (a new prompt: show or sound it), ``challenge_running``, or
            ``off``.
        scores: Each signal's score so far (``structure``, ``blink``, ``expression``,
            ``screen``, ``frame``, ``model``).
        prompt: The running challenge (what to show or sound), when ``status == "challenge"``.
        challenged: Whether this attempt has had a challenge.
        evidence: The live evidence seen so far (additive: the names above).
    """

    status: Status
    reason: str
    scores: dict[str, float] = field(default_factory=dict)
    prompt: ChallengePrompt | None = None
    challenged: bool = False
    evidence: tuple[str, ...] = ()

    @property
    def final(self) -> bool:
        return self.status in ("live", "spoof")


class _TrackState:
    __slots__ = (
        "answer_blinks",
        "answered",
        "blink",
        "challenge",
        "challenge_kind",
        "challenges",
        "expression",
        "first",
        "frame",
        "last",
        "model",
        "mouth_answered",
        "mouth_before",
        "pose_max",
        "pose_min",
        "screen",
        "structure",
        "turn_answered",
        "turn_before",
        "verdict",
    )  # fmt: skip

    def __init__(self, cfg: LivenessConfig, now: float) -> None:
        self.structure = StructureSignal(cfg.structure)
        self.blink = BlinkSignal(cfg.blink)
        self.expression = ExpressionSignal(cfg.expression)
        self.screen = ScreenSignal(cfg.screen)
        self.frame = FrameSignal(cfg.frame)
        self.model = ModelSamples(cfg.model) if cfg.model is not None else None
        self.challenge: ChallengeState | None = None
        self.challenges = 0  # challenges asked so far
        self.challenge_kind: ChallengeKind | None = None  # the last one asked
        self.answered = 0  # challenges answered
        self.answer_blinks: set[float] = set()  # blinks that answered a challenge
        self.turn_answered = False  # a turn challenge was answered
        self.turn_before = False  # a 3-D turn had been seen before the last challenge
        self.mouth_answered = False  # a mouth challenge was answered
        self.mouth_before = False  # a moving mouth had been seen before the last challenge
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
        spoken_s: How long the door's spoken challenge lasts (0: no speaker); the person has
            ``challenge.timeout_s`` to answer after it ends.
    """

    def __init__(
        self,
        cfg: LivenessConfig,
        facemesh: _Mesh | None,
        model: _Model | None = None,
        *,
        rng: random.Random | None = None,
        spoken_s: float = 0.0,
    ) -> None:
        self.cfg = cfg
        self.spoken_s = spoken_s
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
        state.expression.add(landmarks.points, now)
        state.screen.add(image, detection)
        state.frame.add(image, detection)
        pose = pose_proxy(landmarks.points)
        np.minimum(state.pose_min, pose, out=state.pose_min)
        np.maximum(state.pose_max, pose, out=state.pose_max)
        if state.challenge is not None:
            state.challenge.observe_pose(pose)
            state.challenge.observe_mouth(state.expression.opening)
        if state.model is not None and self.model is not None and state.model.due():
            state.model.add(self.model.score(image, landmarks.points))
        state.verdict = self._decide(state, now, landmarks)
        return state.verdict

    def _decide(
        self, state: _TrackState, now: float, landmarks: FaceLandmarks | None
    ) -> LivenessVerdict:
        cfg = self.cfg
        structure = state.structure.result()
        blink = state.blink.result()
        expression = state.expression.result()
        screen = state.screen.result()
        frame = state.frame.result()
        model = state.model.result() if state.model is not None else None
        scores = {
            "structure": structure.score,
            "blink": blink.score,
            "expression": expression.score,
            "screen": screen.score,
            "frame": frame.score,
        }
        if model is not None:
            scores["model"] = model.score
        # A running challenge answered: that is evidence (recorded before the passive evidence
        # is counted, so that the answering blink or turn is not counted twice).
        ch = state.challenge
        if ch is not None and ch.passed(
            state.blink.count_since(ch.started), structure.status == "live"
        ):
            if ch.kind == "blink":
                state.answer_blinks.add(min(t for t in state.blink.blinks if t >= ch.started))
            elif ch.kind == "turn":
                state.turn_answered = True
            else:
                state.mouth_answered = True
            state.answered += 1
            state.challenge = None
        # One event is one piece of evidence: a blink, turn or mouth movement that answered a
        # challenge does not count again as a passive blink, turn or expression.
        evidence: list[str] = []
        passive_blinks = [t for t in state.blink.blinks if t not in state.answer_blinks]
        if len(passive_blinks) >= cfg.blink.min_blinks:
            evidence.append("blink")
        # A movement made after a mouth or turn prompt is that challenge's answer (pending until
        # it completes), not also passive evidence, unless it had been seen before the prompt.
        asked = state.challenge.kind if state.challenge is not None else None
        mouth_later = state.mouth_answered or asked == "mouth"
        if expression.status == "live" and (not mouth_later or state.mouth_before):
            evidence.append("expression")
        turn_3d = structure.status == "live" and state.turned(cfg.structure.min_turn)
        turn_later = state.turn_answered or asked == "turn"
        if turn_3d and (not turn_later or state.turn_before):
            evidence.append("3d_turn")
        evidence += ["challenge"] * state.answered

        def verdict(status: Status, reason: str) -> LivenessVerdict:
            prompt = state.challenge.prompt if status == "challenge" and state.challenge else None
            return LivenessVerdict(
                status, reason, scores, prompt, state.challenges > 0, tuple(evidence)
            )

        # 1. Attack evidence refuses.
        if screen.status == "spoof":
            return verdict("spoof", "screen")
        if frame.status == "spoof":
            return verdict("spoof", "frame")
        if model is not None and model.status == "spoof":
            return verdict("spoof", "model")
        if structure.status == "spoof" and self._overwhelmingly_flat(state):
            return verdict("spoof", "flat")
        # 2. Two pieces of live evidence accept (passive evidence seen during a challenge too).
        # A configured model must agree, unless it abstained (every crop too blurry to judge).
        model_ok = (
            model is None or model.status == "live" or bool(state.model and state.model.abstained)
        )
        if len(evidence) >= cfg.min_evidence and model_ok and state.screen.checked:
            if "challenge" in evidence:
                return verdict("live", "challenge_passed")
            return verdict("live", "+".join(evidence))
        # 3. A challenge runs until answered or expired; then, once, the other kind.
        ch = state.challenge
        if ch is not None and not ch.expired(now):
            return verdict("challenge", "challenge_running")
        if state.challenges > 0:
            # The last challenge ended (answered or expired) without enough evidence.
            state.challenge = None
            if state.challenges > cfg.challenge.retries:
                return verdict("spoof", "challenge_failed")
            if landmarks is None:  # ask again on a frame the mesh can follow
                return verdict("inconclusive", "waiting")
            return self._challenge(state, now, landmarks, verdict)
        # 4. Not enough evidence yet: wait, then challenge (or refuse in passive mode). A flat
        # look, or one piece of live evidence after challenge.after_evidence_s, is challenged
        # at once: the person is asked for the second instead of waiting for it.
        flat = structure.status == "spoof"
        if cfg.mode == "passive+challenge" and landmarks is not None:
            early = cfg.challenge.after_evidence_s
            if flat or (
                early is not None
                and evidence
                and state.screen.checked
                and now - state.first >= early
            ):
                return self._challenge(state, now, landmarks, verdict)
        if now - state.first < cfg.decide_within_s:
            return verdict("inconclusive", "waiting")
        if cfg.mode == "passive":
            return verdict("spoof", "flat" if flat else "no_liveness_evidence")
        if landmarks is None:  # start the challenge on a frame the mesh can follow
            return verdict("inconclusive", "waiting")
        return self._challenge(state, now, landmarks, verdict)

    def _seen_kinds(self, state: _TrackState) -> list[ChallengeKind]:
        """The challenge kinds whose passive evidence the attempt has shown."""
        seen: list[ChallengeKind] = []
        if len(state.blink.blinks) >= self.cfg.blink.min_blinks:
            seen.append("blink")
        if state.expression.result().status == "live":
            seen.append("mouth")
        min_turn = self.cfg.structure.min_turn
        if state.structure.result().status == "live" and state.turned(min_turn):
            seen.append("turn")
        return seen

    def _overwhelmingly_flat(self, state: _TrackState) -> bool:
        cfg = self.cfg.structure
        _, ratio, moving = state.structure.measures()
        return ratio < cfg.final_flat_ratio and moving >= 3 * cfg.min_pairs

    def _challenge(
        self,
        state: _TrackState,
        now: float,
        landmarks: FaceLandmarks,
        verdict: Callable[[Status, str], LivenessVerdict],
    ) -> LivenessVerdict:
        """Ask a challenge: the first time one the face has already shown it can do, then
        another kind (at random among the candidates).

        The first challenge is chosen among the kinds whose passive evidence the attempt has
        already seen (``mouth`` after a moving mouth, ``blink`` after a blink, ``turn`` after a
        3-D turn), when ``challenge.prefer_seen`` and there are any; otherwise among all
        configured kinds. A person whose eyes the mesh cannot follow is not asked to blink
        first, and one who talks is asked to open the mouth, which no print can do. A recording
        that shows one behaviour answers a request for it whatever the choice (the retry asks
        for the others), so the choice adds no weakness against replays: the screen and frame
        detectors must stop those.
        """
        kinds = self.cfg.challenge.kinds
        previous = state.challenge_kind
        if previous is None:
            seen = self._seen_kinds(state) if self.cfg.challenge.prefer_seen else []
            candidates = [k for k in kinds if k in seen] or list(kinds)
        else:
            candidates = [k for k in kinds if k != previous] or list(kinds)
        kind: ChallengeKind = self.rng.choice(candidates)
        state.challenge = ChallengeState(
            self.cfg.challenge, kind, now, pose_proxy(landmarks.points),
            self.cfg.structure.min_turn, self.cfg.expression.min_range, self.spoken_s,
        )  # fmt: skip
        state.challenge_kind = kind
        state.challenges += 1
        if not state.mouth_answered:
            state.mouth_before = state.expression.result().status == "live"
        if not state.turn_answered:
            structure = state.structure.result()
            state.turn_before = structure.status == "live" and state.turned(
                self.cfg.structure.min_turn
            )
        return verdict("challenge", "challenge_started")
