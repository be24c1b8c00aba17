"""Liveness (presentation-attack detection) settings: which signals run, and their thresholds.

``mode`` chooses how much the gate asks of a face before it may open a door (each door may
override it with its own ``liveness:``):

* ``off``: no liveness check (a photo of a resident opens the door);
* ``passive``: the passive signals (3-D structure from motion, blinks, the optional model)
  must vouch for the face within ``decide_within_s``, or the face is refused (PIN or card
  still work);
* ``passive+challenge``: as ``passive``, but when the passive signals stay inconclusive the
  gate asks once for a blink or a small head turn and judges the response.

The defaults were calibrated with ``facegate eval-pad`` on the shared test clips (see the
README's liveness section for the measured rates).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from .base import Section

__all__ = [
    "ANTI_SPOOFING_FILE",
    "ANTI_SPOOFING_SHA256",
    "BlinkConfig",
    "ChallengeConfig",
    "ExpressionConfig",
    "FrameConfig",
    "LivenessConfig",
    "LivenessMode",
    "PadModelConfig",
    "ScreenConfig",
    "StructureConfig",
]

LivenessMode = Literal["off", "passive", "passive+challenge"]


class StructureConfig(Section):
    """3-D structure from motion: do the landmarks move like a flat picture?

    FaceMesh is a learned model: on a picture seen at a slant it sometimes places the nose as on
    a turned head, so 3-D structure alone is not taken as proof of life. It counts together with
    a head turn (``min_turn``); alone it can only prove a *flat* face.

    Each frame is compared with a few earlier frames of the track. ``motion`` is how much the
    face outline changed shape in 2-D (residual after a similarity fit); ``parallax`` is how far
    the nose strays from where a homography of the outline puts it. Both are over the
    inter-ocular distance. A flat picture has parallax of the order of its motion (perspective
    and landmark noise); a real head has several times more.
    """

    window_s: float = Field(
        default=3.0,
        gt=0.2,
        le=10.0,
        description="Each frame is compared with earlier frames up to this many seconds old, "
        "and the comparisons are remembered for as long.",
    )
    min_frames: int = Field(
        default=8, ge=3, le=300, description="Frames in the window before the signal may conclude."
    )
    pair_motion: float = Field(
        default=0.02,
        gt=0.0,
        le=1.0,
        description="Least outline motion for a pair of frames to count as a moving pair.",
    )
    min_pairs: int = Field(
        default=12,
        ge=1,
        le=1000,
        description="Moving pairs needed before the signal concludes; fewer means the head "
        "hardly moved (inconclusive).",
    )
    solid_parallax: float = Field(
        default=0.12,
        gt=0.0,
        le=5.0,
        description="90th percentile of the nose parallax at or above which (with solid_ratio) "
        "the face is 3-D: live evidence.",
    )
    solid_ratio: float = Field(
        default=2.0,
        gt=0.0,
        le=50.0,
        description="Median parallax over motion of the moving pairs at or above which (with "
        "solid_parallax) the face is 3-D.",
    )
    min_turn: float = Field(
        default=0.15,
        gt=0.0,
        le=2.0,
        description="Least change of a head-pose proxy (the nose tip's affine coordinates in the "
        "frame of the eye line and the eyes-to-upper-lip line) that is a head turn or nod. A "
        "turn with 3-D structure is live evidence, passively or as the answer to a turn "
        "challenge. A picture tilted as a whole keeps both coordinates: over the first 3 s of "
        "the synthesized print attempts their range stayed below 0.09 in 99 %.",
    )
    flat_ratio: float = Field(
        default=1.5,
        gt=0.0,
        le=50.0,
        description="Median parallax over motion of the moving pairs below which the face "
        "looks flat: a print or a screen moved as a whole. Real heads whose motion is mostly "
        "expression also fall below it, so a flat face only hands over to the challenge "
        "(passive+challenge) unless it is below final_flat_ratio.",
    )
    final_flat_ratio: float = Field(
        default=0.3,
        ge=0.0,
        le=50.0,
        description="Ratio below which, over at least three times min_pairs moving pairs, a "
        "flat face is refused at once (overwhelming attack evidence). On pad-dev live "
        "attempts went down to 0.55 (strong expressions), the synthesized prints not below "
        "1.4; 0 turns it off.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> StructureConfig:
        if self.solid_ratio < self.flat_ratio:
            raise ValueError("solid_ratio must not be below flat_ratio")
        if self.final_flat_ratio > self.flat_ratio:
            raise ValueError("final_flat_ratio must not be above flat_ratio")
        return self


class BlinkConfig(Section):
    """Blinks: a short dip of the eye aspect ratio below the track's running median."""

    baseline_s: float = Field(
        default=1.5, gt=0.2, le=10.0, description="Seconds of eye aspect ratios in the median."
    )
    dip: float = Field(
        default=0.2,
        gt=0.0,
        lt=1.0,
        description="Relative dip (1 - EAR / running median) of the mean of both eyes that "
        "starts a blink. Relative, because faces differ in how open their eyes are. Natural "
        "blinks dip 0.2-0.4, a deliberate one (the challenge) deeper. A blink alone never "
        "accepts (two pieces of evidence do); on pad-dev 0.2 found blinks in 1 of the 20 "
        "synthesized prints and 0.18 in 3.",
    )
    each_eye_dip: float = Field(
        default=0.1, ge=0.0, lt=1.0, description="Relative dip each eye must show in a blink."
    )
    recover: float = Field(
        default=0.08,
        ge=0.0,
        lt=1.0,
        description="Relative dip below which the eyes count as open again.",
    )
    max_duration_s: float = Field(
        default=0.5,
        gt=0.0,
        le=2.0,
        description="Longest dip that is a blink (longer: looking down, or a tilted picture).",
    )
    min_frames: int = Field(
        default=1,
        ge=1,
        le=30,
        description="Frames a blink's dip must last. At 15 fps a blink lasts 1-3 frames, so "
        "one frame counts; landmark noise is kept out by both eyes having to dip, the jitter "
        "test and the recovery.",
    )
    max_jitter: float = Field(
        default=0.04,
        gt=0.0,
        le=1.0,
        description="Most the face outline may jump between frames during a blink (over the "
        "inter-ocular distance); more means landmark noise from blur, not closing lids.",
    )
    min_blinks: int = Field(
        default=1, ge=1, le=5, description="Blinks that count as live evidence."
    )

    @model_validator(mode="after")
    def _ordered(self) -> BlinkConfig:
        if self.recover >= self.dip:
            raise ValueError("recover must be below dip")
        return self


