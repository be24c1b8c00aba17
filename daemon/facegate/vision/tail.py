"""The impostor score tail, measured on real faces: empirical quantiles + a Pareto tail.

The threshold that keeps a 1:N gallery's false-positive identification rate (FPIR) at its
target is set far out in the impostor distribution: for 400 templates, 3 searches per
approach and FPIR 1 % one impostor comparison may score above it with probability 8e-6.
A normal distribution fitted to the bulk says little about that tail (on dlib's impostors
the real tail is heavier than the normal), so facegate describes each embedder's impostor
scores by

* **empirical quantiles**: the score exceeded by a share ``fmr`` of impostor comparisons, at
  fixed levels from 0.5 down to ``p_u`` (by default 1e-3, still backed by hundreds of
  comparisons), interpolated linearly in ``log(fmr)`` between knots; and
* **a generalized Pareto tail** beyond the last knot ``u``: the exceedances ``s - u`` of the
  comparisons above it follow ``P(S ≥ u + y | S ≥ u) = (1 + ξ y / σ) ** (-1 / ξ)`` (the
  limit ``exp(-y / σ)`` when ξ = 0), fitted by Hosking and Wallis's probability-weighted
  moments (no optimiser, deterministic, robust for a few hundred points). A negative ξ gives
  the tail a finite end ``u - σ / ξ``, as a bounded cosine score has.

The numbers for each embedding space live in :data:`IMPOSTOR_TAILS` (measured with
``facegate eval --details`` on ``../shared/testdata/lfw-dev``, whose impostor comparisons
are written there under ``impostor_tail``); :meth:`TailModel.fmr` and
:meth:`TailModel.threshold_for_fmr` are all the threshold policy needs.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

__all__ = [
    "IMPOSTOR_TAILS",
    "KNOT_FMRS",
    "TailModel",
    "fit_tail",
    "gpd_pwm",
]

KNOT_FMRS: Final = (0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001)
"""Exceedance levels of the empirical knots; the last one is where the Pareto tail starts."""

npt_like = Sequence[float] | np.ndarray

_MIN_EXCEEDANCES: Final = 30  # fewer points above u cannot support a tail fit
_XI_RANGE: Final = (-0.9, 0.5)  # keep a degenerate fit from running away


def gpd_pwm(exceedances: npt_like) -> tuple[float, float]:
    """Generalized Pareto shape ξ and scale σ of positive exceedances, by PWM.

    Hosking & Wallis (1987): with ``a0`` the mean and ``a1`` the mean of ``(1 - p_i) y_(i)``
    over the ascending order statistics (plotting position ``p_i = (i - 0.35) / n``),
    ``k = a0 / (a0 - 2 a1) - 2`` and ``σ = 2 a0 a1 / (a0 - 2 a1)``; their ``k`` is ``-ξ``.

    Raises:
        ValueError: Fewer than two exceedances, or they are not positive and spread.
    """
    y = np.sort(np.asarray(exceedances, dtype=np.float64))
    n = y.size
    if n < 2 or not np.all(y >= 0.0) or not y[-1] > y[0]:
        raise ValueError("need at least two non-negative, not all equal exceedances")
    p = (np.arange(1, n + 1) - 0.35) / n
    a0 = float(y.mean())
    a1 = float(((1.0 - p) * y).mean())
    denom = a0 - 2.0 * a1
    if denom <= 0.0:
        raise ValueError("exceedances too heavy-tailed for a PWM fit")
    k = a0 / denom - 2.0
    sigma = 2.0 * a0 * a1 / denom
    xi = min(max(-k, _XI_RANGE[0]), _XI_RANGE[1])
    return xi, sigma


@dataclass(slots=True, frozen=True)
class TailModel:
    """One embedder's impostor scores: knots of (score, FMR) then a Pareto tail.

    Attributes:
        source: Where the numbers were measured (shown in reports).
        scores: Knot scores, increasing.
        fmrs: Share of impostor comparisons scoring at or above each knot, decreasing.
        xi: Pareto shape beyond the last knot.
        sigma: Pareto scale beyond the last knot.
        comparisons: Impostor comparisons the knots were measured on.
        mean: Mean impostor score (reports only).
        std: Its standard deviation (reports only).
    """

    source: str
    scores: tuple[float, ...]
    fmrs: tuple[float, ...]
    xi: float
    sigma: float
    comparisons: int = 0
    mean: float = math.nan
    std: float = math.nan

    def __post_init__(self) -> None:
        if len(self.scores) != len(self.fmrs) or len(self.scores) < 2:
            raise ValueError("a tail model needs at least two (score, fmr) knots")
        if any(b <= a for a, b in itertools.pairwise(self.scores)):
            raise ValueError("knot scores must increase")
        if any(not 0.0 < f < 1.0 for f in self.fmrs) or any(
            b >= a for a, b in itertools.pairwise(self.fmrs)
        ):
            raise ValueError("knot FMRs must lie in (0, 1) and decrease")
        if not self.sigma > 0.0:
            raise ValueError("the Pareto scale must be positive")

    @property
    def u(self) -> float:
        """Where the Pareto tail starts (the last knot's score)."""
        return self.scores[-1]

    @property
    def p_u(self) -> float:
        """The FMR at ``u``."""
        return self.fmrs[-1]

    @property
    def endpoint(self) -> float:
        """The highest score the model allows an impostor (``inf`` unless ξ < 0)."""
        return self.u - self.sigma / self.xi if self.xi < 0.0 else math.inf

    def fmr(self, threshold: float) -> float:
        """Share of impostor comparisons scoring at or above ``threshold``."""
        t = float(threshold)
        if t >= self.u:
            y = t - self.u
            if abs(self.xi) < 1e-9:
                return self.p_u * math.exp(-y / self.sigma)
            base = 1.0 + self.xi * y / self.sigma
            if base <= 0.0:
                return 0.0
            return self.p_u * base ** (-1.0 / self.xi)
        if t <= self.scores[0]:
            # Below the median: the bulk; interpolate towards (score - 1 sd-ish, 1.0) sparingly.
            return self.fmrs[0] if t == self.scores[0] else min(1.0, self.fmrs[0] * 2.0)
        i = int(np.searchsorted(self.scores, t, side="right")) - 1
        s0, s1 = self.scores[i], self.scores[i + 1]
        l0, l1 = math.log(self.fmrs[i]), math.log(self.fmrs[i + 1])
        return math.exp(l0 + (l1 - l0) * (t - s0) / (s1 - s0))

    def threshold_for_fmr(self, fmr: float) -> float:
        """The lowest threshold whose FMR is at most ``fmr``."""
        p = min(max(float(fmr), 1e-300), 0.5)
        if p <= self.p_u:
            ratio = p / self.p_u
            if abs(self.xi) < 1e-9:
                return self.u - self.sigma * math.log(ratio)
            return self.u + self.sigma / self.xi * (ratio ** (-self.xi) - 1.0)
        if p >= self.fmrs[0]:
            return self.scores[0]
        logs = [math.log(f) for f in self.fmrs]
        lp = math.log(p)
        for i in range(len(logs) - 1):
            if logs[i] >= lp >= logs[i + 1]:
                s0, s1 = self.scores[i], self.scores[i + 1]
                return s0 + (s1 - s0) * (lp - logs[i]) / (logs[i + 1] - logs[i])
        return self.u  # unreachable: p lies between fmrs[0] and p_u

    def as_dict(self) -> dict[str, Any]:
        """The numbers, as :data:`IMPOSTOR_TAILS` stores them."""
        return {
            "source": self.source,
            "comparisons": self.comparisons,
            "mean": round(self.mean, 5),
            "std": round(self.std, 5),
            "knots": [
                [round(s, 5), float(f"{f:.5g}")]
                for s, f in zip(self.scores, self.fmrs, strict=True)
            ],
            "xi": round(self.xi, 4),
            "sigma": round(self.sigma, 6),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TailModel:
        knots = data["knots"]
        return cls(
            source=str(data["source"]),
            scores=tuple(float(s) for s, _ in knots),
            fmrs=tuple(float(f) for _, f in knots),
            xi=float(data["xi"]),
            sigma=float(data["sigma"]),
            comparisons=int(data.get("comparisons", 0)),
            mean=float(data.get("mean", math.nan)),
            std=float(data.get("std", math.nan)),
        )


def fit_tail(
    impostor_scores: npt_like, *, source: str, levels: Sequence[float] = KNOT_FMRS
) -> TailModel:
    """Fit a :class:`TailModel` to measured impostor scores.

    Knots are the empirical upper quantiles at ``levels`` (each FMR is the exact share of
    scores at or above its knot); the Pareto tail is fitted to the scores above the last.

    Raises:
        ValueError: Too few scores for the last level (fewer than 30 above it).
    """
    s = np.sort(np.asarray(impostor_scores, dtype=np.float64))
    n = s.size
    if n * min(levels) < _MIN_EXCEEDANCES:
        raise ValueError(
            f"{n} impostor scores are too few for a tail from FMR {min(levels):g} "
            f"(need {math.ceil(_MIN_EXCEEDANCES / min(levels))})"
        )
    scores: list[float] = []
    fmrs: list[float] = []
    for level in sorted(levels, reverse=True):
        knot = float(s[min(n - 1, math.floor(n * (1.0 - level)))])
        share = float((n - np.searchsorted(s, knot, side="left")) / n)
        if scores and (knot <= scores[-1] or share >= fmrs[-1]):
            continue
        scores.append(knot)
        fmrs.append(share)
    u = scores[-1]
    exceed = s[s > u] - u
    xi, sigma = gpd_pwm(exceed)
    if xi > 0.0:
        # A cosine score is bounded by 1, so its tail is at most exponential (ξ ≤ 0); a
        # positive estimate is sampling noise that would put thresholds above 1. Fall back to
        # the exponential tail's own estimate, the mean exceedance.
        xi, sigma = 0.0, float(exceed.mean())
    # The Pareto tail describes P(S ≥ t | S > u); the knot's own share includes ties at u.
    p_above = float(exceed.size / n)
    fmrs[-1] = p_above if p_above > 0 else fmrs[-1]
    return TailModel(
        source=source,
        scores=tuple(scores),
        fmrs=tuple(fmrs),
        xi=xi,
        sigma=sigma,
        comparisons=int(n),
        mean=float(s.mean()),
        std=float(s.std(ddof=1)) if n > 1 else math.nan,
    )


# Measured with the pipelines' own detection, quality gate and alignment on every impostor
# comparison of `facegate eval --faces ../shared/testdata/lfw-dev` (one enrolment photo per
# person: genuine probes against the other enrolled people, one-photo strangers against
# everyone). Refit with `facegate eval --details F` (its `impostor_tail`). Checked against the
# raw comparisons: at the thresholds a 400-person gallery needs, the model's FMR is within the
# counting noise of the measured one (SFace at 0.45: 2.9e-5 modelled, 3.0e-5 measured over
# 530,716; dlib at 0.952: 2.4e-5 and 2.7e-5 over 490,783, where the old normal fit said 8e-6).
IMPOSTOR_TAILS: Final[dict[str, dict[str, Any]]] = {
    "sface_2021dec+flip+centre1": {
        "source": "SFace 2021dec (flip-fused, mean-centred, jittered enrolment) + YuNet on "
        "lfw-dev (399 enrolled, 1,332 probes)",
        "comparisons": 530716,
        "mean": -0.00125,
        "std": 0.09228,
        "knots": [
            [-0.00181, 0.5],
            [0.07628, 0.2],
            [0.11766, 0.1],
            [0.15175, 0.05],
            [0.19, 0.020001],
            [0.21538, 0.010002],
            [0.23931, 0.0050008],
            [0.26744, 0.0020011],
            [0.28701, 0.00099865],
        ],
        "xi": -0.0412,
        "sigma": 0.031009,
    },
    "dlib_resnet_v1": {
        "source": "dlib ResNet (dlib-fast) + BlazeFace on lfw-dev (387 enrolled, 1,270 probes)",
        "comparisons": 490783,
        "mean": 0.83278,
        "std": 0.03534,
        "knots": [
            [0.83416, 0.5],
            [0.86351, 0.2],
            [0.87759, 0.1],
            [0.88841, 0.050002],
            [0.89961, 0.020001],
            [0.90687, 0.01],
            [0.91331, 0.005],
            [0.92053, 0.0020009],
            [0.92561, 0.0009984],
        ],
        "xi": 0.0,
        "sigma": 0.006979,
    },
}
"""Embedding space → :meth:`TailModel.as_dict` numbers, measured on lfw-dev."""
