"""Presentation-attack detection (PAD) measurement: ``eval-pad``.

The print attacks it is measured on can be synthesized from real photos
(:mod:`facegate.measure.pad_synth`). :func:`evaluate_pad` runs the liveness judge over
bona-fide and attack clips and reports ISO/IEC 30107-3 style rates: APCER per attack type,
BPCER, and the share of attempts that needed a challenge.

Offline challenge rule (a stated assumption, not a measurement): a clip cannot hear the
prompt, so an attempt that reaches ``"challenge"`` keeps running on the clip's following frames,
past its window if need be, and passes only if those frames happen to contain the requested
response (a blink, or a head turn or nod with 3-D structure). The rule is the same for
bona-fide and attack clips: for live people it stands in for a cooperative user, for attacks it
is what a replay that happens to blink, or a print that happens to move, would get. An
attempt whose clip ends before the challenge is answered or times out is refused (its
``clip_ended`` is set in ``--details``).

Challenge draws: which challenge is asked is random, so one run is one draw of it. With
``draws`` > 1 every attempt is judged again under further seeds, and the details give each
rate pooled over the draws with the spread from draw to draw (the draws share their clips, so
the pooled count is not that many independent attempts).

Small samples: every rate comes with its counts and a 95 % Wilson score interval
(:func:`wilson`), in ``--details`` and in the table, because 10 attacks of a type cannot tell
0 % from 25 %.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..recognition.tracking import Tracker
from ..vision.liveness.judge import LivenessJudge
from ..vision.types import Detection
from .pad_synth import IMAGE_SUFFIXES, ImageRGB
from .pad_table import EVIDENCE_REASONS, readme_table

__all__ = [
    "EVIDENCE_REASONS",
    "PAD_KEYS",
    "VIDEO_SUFFIXES",
    "Attempt",
    "AttemptResult",
    "PadDraw",
    "PadReport",
    "evaluate_pad",
    "iter_attempts",
    "readme_table",
    "run_attempt",
    "scan_attacks",
    "scan_clips",
    "wilson",
]

PAD_KEYS: tuple[str, ...] = (
    "apcer",
    "apcer_max",
    "bpcer",
    "challenge_rate",
    "attempts",
    "ms_per_frame",
)
"""The keys of ``eval-pad --json``, exactly."""

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"})


# --------------------------------------------------------------------------------------------
# eval-pad
# --------------------------------------------------------------------------------------------


def _is_clip(path: Path) -> bool:
    if path.name.startswith("."):
        return False
    if path.is_file():
        return path.suffix.lower() in VIDEO_SUFFIXES
    return path.is_dir() and any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir())


def scan_clips(folder: Path) -> list[Path]:
    """Clips directly in ``folder``: video files and folders of frames, in name order."""
    return sorted(p for p in folder.iterdir() if _is_clip(p))


def scan_attacks(folder: Path) -> dict[str, list[Path]]:
    """Attack clips by type: each subfolder ``folder/<type>/`` holds that type's clips."""
    out: dict[str, list[Path]] = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        clips = scan_clips(sub)
        if clips:
            out[sub.name] = clips
    return out


def read_clip(path: Path, default_fps: float = 15.0) -> tuple[list[ImageRGB], float]:
    """All frames of a clip (RGB) and its frame rate (``default_fps`` for frame folders)."""
    frames: list[ImageRGB] = []
    if path.is_dir():
        names = (q for q in path.iterdir() if not q.name.startswith("."))
        for p in sorted(q for q in names if q.suffix.lower() in IMAGE_SUFFIXES):
            raw = cv2.imread(str(p), cv2.IMREAD_COLOR)
            if raw is not None:
                frames.append(np.asarray(cv2.cvtColor(raw, cv2.COLOR_BGR2RGB), dtype=np.uint8))
        return frames, default_fps
    video = cv2.VideoCapture(str(path))
    fps = float(video.get(cv2.CAP_PROP_FPS))
    if not 1.0 <= fps <= 240.0:  # missing or nonsense in the container: assume the default
        fps = default_fps
    while True:
        ok, raw = video.read()
        if not ok:
            break
        frames.append(np.asarray(cv2.cvtColor(raw, cv2.COLOR_BGR2RGB), dtype=np.uint8))
    video.release()
    return frames, fps


