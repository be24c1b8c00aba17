"""The ``facegate eval`` protocol: a folder of people's photos through the real pipeline.

The folder holds one subfolder per person. For everyone with two or more photos the first
photo (in name order) is enrolled and the others are genuine probes; people with a single
photo are never enrolled and probe the gallery as strangers. Every probe is compared with
every enrolled person (1:N) and all scores are kept, so one run gives verification rates
(FNMR/FMR, DET, EER, TAR@FAR), closed-set identification (rank-1) and the open-set
stranger acceptance (FPIR) at the very threshold the daemon would use.

Photos that cannot be read or give no usable face are counted (failure to enrol, failure to
acquire), never fatal. Nothing is written: templates live in memory for the run only.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import cv2
import numpy as np

from ..errors import FacegateError, ImageError
from . import metrics

if TYPE_CHECKING:
    from ..recognition import FacePipeline

__all__ = [
    "FAR_TARGETS",
    "FPIR_TARGETS",
    "IMAGE_SUFFIXES",
    "MAX_SIDE",
    "FaceEval",
    "FacesFolderError",
    "Person",
    "PhotoOutcome",
    "read_photo",
    "run_protocol",
    "scan_faces",
]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})
MAX_SIDE = 1600  # a gate camera never delivers more; bigger originals are scaled down first
FPIR_TARGETS = (0.1, 0.01, 0.001, 0.0001)
FAR_TARGETS = {"1e-3": 1e-3, "1e-4": 1e-4}

Role = Literal["enrol", "genuine", "stranger"]


class FacesFolderError(FacegateError, ValueError):
    """The faces folder is missing or not laid out as one subfolder of photos per person."""


@dataclass(slots=True, frozen=True)
class Person:
    """One person folder: its name and its photos in name order."""

    name: str
    photos: tuple[Path, ...]


@dataclass(slots=True, frozen=True)
class PhotoOutcome:
    """What the pipeline made of one photo."""

    path: Path
    person: str
    role: Role
    template: np.ndarray | None
    reason: str | None
    ms: float  # read + downscale + detect + quality + align + embed


@dataclass(slots=True)
class FaceEval:
    """Everything one run measured; ``report()`` turns it into the published numbers."""

    embedder: str
    identities: int
    enrolled: list[str]
    threshold: float
    threshold_fixed: bool
    target_fpir: float
    template_count: int
    thresholds_for_fpir: dict[str, float]
    outcomes: list[PhotoOutcome]
    unused_photos: dict[str, int]  # person → photos not used as probes (enrolment failed)
    genuine_matrix: np.ndarray  # genuine probes × enrolled people
    genuine_true: np.ndarray  # column of each genuine probe's own person
    stranger_matrix: np.ndarray  # stranger probes × enrolled people
    threshold_warning: str | None = None
    enroll: int = 1  # photos enrolled per person (--enroll K)
    model_fmr: float = math.nan  # the impostor model's FMR at the threshold
    impostor_model: str = ""  # where the policy's impostor numbers come from

    # -- derived score sets -------------------------------------------------------------

    @property
    def genuine_scores(self) -> np.ndarray:
        """One score per genuine probe: against its own enrolled photo."""
        rows = np.arange(self.genuine_matrix.shape[0])
        return self.genuine_matrix[rows, self.genuine_true].astype(np.float64)

    @property
    def impostor_scores(self) -> np.ndarray:
        """Every probe × enrolled pair where the probe is not that person."""
        probes, people = self.genuine_matrix.shape
        own = np.zeros((probes, people), dtype=bool)
        own[np.arange(probes), self.genuine_true] = True
        return np.concatenate([self.genuine_matrix[~own], self.stranger_matrix.reshape(-1)]).astype(
            np.float64
        )

    @property
    def stranger_best(self) -> np.ndarray:
        """Each stranger probe's best score against the whole gallery."""
        if self.stranger_matrix.shape[1] == 0:
            return np.zeros(0, dtype=np.float64)
        return self.stranger_matrix.max(axis=1).astype(np.float64)

    @property
    def skipped_photos(self) -> int:
        """Photos of people whose enrolment failed: never used as probes."""
        return sum(self.unused_photos.values())

    @property
    def failed_enrolments(self) -> list[PhotoOutcome]:
        return [o for o in self.outcomes if o.role == "enrol" and o.template is None]

    @property
    def failed_probes(self) -> list[PhotoOutcome]:
        return [o for o in self.outcomes if o.role != "enrol" and o.template is None]

    @property
    def stranger_probes(self) -> int:
        return int(self.stranger_matrix.shape[0])

    @property
    def ms_per_image(self) -> float:
        """Median time per photo that went all the way to a template (all photos if none)."""
        full = [o.ms for o in self.outcomes if o.template is not None]
        times = full or [o.ms for o in self.outcomes]
        return float(np.median(times)) if times else math.nan

    # -- the published numbers -----------------------------------------------------------

    def report(self) -> dict[str, Any]:
        """The JSON report: counts, rates at the daemon's threshold, and calibration data.

        Rates that the folder cannot measure (no strangers, no impostor comparisons) are
        ``None`` rather than a made-up number.
        """
        genuine, impostor = self.genuine_scores, self.impostor_scores
        fnmr, fmr = metrics.fnmr_fmr(genuine, impostor, self.threshold)
        out: dict[str, Any] = {
            "identities": self.identities,
            "enrolled": len(self.enrolled),
            "genuine_probes": int(genuine.size),
            "impostor_comparisons": int(impostor.size),
            "failure_to_enroll": len(self.failed_enrolments),
            "failure_to_acquire": len(self.failed_probes),
            "threshold": self.threshold,
            "fnmr": fnmr,
            "fmr": fmr,
        }
        limited: dict[str, bool] = {}
        for label, far in FAR_TARGETS.items():
            tar, _, lim = metrics.tar_at_far(genuine, impostor, far)
            out[f"tar_at_far_{label}"] = tar
            limited[label] = lim
        stranger_best = self.stranger_best
        out.update(
            {
                "eer": metrics.eer(genuine, impostor),
                "rank1": (
                    metrics.rank1(self.genuine_matrix, self.genuine_true)
                    if genuine.size
                    else math.nan
                ),
                "fpir": metrics.fpir(stranger_best, self.threshold),
                "embedder": self.embedder,
                "ms_per_image": self.ms_per_image,
                # Extras beyond the published keys.
                "stranger_probes": self.stranger_probes,
                "photos_not_used": self.skipped_photos,
                "tar_at_far_limited_by_sample": limited,
                "impostor_mean": float(np.mean(impostor)) if impostor.size else math.nan,
                "impostor_std": float(np.std(impostor, ddof=1)) if impostor.size > 1 else math.nan,
                "threshold_fixed": self.threshold_fixed,
                "target_fpir": self.target_fpir,
                "thresholds_for_fpir": dict(self.thresholds_for_fpir),
                "enroll": self.enroll,
                "templates": self.template_count,
                "failure_to_acquire_rate": self.fta_rate,
                "system_fnmr": self.system_fnmr,
                "impostor_model": self.impostor_model,
                # FPIR the policy promises (per approach, matcher.fuse_frames searches) and
                # what its impostor model predicts for one search per probe, as here.
                "promised_fpir": self.target_fpir,
                "model_fpir_one_search": (
                    -math.expm1(self.template_count * math.log1p(-min(self.model_fmr, 1 - 1e-16)))
                    if math.isfinite(self.model_fmr)
                    else math.nan
                ),
                "impostor_tail": self.impostor_tail(),
            }
        )
        return _json_safe(out)

    @property
    def fta_rate(self) -> float:
        """Probe photos without a usable face, over all probe photos processed."""
        probes = [o for o in self.outcomes if o.role != "enrol"]
        return len(self.failed_probes) / len(probes) if probes else math.nan

    @property
    def system_fnmr(self) -> float:
        """Genuine probes rejected, counting a probe the pipeline refused (no face, quality
        gate) as a rejection (ISO/IEC 19795-1 false-reject rate): a stricter gate cannot buy
        a lower number here."""
        genuine = self.genuine_scores
        refused = sum(1 for o in self.outcomes if o.role == "genuine" and o.template is None)
        total = genuine.size + refused
        if total == 0:
            return math.nan
        return (int((genuine < self.threshold).sum()) + refused) / total

    def impostor_tail(self) -> dict[str, Any] | None:
        """The tail model fitted to this run's impostor comparisons (``None`` if too few)."""
        from ..vision.tail import fit_tail

        try:
            model = fit_tail(self.impostor_scores, source=f"{self.embedder}, facegate eval")
        except ValueError:
            return None
        return model.as_dict()


