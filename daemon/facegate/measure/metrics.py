"""Verification and identification error rates from similarity scores (pure, no I/O).

Scores are similarities: higher means "more likely the same person", and a comparison is
accepted when its score is at or above the threshold. ``genuine`` holds the scores of
comparisons between two photos of the same person, ``impostor`` those between different
people. Every function sorts once and uses ``searchsorted``, so a curve over all the distinct
scores costs O(n log n), not one pass over the scores per threshold.

Empty inputs give ``nan`` where a rate is undefined (no genuine comparison means no FNMR):
the caller decides how to show "not measured", nothing here invents a number.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["det_curve", "eer", "fnmr_fmr", "fpir", "rank1", "tar_at_far"]


def _scores(x: object) -> np.ndarray:
    """A flat float64 array of finite scores."""
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(a)):
        raise ValueError("scores must be finite numbers")
    return a


def _share_below(sorted_scores: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Share of ``sorted_scores`` strictly below each threshold in ``t``."""
    return np.searchsorted(sorted_scores, t, side="left") / sorted_scores.size


def fnmr_fmr(genuine: np.ndarray, impostor: np.ndarray, t: float) -> tuple[float, float]:
    """False non-match rate and false match rate at threshold ``t``.

    FNMR is the share of genuine comparisons scoring below ``t``; FMR the share of impostor
    comparisons scoring at or above it. Either is ``nan`` when its set is empty.
    """
    g, i = _scores(genuine), _scores(impostor)
    fnmr = float(np.count_nonzero(g < t) / g.size) if g.size else math.nan
    fmr = float(np.count_nonzero(i >= t) / i.size) if i.size else math.nan
    return fnmr, fmr


def det_curve(
    genuine: np.ndarray, impostor: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The detection error trade-off at every threshold where either rate changes.

    Returns ``(thresholds, fmr, fnmr)``: thresholds ascending (every distinct score, plus one
    just above the highest, where nothing is accepted), FMR non-increasing and FNMR
    non-decreasing along them. The first point accepts everything (FNMR 0), the last rejects
    everything (FMR 0).

    Raises:
        ValueError: either score set is empty (the curve would be undefined).
    """
    g, i = np.sort(_scores(genuine)), np.sort(_scores(impostor))
    if g.size == 0 or i.size == 0:
        raise ValueError("a DET curve needs at least one genuine and one impostor score")
    distinct = np.unique(np.concatenate([g, i]))
    thresholds = np.append(distinct, np.nextafter(distinct[-1], np.inf))
    fnmr = _share_below(g, thresholds)
    fmr = 1.0 - _share_below(i, thresholds)
    return thresholds, fmr, fnmr


def tar_at_far(genuine: np.ndarray, impostor: np.ndarray, far: float) -> tuple[float, float, bool]:
    """True accept rate at the loosest threshold whose empirical FAR is at most ``far``.

    With n impostor comparisons, at most ``k = floor(far·n)`` of them may be accepted, so the
    threshold is the smallest one above the (k+1)-th highest impostor score: it accepts the
    most genuine comparisons while keeping the measured FAR within the target.

    When ``n < 1/far`` not even one false accept is allowed and the target cannot really be
    resolved: the result is then the TAR at the strictest achievable point (the smallest
    threshold above every impostor score) and ``limited`` is ``True``. The true TAR at
    ``far`` is at least that, but the sample cannot say how much more.

    Returns:
        ``(tar, threshold, limited)``; ``tar`` and ``threshold`` are ``nan`` when either score
        set is empty (``limited`` is then ``True``).
    """
    if not 0.0 < far < 1.0:
        raise ValueError(f"far must be between 0 and 1, got {far}")
    g, i = np.sort(_scores(genuine)), np.sort(_scores(impostor))
    if g.size == 0 or i.size == 0:
        return math.nan, math.nan, True
    # The tiny slack keeps 1e-3 × 1000 at exactly one allowed false accept.
    allowed = math.floor(far * i.size * (1.0 + 1e-12))
    limited = allowed == 0
    if allowed >= i.size:
        threshold = float(min(g[0], i[0]))
    else:
        # i is ascending: the (allowed+1)-th highest impostor score is i[-(allowed+1)].
        threshold = float(np.nextafter(i[i.size - allowed - 1], np.inf))
    tar = 1.0 - float(_share_below(g, np.array([threshold]))[0])
    return tar, threshold, limited


def eer(genuine: np.ndarray, impostor: np.ndarray) -> float:
    """Equal error rate: where FMR and FNMR cross on the DET curve.

    The crossing is interpolated linearly between the two curve points around it, so a set
    with a threshold that separates every genuine from every impostor score gives exactly 0,
    and two identical score sets give 0.5. ``nan`` when either set is empty.
    """
    g, i = _scores(genuine), _scores(impostor)
    if g.size == 0 or i.size == 0:
        return math.nan
    _, fmr, fnmr = det_curve(g, i)
    gap = fmr - fnmr  # starts ≥ 0 (FNMR 0), ends ≤ 0 (FMR 0), non-increasing
    k = int(np.argmax(gap <= 0.0))  # first point where FNMR has caught up with FMR
    if gap[k] == 0.0 or k == 0:
        return float((fmr[k] + fnmr[k]) / 2.0)
    a = gap[k - 1] / (gap[k - 1] - gap[k])
    return float(fmr[k - 1] + a * (fmr[k] - fmr[k - 1]))


def rank1(score_matrix: np.ndarray, true_index: np.ndarray) -> float:
    """Closed-set rank-1 identification rate.

    Args:
        score_matrix: probes × enrolled people, similarity of each probe to each person.
        true_index: for each probe, the column of its own enrolled person.

    Returns:
        The share of probes whose best-scoring person is their own (``nan`` for no probes).
    """
    s = np.asarray(score_matrix, dtype=np.float64)
    truth = np.asarray(true_index, dtype=np.int64).reshape(-1)
    if s.ndim != 2 or s.shape[0] != truth.size:
        raise ValueError(
            f"score_matrix must be probes × people with one true index per probe, "
            f"got {s.shape} and {truth.size} indices"
        )
    if truth.size == 0:
        return math.nan
    if s.shape[1] == 0:
        raise ValueError("score_matrix has no enrolled people")
    if truth.min() < 0 or truth.max() >= s.shape[1]:
        raise ValueError("true_index out of range of score_matrix columns")
    return float(np.mean(np.argmax(s, axis=1) == truth))


def fpir(best_scores: np.ndarray, t: float) -> float:
    """False positive identification rate: share of strangers whose best score is ≥ ``t``.

    ``best_scores`` holds, for each probe of a person who is not enrolled, the highest score
    against the whole gallery. ``nan`` when there are no such probes.
    """
    b = _scores(best_scores)
    return float(np.count_nonzero(b >= t) / b.size) if b.size else math.nan