@dataclass(slots=True, frozen=True)
class Attempt:
    """One attempt: frames ``start:stop`` of a clip (the challenge may run on past ``stop``)."""

    clip: Path
    start: int
    stop: int


def iter_attempts(n_frames: int, fps: float, clip: Path, window_s: float) -> Iterator[Attempt]:
    """Split a clip into attempts: the whole clip when shorter than twice ``window_s``,
    otherwise consecutive non-overlapping windows of ``window_s`` (a short tail is dropped)."""
    w = max(1, round(window_s * fps))
    if n_frames < 2 * w:
        yield Attempt(clip, 0, n_frames)
        return
    for start in range(0, n_frames - w + 1, w):
        yield Attempt(clip, start, start + w)


def wilson(errors: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval (95 % by default) of a rate of ``errors`` in ``n``.

    Unlike ``rate ± z·sd`` it stays inside [0, 1] and is not empty at 0 or n errors: 0 of 10
    is 0-28 %, not "0 %".
    """
    if n <= 0:
        return 0.0, 1.0
    p = errors / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1.0 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(slots=True, frozen=True)
class AttemptResult:
    """How one attempt ended: ``accepted`` (judged live), whether it reached a challenge.

    ``evidence`` is the live evidence the judge had seen, ``scores`` its signals' scores at the
    end, ``clip_ended`` is set when the clip ran out while a challenge was still running
    (refused: the offline stand-in for a person who did not answer), and ``tracks`` is how many
    faces (tracks) the judge followed in it.
    """

    clip: str
    start: int
    accepted: bool
    challenged: bool
    status: str
    reason: str
    evidence: tuple[str, ...] = ()
    scores: dict[str, float] = field(default_factory=dict)
    clip_ended: bool = False
    tracks: int = 1


@dataclass(slots=True)
class PadDraw:
    """The outcomes of one further challenge draw over the same attempts."""

    bona_fide: list[AttemptResult] = field(default_factory=list)
    attacks: dict[str, list[AttemptResult]] = field(default_factory=dict)


def _counts(
    bona_fide: Sequence[AttemptResult], attacks: dict[str, list[AttemptResult]]
) -> dict[str, tuple[int, int]]:
    """``(errors, attempts)`` per attack type, ``bona_fide`` and ``bona_fide_unchallenged``."""
    groups = {kind: (sum(r.accepted for r in rs), len(rs)) for kind, rs in attacks.items()}
    plain = [r for r in bona_fide if not r.challenged]
    groups["bona_fide"] = (sum(not r.accepted for r in bona_fide), len(bona_fide))
    groups["bona_fide_unchallenged"] = (sum(not r.accepted for r in plain), len(plain))
    return groups


@dataclass(slots=True)
class PadReport:
    """Everything ``eval-pad`` measured."""

    mode: str
    bona_fide: list[AttemptResult] = field(default_factory=list)
    attacks: dict[str, list[AttemptResult]] = field(default_factory=dict)
    frame_ms: list[float] = field(default_factory=list)
    frame_cpu_ms: list[float] = field(default_factory=list)
    unreadable: list[Path] = field(default_factory=list)
    draws: list[PadDraw] = field(default_factory=list)  # the further challenge draws
    seeds: list[int] = field(default_factory=list)  # the seed of every draw, first included

    def frame_ms_percentiles(self) -> tuple[float, float, float]:
        """``(median, p95, max)`` of the per-frame liveness time (zeros without frames)."""
        if not self.frame_ms:
            return 0.0, 0.0, 0.0
        p50, p95, top = np.percentile(self.frame_ms, [50, 95, 100])
        return float(p50), float(p95), float(top)

    def rates(self) -> dict[str, dict[str, Any]]:
        """Per type: errors, attempts, rate and 95 % Wilson interval (the first draw).

        Attack types count accepted attacks (APCER); ``bona_fide`` counts refused live
        attempts (BPCER), and ``bona_fide_unchallenged`` the same over the live attempts that
        were decided without a challenge (the BPCER a person meets when the passive signals
        suffice).
        """
        out: dict[str, dict[str, Any]] = {}
        for kind, (errors, n) in _counts(self.bona_fide, self.attacks).items():
            lo, hi = wilson(errors, n)
            out[kind] = {
                "errors": errors,
                "attempts": n,
                "rate": errors / n if n else 0.0,
                "ci95": [lo, hi],
            }
        return out

    def draw_rates(self) -> dict[str, dict[str, Any]]:
        """Per type, over every challenge draw (the first and :attr:`draws`): the pooled
        errors, attempts and rate, and each draw's errors (``per_draw``)."""
        counts = [_counts(self.bona_fide, self.attacks)]
        counts += [_counts(d.bona_fide, d.attacks) for d in self.draws]
        out: dict[str, dict[str, Any]] = {}
        for kind in counts[0]:
            per = [c[kind] for c in counts if kind in c]
            errors, n = sum(e for e, _ in per), sum(m for _, m in per)
            out[kind] = {
                "errors": errors,
                "attempts": n,
                "rate": errors / n if n else 0.0,
                "per_draw": [e for e, _ in per],
            }
        return out

    def details(self) -> dict[str, Any]:
        """Everything measured: the summary, the time spread, and every attempt's outcome."""
        _, p95, top = self.frame_ms_percentiles()
        attempts = [("bona_fide", r) for r in self.bona_fide] + [
            (kind, r) for kind, rs in self.attacks.items() for r in rs
        ]
        return {
            **self.summary(),
            "mode": self.mode,
            "ms_per_frame_p95": p95,
            "ms_per_frame_max": top,
            "frames": len(self.frame_ms),
            "cpu_ms_per_frame": (
                statistics.median(self.frame_cpu_ms) if self.frame_cpu_ms else 0.0
            ),
            "rates": self.rates(),
            "draws": {"seeds": self.seeds, "rates": self.draw_rates()},
            "clips": {
                "bona_fide": len({r.clip for r in self.bona_fide}),
                **{kind: len({r.clip for r in rs}) for kind, rs in self.attacks.items()},
            },
            "challenge_rule": "a challenge runs on over the clip's following frames, for live "
            "and attack clips alike; a clip that ends first is refused",
            "results": [
                {
                    "type": kind,
                    "clip": r.clip,
                    "start": r.start,
                    "accepted": r.accepted,
                    "challenged": r.challenged,
                    "status": r.status,
                    "reason": r.reason,
                    "evidence": list(r.evidence),
                    "scores": {k: round(float(v), 4) for k, v in r.scores.items()},
                    "clip_ended": r.clip_ended,
                    "tracks": r.tracks,
                }
                for kind, r in attempts
            ],
        }

    def summary(self) -> dict[str, Any]:
        """The ``--json`` document, with exactly :data:`PAD_KEYS`."""
        apcer = {
            kind: (sum(r.accepted for r in rs) / len(rs) if rs else 0.0)
            for kind, rs in self.attacks.items()
        }
        every = self.bona_fide + [r for rs in self.attacks.values() for r in rs]
        bpcer = (
            sum(not r.accepted for r in self.bona_fide) / len(self.bona_fide)
            if self.bona_fide
            else 0.0
        )
        return {
            "apcer": apcer,
            "apcer_max": max(apcer.values(), default=0.0),
            "bpcer": bpcer,
            "challenge_rate": (sum(r.challenged for r in every) / len(every)) if every else 0.0,
            "attempts": {
                "bona_fide": len(self.bona_fide),
                **{k: len(v) for k, v in self.attacks.items()},
            },
            "ms_per_frame": statistics.median(self.frame_ms) if self.frame_ms else 0.0,
        }


Detect = Callable[[ImageRGB], list[Detection]]
"""Finds every face in one RGB frame (an empty list: none)."""

_TRACK_BITS = 20  # a judge key is the attempt's number, then the track's within the attempt


def run_attempt(
    judge: LivenessJudge,
    track_id: int,
    frames: Sequence[ImageRGB],
    detections: Sequence[Sequence[Detection]],
    fps: float,
    attempt: Attempt,
    *,
    frame_ms: list[float],
    frame_cpu_ms: list[float] | None = None,
    tracker: Tracker | None = None,
) -> AttemptResult:
    """Run the judge over one attempt (see the module doc for the offline challenge rule).

    Faces are followed as the daemon follows them (:class:`~facegate.recognition.tracking.
    Tracker`, a fresh one per attempt unless ``tracker`` is given): each frame the largest face
    is judged as its own track, so two people in a clip (or a photo of two) are never spliced
    into one face; a face that jumps away, or is lost longer than the tracker allows, starts
    afresh, as at the gate. The attempt ends at the first final verdict, or with the last one.
    """
    tracker = tracker or Tracker()
    status, reason, challenged = "inconclusive", "no_face", False
    evidence: tuple[str, ...] = ()
    scores: dict[str, float] = {}
    keys: set[int] = set()
    for i in range(attempt.start, len(frames)):
        if i >= attempt.stop and not challenged:
            break  # only a running challenge goes on past the window
        associated = tracker.update(i / fps, list(detections[i]))
        if not associated:
            continue
        track, face = max(associated, key=lambda pair: pair[1].area)
        key = (track_id << _TRACK_BITS) | track.id
        keys.add(key)
        t0, c0 = time.perf_counter(), time.thread_time()
        verdict = judge.observe(key, frames[i], face, i / fps)
        frame_ms.append((time.perf_counter() - t0) * 1000.0)
        if frame_cpu_ms is not None:
            frame_cpu_ms.append((time.thread_time() - c0) * 1000.0)
        status, reason = verdict.status, verdict.reason
        evidence, scores = verdict.evidence, dict(verdict.scores)
        challenged = challenged or verdict.challenged
        if verdict.final:
            break
    for key in keys:
        judge.forget(key)
    return AttemptResult(
        str(attempt.clip), attempt.start, status == "live", challenged, status, reason,
        evidence, scores, clip_ended=status == "challenge", tracks=len(keys),
    )  # fmt: skip


def evaluate_pad(
    bona_fide: Path,
    attacks: Path,
    *,
    judge: LivenessJudge,
    detect: Detect,
    window_s: float = 4.0,
    fps: float = 15.0,
    progress: Callable[[str], None] | None = None,
    redraws: Sequence[LivenessJudge] = (),
    track_iou: float = 0.3,
    track_lost_s: float = 1.0,
) -> PadReport:
    """Measure a judge on bona-fide clips and typed attack clips.

    ``redraws`` are further judges, alike but for the seed of their challenge choice: each
    judges every attempt again (not timed), and :attr:`PadReport.draws` holds their outcomes.
    ``detect`` returns every face of a frame; ``track_iou`` and ``track_lost_s`` follow them as
    the daemon does (``service.track_iou``, ``service.track_lost_s``; see :func:`run_attempt`).

    Every frame is run through ``detect`` (not timed); ``judge.observe`` is timed per frame,
    which is the time liveness adds to the pipeline (FaceMesh, the signals, model runs): wall
    time (``ms_per_frame``) and the calling thread's CPU time (``cpu_ms_per_frame`` in the
    details), which other jobs on a shared machine do not inflate.
    """
    report = PadReport(mode=judge.cfg.mode, draws=[PadDraw() for _ in redraws])
    groups: list[tuple[str | None, list[Path]]] = [(None, scan_clips(bona_fide))]
    groups += list(scan_attacks(attacks).items())
    track_id = 0
    untimed: list[float] = []
    for kind, clips in groups:
        results: list[AttemptResult] = []
        again: list[list[AttemptResult]] = [[] for _ in redraws]
        for clip in clips:
            frames, clip_fps = read_clip(clip, fps)
            if not frames:
                report.unreadable.append(clip)
                if progress is not None:
                    progress(f"{kind or 'bona_fide'}: {clip.name}")
                continue
            detections = [detect(f) for f in frames]
            for attempt in iter_attempts(len(frames), clip_fps, clip, window_s):
                track_id += 1
                results.append(
                    run_attempt(
                        judge, track_id, frames, detections, clip_fps, attempt,
                        frame_ms=report.frame_ms, frame_cpu_ms=report.frame_cpu_ms,
                        tracker=Tracker(track_iou, track_lost_s),
                    )
                )  # fmt: skip
                for other, outcomes in zip(redraws, again, strict=True):
                    untimed.clear()
                    outcomes.append(
                        run_attempt(
                            other, track_id, frames, detections, clip_fps, attempt,
                            frame_ms=untimed, tracker=Tracker(track_iou, track_lost_s),
                        )
                    )  # fmt: skip
            if progress is not None:
                progress(f"{kind or 'bona_fide'}: {clip.name}")
        if kind is None:
            report.bona_fide = results
        else:
            report.attacks[kind] = results
        for draw, outcomes in zip(report.draws, again, strict=True):
            if kind is None:
                draw.bona_fide = outcomes
            else:
                draw.attacks[kind] = outcomes
    return report
