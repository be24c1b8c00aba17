"""Taking a face for enrolment: several good, different frames, with guidance.

Frames stay in memory and are dropped as soon as they are embedded; nothing is written to
disk. Photos given as files are only read.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..capture import Camera
from ..capture.images import read_image
from ..clock import Clock, SystemClock
from ..config.enrollment import EnrollmentConfig
from ..errors import FacegateError, ImageError
from ..vision.match import Gallery
from .pipeline import FacePipeline

__all__ = [
    "EnrollmentError",
    "PhotoOutcome",
    "capture_templates",
    "find_enrolled",
    "find_in_gallery",
    "shred",
    "templates_from_photos",
]


class EnrollmentError(FacegateError, RuntimeError):
    """Not enough usable face images; nothing was stored."""


@dataclass(slots=True, frozen=True)
class PhotoOutcome:
    path: Path
    ok: bool
    reason: str | None


def templates_from_photos(
    pipeline: FacePipeline, photos: list[Path]
) -> tuple[np.ndarray | None, list[PhotoOutcome]]:
    """One template per usable photo (largest face, quality-gated)."""
    chips: list[list[np.ndarray]] = []  # per photo: the chips of one enrolment sample
    outcomes: list[PhotoOutcome] = []
    for path in photos:
        try:  # regular files only, size checked before decoding, bounded memory
            rgb = read_image(path, max_side=1600)
        except ImageError as exc:
            outcomes.append(PhotoOutcome(path, False, str(exc).removeprefix(f"{path}: ")))
            continue
        detections = pipeline.detect_photo(rgb)
        if not detections:
            outcomes.append(PhotoOutcome(path, False, "no face found"))
            continue
        face = max(detections, key=lambda d: d.area)
        quality = pipeline.assess(rgb, face)
        if not quality.ok:
            outcomes.append(PhotoOutcome(path, False, quality.reason))
            continue
        chips.append(pipeline.enrol_chips(rgb, face))  # the photo's pixels are dropped
        outcomes.append(PhotoOutcome(path, True, None))
    # One template per photo (its jittered chips fused on sface; one batch otherwise).
    return (pipeline.enrol_templates(chips) if chips else None), outcomes


def capture_templates(
    pipeline: FacePipeline,
    camera: Camera,
    cfg: EnrollmentConfig,
    *,
    clock: Clock | None = None,
    on_status: Callable[[str, int], None] | None = None,
) -> np.ndarray:
    """Embed ``cfg.frames`` good frames of the largest face from an opened camera.

    ``on_status(message, frames_so_far)`` receives guidance ("come closer", "hold still", …).

    Raises:
        EnrollmentError: the camera ended or ``cfg.timeout_s`` passed first.
    """
    clock = clock or SystemClock()
    start = clock.monotonic()
    last_kept = -float("inf")
    rows: list[list[np.ndarray]] = []  # per good frame: its chips, embedded at the end

    def say(message: str) -> None:
        if on_status is not None:
            on_status(message, len(rows))

    while len(rows) < cfg.frames:
        if clock.monotonic() - start > cfg.timeout_s:
            raise EnrollmentError(
                f"only {len(rows)} of {cfg.frames} good frames in {cfg.timeout_s:.0f} s; "
                "nothing was stored"
            )
        frame = camera.read()
        if frame is None:
            raise EnrollmentError("the camera stopped before enough good frames; nothing stored")
        faces = pipeline.detect(frame.image)
        if not faces:
            say("step in front of the camera and look at it")
            continue
        face = max(faces, key=lambda d: d.area)
        if len(faces) > 1 and sorted(d.area for d in faces)[-2] > 0.5 * face.area:
            say("only the person enrolling, please")
            continue
        quality = pipeline.assess(frame.image, face)
        if not quality.ok:
            say(quality.reason or "adjust your position")
            continue
        if frame.timestamp - last_kept < cfg.min_interval_s:
            continue
        rows.append(pipeline.enrol_chips(frame.image, face))
        last_kept = frame.timestamp
        say("good — hold still" if len(rows) < cfg.frames else "done")
    # One template per good frame (its jittered chips fused on sface; one batch otherwise).
    return pipeline.enrol_templates(rows)


def shred(path: Path) -> None:
    """Overwrite a file with random bytes, flush it to the device, and delete it.

    On SD cards and SSDs the controller may keep old copies of the blocks elsewhere; shredding
    is best effort there (say so to the admin).
    """
    size = path.stat().st_size
    with path.open("r+b") as handle:
        remaining = size
        while remaining > 0:
            chunk = min(remaining, 1 << 20)
            handle.write(np.random.default_rng().bytes(chunk))
            remaining -= chunk
        handle.flush()
        os.fsync(handle.fileno())
    path.unlink()


def find_enrolled(
    pipeline: FacePipeline, people: Iterable[tuple[str, np.ndarray]], templates: np.ndarray
) -> tuple[str, float] | None:
    """The enrolled person (pseudonym, best score) that any of ``templates`` matches at the
    threshold the daemon uses once they are added, or ``None``: the same face enrolled twice
    as two people would make every grant name one of them at random."""
    gallery = Gallery(pipeline.embedder.dim)
    gallery.add_many(people)
    return find_in_gallery(pipeline, gallery, templates)


def find_in_gallery(
    pipeline: FacePipeline, gallery: Gallery, templates: np.ndarray
) -> tuple[str, float] | None:
    """:func:`find_enrolled` on a gallery already loaded (the running daemon's)."""
    if not len(gallery):
        return None
    # The threshold in force once this person is in (a larger gallery never lowers it).
    threshold = pipeline.policy.threshold(gallery.template_count + len(templates))
    best: tuple[str, float] | None = None
    for row in templates:
        found = gallery.search(row, threshold)
        if found.matched and found.subject and (best is None or found.score > best[1]):
            best = (found.subject, found.score)
    return best