class ExpressionConfig(Section):
    """Expression: the mouth opens and closes (speech, a smile); a picture's cannot."""

    window_s: float = Field(
        default=3.0, gt=0.2, le=10.0, description="Seconds of mouth openings compared."
    )
    min_frames: int = Field(
        default=8, ge=2, le=300, description="Frames in the window before the signal may conclude."
    )
    smooth_frames: int = Field(
        default=3,
        ge=1,
        le=15,
        description="Each frame's mouth opening is the median of this many frames' (1: no "
        "smoothing). Landmark jitter changes single frames, a mouth that talks moves over "
        "several: on pad-dev the median of 3 lowered the prints' largest spread from 0.13 to "
        "0.10 and the screen stills' from 0.49 to 0.17, and talking people's hardly (also "
        "with their 25-fps clips thinned to 15 fps).",
    )
    min_range: float = Field(
        default=0.13,
        gt=0.0,
        le=5.0,
        description="Spread (95th - 5th percentile) of the smoothed inner-lip gap over the "
        "eyes-to-lip distance that is a moving mouth (live evidence). On pad-dev, over whole "
        "clips, prints stay at or below 0.10 and screen stills at or below 0.17 (one; the "
        "rest 0.10); talking people reach 0.13-0.58, the silent ones stay below.",
    )


class ScreenConfig(Section):
    """The screen detector: colour moiré of a display's pixel grid on the face."""

    every_n_frames: int = Field(
        default=2, ge=1, le=100, description="Measure every n-th frame of a track."
    )
    min_samples: int = Field(
        default=12,
        ge=1,
        le=1000,
        description="Measured frames before the detector may conclude; no face is accepted "
        "before (12 samples of every 2nd frame: 1.6 s at 15 fps).",
    )
    kth_highest: int = Field(
        default=2,
        ge=1,
        le=100,
        description="The track's score is its k-th highest frame score: moire comes and goes "
        "with the screen's angle and distance (a replay showed it on 1 sampled frame in 6), "
        "skin's colour detail does not; the 2nd highest ignores one odd frame.",
    )
    moire_spoof: float = Field(
        default=0.43,
        gt=0.0,
        le=10.0,
        description="Band-passed fine-colour over fine-brightness energy of the face (the "
        "k-th highest over the sampled frames) at or above which the face is on a screen "
        "(attack evidence). On pad-dev, over whole clips, live ones stay at or below 0.36 (a "
        "dark + JPEG-20 variant), prints at or below 0.22, simulated screens start at 0.60; "
        "the threshold is between.",
    )