def _json_safe(value: Any) -> Any:
    """Replace nan/inf by ``None`` (JSON has no NaN) and numpy scalars by Python numbers."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else None
    return value


# -- the folder ------------------------------------------------------------------------------


def _visible(p: Path) -> bool:
    return not p.name.startswith(".")


def scan_faces(root: Path) -> list[Person]:
    """The person folders under ``root`` with their photos (JPEG/PNG by suffix), in name order.

    Hidden files and folders, files beside the person folders and non-image files are
    ignored; a folder without a single photo is not a person.

    Raises:
        FacesFolderError: ``root`` is missing, not a folder, or has no person folder.
    """
    if not root.exists():
        raise FacesFolderError(f"{root}: no such folder")
    if not root.is_dir():
        raise FacesFolderError(f"{root}: not a folder (expected one subfolder per person)")
    people: list[Person] = []
    try:
        folders = sorted(p for p in root.iterdir() if _visible(p) and p.is_dir())
        for folder in folders:
            photos = sorted(
                p
                for p in folder.iterdir()
                if _visible(p) and p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
            )
            if photos:
                people.append(Person(folder.name, tuple(photos)))
    except PermissionError as exc:
        raise FacesFolderError(f"{exc.filename}: permission denied") from None
    if not people:
        raise FacesFolderError(
            f"{root}: no person folders with photos (expected one subfolder of JPEG/PNG "
            "photos per person)"
        )
    return people


def read_photo(path: Path, max_side: int = MAX_SIDE) -> np.ndarray | None:
    """A photo as an RGB uint8 array, scaled down to ``max_side`` (``None`` if unreadable).

    Read with :func:`facegate.capture.images.read_image`: regular files only, the size checked
    before decoding, so a folder of photos cannot hang or exhaust a Pi.
    """
    from ..capture.images import read_image

    try:
        return read_image(path, max_side=max_side)
    except ImageError:
        return None


def _process(pipeline: FacePipeline, path: Path, person: str, role: Role) -> PhotoOutcome:
    t0 = time.perf_counter()
    reason: str | None = None
    template: np.ndarray | None = None
    try:
        image = read_photo(path)
        if image is None:
            reason = "not a readable JPEG/PNG image"
        else:
            result = pipeline.template_for_photo(image, enrol=role == "enrol")
            template, reason = result.template, result.reason
    except (ValueError, RuntimeError, cv2.error) as exc:
        # A damaged photo must not end the run; a broken model (ModelError) must.
        if isinstance(exc, FacegateError) and not isinstance(exc, ImageError):
            raise
        reason = f"could not be processed ({type(exc).__name__}: {exc})"
    ms = (time.perf_counter() - t0) * 1000.0
    if template is None and reason is None:
        reason = "no template"
    return PhotoOutcome(path, person, role, template, reason, ms)


def run_protocol(
    pipeline: FacePipeline,
    people: Sequence[Person],
    on_photo: Callable[[PhotoOutcome], None] | None = None,
    *,
    enroll: int = 1,
) -> FaceEval:
    """Enrol, probe and score ``people`` (from ``scan_faces``) with ``pipeline``.

    Args:
        pipeline: a fresh pipeline; its gallery is filled with the enrolment templates.
        people: the person folders.
        on_photo: called after each photo (for a progress bar).
        enroll: photos enrolled per person (``--enroll K``): the first ``K`` in name order,
            but never the last one, so everyone with 2+ photos keeps at least one genuine
            probe. A person is scored by their best template, as the daemon's gallery does.

    Returns:
        The raw result; ``FaceEval.report()`` computes the rates.
    """
    if enroll < 1:
        raise ValueError(f"enroll must be at least 1, got {enroll}")
    outcomes: list[PhotoOutcome] = []

    def process(path: Path, person: str, role: Role) -> PhotoOutcome:
        outcome = _process(pipeline, path, person, role)
        outcomes.append(outcome)
        if on_photo is not None:
            on_photo(outcome)
        return outcome

    enrolled: list[str] = []
    enrol_rows: list[np.ndarray] = []  # per person: (k, dim), k >= 1
    genuine: list[tuple[str, np.ndarray]] = []
    strangers: list[np.ndarray] = []
    unused: dict[str, int] = {}
    for person in people:
        if len(person.photos) < 2:
            continue
        k = min(enroll, len(person.photos) - 1)
        firsts = [process(photo, person.name, "enrol") for photo in person.photos[:k]]
        rows = [o.template for o in firsts if o.template is not None]
        if not rows:
            unused[person.name] = len(person.photos) - k
            continue
        enrolled.append(person.name)
        enrol_rows.append(np.vstack(rows))
        for photo in person.photos[k:]:
            probe = process(photo, person.name, "genuine")
            if probe.template is not None:
                genuine.append((person.name, probe.template))
    for person in people:
        if len(person.photos) == 1:
            probe = process(person.photos[0], person.name, "stranger")
            if probe.template is not None:
                strangers.append(probe.template)

    dim = pipeline.embedder.dim
    gallery = pipeline.gallery
    for name, block in zip(enrolled, enrol_rows, strict=True):
        gallery.add(name, block)
    # A person's score is their best template's cosine, as in Gallery.search. The gallery
    # normalised its rows; probes come out of the embedder unit length already.
    all_rows = (
        np.vstack(enrol_rows).astype(np.float32) if enrol_rows else np.zeros((0, dim), np.float32)
    )
    starts = np.cumsum([0, *(len(b) for b in enrol_rows[:-1])]).astype(np.int64)
    column = {name: k for k, name in enumerate(enrolled)}

    def scores(rows: list[np.ndarray]) -> np.ndarray:
        if not rows or not enrol_rows:
            return np.zeros((len(rows), len(enrolled)), dtype=np.float32)
        per_template = np.vstack(rows).astype(np.float32) @ all_rows.T
        return np.maximum.reduceat(per_template, starts, axis=1)

    templates = gallery.template_count
    policy = pipeline.policy
    return FaceEval(
        embedder=pipeline.embedder.name,
        identities=len(people),
        enrolled=enrolled,
        threshold=float(policy.threshold(templates)),
        threshold_fixed=policy.cfg.threshold is not None,
        target_fpir=float(policy.cfg.target_fpir),
        template_count=templates,
        thresholds_for_fpir=_thresholds_for_fpir(pipeline, templates),
        outcomes=outcomes,
        unused_photos=unused,
        genuine_matrix=scores([t for _, t in genuine]),
        genuine_true=np.array([column[name] for name, _ in genuine], dtype=np.int64),
        stranger_matrix=scores(strangers),
        threshold_warning=policy.warning(templates),
        enroll=enroll,
        model_fmr=float(policy.impostors.fmr(policy.threshold(templates))),
        impostor_model=getattr(policy.impostors, "source", ""),
    )


def _fpir_key(target: float) -> str:
    return np.format_float_positional(target, trim="-")


def _thresholds_for_fpir(pipeline: FacePipeline, templates: int) -> dict[str, float]:
    """The threshold the daemon would derive for other FPIR targets at this gallery size."""
    targets = sorted({*FPIR_TARGETS, float(pipeline.policy.cfg.target_fpir)}, reverse=True)
    return {_fpir_key(t): float(pipeline.policy.derived(templates, t)) for t in targets}
