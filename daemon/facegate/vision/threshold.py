"""The match threshold as a consequence of a stranger-acceptance target and the gallery size.

In 1:N search a stranger is compared with every enrolled template, so the chance that they
match *someone* (the false-positive identification rate, FPIR) grows with the gallery:

    FPIR(t, N) = 1 - (1 - FMR(t)) ** (N · k)

where FMR(t) is the chance that one impostor comparison scores ≥ t and k is the number of
searches one approach makes (``matcher.fuse_frames``). facegate models the impostor score of
each embedder by its upper tail measured on real photos of different people (empirical
quantiles and a generalized Pareto tail beyond them, :mod:`facegate.vision.tail`; a ``tflite``
embedder you bring is described by a normal fit from its configuration) and solves for the
threshold that keeps FPIR at the configured target.
The common DIY setting (dlib at distance 0.6, a fixed number copied from a tutorial) ignores N;
measured on real photos it matched 67 % of strangers in a 400-person gallery.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Protocol

from ..config import MatcherConfig

__all__ = [
    "DLIB_IMPOSTORS",
    "ImpostorModel",
    "ImpostorScores",
    "ThresholdPolicy",
    "impostors_for_space",
]


class ImpostorScores(Protocol):
    """What the policy needs of an impostor model: FMR at a threshold, and its inverse."""

    @property
    def source(self) -> str: ...

    def fmr(self, threshold: float) -> float: ...

    def threshold_for_fmr(self, fmr: float) -> float: ...


@dataclass(slots=True, frozen=True)
class ImpostorModel:
    """Cosine similarity between templates of different people, as a normal distribution."""

    mean: float
    std: float
    source: str

    def fmr(self, threshold: float) -> float:
        """Share of impostor comparisons scoring at or above ``threshold``."""
        z = (threshold - self.mean) / (self.std * math.sqrt(2.0))
        return 0.5 * math.erfc(z)

    def threshold_for_fmr(self, fmr: float) -> float:
        fmr = min(max(fmr, 1e-300), 0.5)
        # inv_cdf(1 - p) loses precision for tiny p; use symmetry: -inv_cdf(p).
        return self.mean - self.std * NormalDist().inv_cdf(fmr)


# dlib's impostors used to be a normal fit to the 500 impostor pairs of the 13 people in the
# shared test photos (mean 0.8182, sd 0.0311). On lfw-dev's 490,783 impostor comparisons that
# normal put the FMR at 0.952 three times too low (8e-6 against 2.7e-5), so the measured tail
# (DLIB_IMPOSTORS below) replaced it.


def impostors_for_space(space: str) -> ImpostorScores:
    """The measured impostor-tail model of an embedding space (:mod:`facegate.vision.tail`).

    Raises:
        KeyError: No tail was measured for ``space``.
    """
    from .tail import IMPOSTOR_TAILS, TailModel

    data = IMPOSTOR_TAILS.get(space)
    if data is None:
        raise KeyError(f"no impostor tail measured for embedding space {space!r}")
    return TailModel.from_dict(data)


# "dlib_resnet_v1" is vision.embed.DLIB_SPACE (embed imports this module, not the reverse).
DLIB_IMPOSTORS: ImpostorScores = impostors_for_space("dlib_resnet_v1")
"""dlib's ResNet (either runtime): the impostor tail measured on lfw-dev."""


class ThresholdPolicy:
    """Turns ``matcher:`` settings and an impostor model into a threshold for N templates."""

    def __init__(self, cfg: MatcherConfig, impostors: ImpostorScores) -> None:
        self.cfg = cfg
        self.impostors = impostors

    def comparisons(self, templates: int) -> int:
        """Impostor comparisons one stranger's approach makes against ``templates``."""
        return max(1, templates) * self.cfg.fuse_frames

    def fpir(self, threshold: float, templates: int) -> float:
        """Expected share of strangers matched to someone at ``threshold``."""
        fmr = self.impostors.fmr(threshold)
        # 1 - (1 - fmr)^n computed stably for tiny fmr.
        return -math.expm1(self.comparisons(templates) * math.log1p(-min(fmr, 1 - 1e-16)))

    def derived(self, templates: int, target: float | None = None) -> float:
        """The threshold that keeps FPIR at ``target`` (default: the configured target)."""
        goal = self.cfg.target_fpir if target is None else target
        per_comparison = -math.expm1(math.log1p(-goal) / self.comparisons(templates))
        return self.impostors.threshold_for_fmr(per_comparison)

    def threshold(self, templates: int) -> float:
        """The threshold in force: the configured one, else the derived one."""
        if self.cfg.threshold is not None:
            return self.cfg.threshold
        return self.derived(templates)

    def warning(self, templates: int) -> str | None:
        """A sentence for the journal when a fixed threshold no longer keeps the target."""
        if self.cfg.threshold is None:
            return None
        fpir = self.fpir(self.cfg.threshold, templates)
        if fpir <= self.cfg.target_fpir:
            return None
        return (
            f"with {templates} enrolled templates the fixed matcher.threshold "
            f"{self.cfg.threshold:.3f} lets about {fpir:.1%} of strangers match someone "
            f"(target {self.cfg.target_fpir:.1%}); raise it to at least "
            f"{self.derived(templates):.3f} or remove it so facegate derives one"
        )