class FrameConfig(Section):
    """The frame detector: straight edges on all sides of the face (paper margin, bezel)."""

    enabled: bool = Field(
        default=True, description="Run the frame detector (false: its ablation, for eval-pad)."
    )
    every_n_frames: int = Field(
        default=2, ge=1, le=100, description="Measure every n-th frame of a track."
    )
    ring: float = Field(
        default=2.4,
        ge=1.5,
        le=5.0,
        description="Side of the square searched around the face, over the detection's side.",
    )
    size: int = Field(
        default=128,
        ge=48,
        le=512,
        description="Pixels the square is scaled to (the cost does not grow with the face).",
    )
    kth_highest: int = Field(
        default=2,
        ge=1,
        le=100,
        description="The track's score is its k-th highest frame score (one odd frame is ignored).",
    )
    min_sides: int = Field(
        default=4,
        ge=1,
        le=4,
        description="Sides of the face with a straight edge beside them that are attack "
        "evidence: 4, a closed frame. On pad-dev live clips reached at most 3 (studio sets), "
        "4 of 10 bent prints, 4 of 10 screen stills and 4 of 10 replays reached 4.",
    )


ANTI_SPOOFING_FILE = "FaceAntiSpoofing.tflite"
"""The name ``facegate models install --with antispoof`` gives the model (models manifest)."""
ANTI_SPOOFING_SHA256 = "a980757d55e2835aff69f2fa9b04914e21d426dd8a43588c2982d50e8038ec02"
"""Its pinned SHA-256 (the same pin as in :mod:`facegate.models.manifest`; a test checks)."""


class PadModelConfig(Section):
    """An optional TFLite anti-spoofing classifier (FaceAntiSpoofing-style outputs).

    It takes a square RGB crop of the face scaled to 0..1 and returns two 8-value outputs
    (``clss_pred`` and ``leaf_node_mask``); the attack score is their weighted sum.
    """

    path: Path = Field(
        default=Path(ANTI_SPOOFING_FILE),
        description="The .tflite file: a name inside the models folder, or an absolute path. "
        "Default: FaceAntiSpoofing.tflite, where `facegate models install --with antispoof` "
        "puts it.",
    )
    sha256: str = Field(
        default=ANTI_SPOOFING_SHA256,
        pattern=r"^[0-9a-f]{64}$",
        description="Pinned SHA-256 of the file (64 lowercase hex digits); another file is "
        "refused at start. Left out only for FaceAntiSpoofing.tflite: its pin. Another "
        "model needs both `path` and `sha256`.",
    )
    every_n_frames: int = Field(
        default=5, ge=1, le=100, description="Run the model on every n-th frame of a track."
    )
    min_samples: int = Field(
        default=3, ge=1, le=100, description="Runs before the model may conclude."
    )
    max_samples: int = Field(
        default=6, ge=1, le=100, description="Stop running the model on a track after this many."
    )
    threshold: float = Field(
        default=0.6,
        gt=0.0,
        description="Attack when the median score of a track's runs is above this.",
    )
    crop_scale: float = Field(
        default=0.95,
        gt=0.3,
        le=3.0,
        description="Square crop side over the face landmarks' extent (the model is sensitive "
        "to the crop; 0.95 was calibrated on the shared clips).",
    )
    num_threads: int = Field(default=2, ge=1, le=8, description="Interpreter threads.")
    min_sharpness: int = Field(
        default=1000,
        ge=0,
        le=65536,
        description="Least count of pixels of the 256x256 grey crop whose Laplacian exceeds 50 "
        "for the model to judge it (its authors' gate); a blurrier crop abstains instead of "
        "refusing a live face. 0 judges every crop. On pad-dev no crop passed 1000.",
    )

    @model_validator(mode="before")
    @classmethod
    def _path_and_sha256(cls, data: Any) -> Any:
        """Both, or neither (the installed FaceAntiSpoofing.tflite and its pin): a hash
        without its file, or another file without its hash, is a mistake, not a default."""
        if not isinstance(data, dict):
            return data
        if "sha256" in data and "path" not in data:
            raise ValueError("`sha256` needs the `path` of the model it pins")
        named = Path(str(data.get("path", ANTI_SPOOFING_FILE))).name
        if "sha256" not in data and named != ANTI_SPOOFING_FILE:
            raise ValueError(
                f"`path` {data['path']} needs its `sha256` (only {ANTI_SPOOFING_FILE}, "
                "from `facegate models install --with antispoof`, has a built-in pin)"
            )
        return data

    @model_validator(mode="after")
    def _ordered(self) -> PadModelConfig:
        if self.max_samples < self.min_samples:
            raise ValueError("max_samples must not be below min_samples")
        return self


class ChallengeConfig(Section):
    """The one active challenge per attempt when the passive signals stay inconclusive."""

    kinds: tuple[Literal["blink", "turn", "mouth"], ...] = Field(
        default=("blink", "turn", "mouth"),
        min_length=1,
        description="Challenges chosen from at random (a retry asks another kind): a blink, a "
        "head turn or nod, or a mouth opened and closed (which no print can do).",
    )
    timeout_s: float = Field(
        default=3.0,
        gt=0.5,
        le=20.0,
        description="Seconds the person has to respond; at a door with a gate.speaker, "
        "counted from the end of its longest spoken prompt (at most the speaker's max_play_s).",
    )
    after_evidence_s: float | None = Field(
        default=1.5,
        gt=0.0,
        le=30.0,
        description="Seconds after which an attempt that has shown one piece of live evidence "
        "(and no attack evidence, once the screen detector has its samples) is asked for the "
        "second at once instead of waiting for decide_within_s; null: wait. On pad-dev "
        "(eval-pad replays, 5 challenge seeds) 1.5 s with decide_within_s 2.5 refused 32 of 245 "
        "live attempts against 46 of 245 without it, and no attack more.",
    )
    prefer_seen: bool = Field(
        default=True,
        description="Ask first for a response the face has already shown passively (open the "
        "mouth after a moving mouth, blink after a blink, turn after a 3-D turn), at random "
        "among those; false: at random among kinds. On pad-dev, with the BlazeFace detector "
        "before after_evidence_s, it refused 6 of 49 live attempts (eval-pad, seed 0; the "
        "same at 4 other seeds in a replay on cached landmarks), against 9-15 at random, and "
        "no more attacks.",
    )
    retries: int = Field(
        default=1,
        ge=0,
        le=1,
        description="Further challenges (of the other kind, when there are two) after one "
        "that went unanswered, or that was answered while the attempt still lacked a second "
        "piece of evidence.",
    )
    text_blink: str = Field(
        default="Please blink", min_length=1, max_length=60, description="Display text (blink)."
    )
    text_turn: str = Field(
        default="Please turn or nod your head",
        min_length=1,
        max_length=60,
        description="Display text (turn).",
    )
    text_mouth: str = Field(
        default="Please open your mouth",
        min_length=1,
        max_length=60,
        description="Display text (mouth).",
    )


class LivenessConfig(Section):
    """Liveness for face attempts: refuse photos and screens held up to the camera."""

    mode: LivenessMode = Field(
        default="passive+challenge",
        description="off, passive or passive+challenge; a door's own `liveness:` overrides it.",
    )
    landmarks: str = Field(
        default="face_mesh_mediapipe.tflite",
        min_length=1,
        description="FaceMesh model file name inside the models folder, or an absolute path "
        "(MediaPipe's own mesh: its eye points follow the lids, which blinks need).",
    )
    decide_within_s: float = Field(
        default=2.5,
        gt=0.2,
        le=30.0,
        description="Seconds of a track the passive signals have before the gate challenges "
        "(passive+challenge) or refuses (passive).",
    )
    structure: StructureConfig = Field(
        default_factory=StructureConfig, description="3-D structure from motion."
    )
    blink: BlinkConfig = Field(default_factory=BlinkConfig, description="Blinks.")
    expression: ExpressionConfig = Field(
        default_factory=ExpressionConfig, description="Mouth motion (speech, smiles)."
    )
    screen: ScreenConfig = Field(
        default_factory=ScreenConfig, description="The screen detector (colour moire)."
    )
    frame: FrameConfig = Field(
        default_factory=FrameConfig,
        description="The frame detector (a paper margin or a bezel around the face).",
    )
    min_evidence: int = Field(
        default=2,
        ge=1,
        le=4,
        description="Distinct pieces of live evidence an acceptance needs: a blink, a moving "
        "mouth, a 3-D head turn, a challenge answered. Two independent ones by default: any "
        "one of them can be faked or misread.",
    )
    model: PadModelConfig | None = Field(
        default=None, description="Optional anti-spoofing model; none by default."
    )
    challenge: ChallengeConfig = Field(
        default_factory=ChallengeConfig, description="The challenge (passive+challenge only)."
    )
    max_failures: int = Field(
        default=3,
        ge=1,
        le=100,
        description="Refused liveness attempts on one door within failure_window_s that raise "
        "an intrusion alarm.",
    )
    failure_window_s: float = Field(
        default=300.0, gt=0.0, le=86400.0, description="Window in which failures are counted."
    )
