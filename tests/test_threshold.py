"""The threshold follows from the FPIR target and the gallery size."""

from __future__ import annotations

import numpy as np
import pytest

from facegate.config import MatcherConfig
from facegate.vision.threshold import DLIB_IMPOSTORS, ImpostorModel, ThresholdPolicy


def test_derived_threshold_meets_the_target_and_rises_with_the_gallery() -> None:
    policy = ThresholdPolicy(MatcherConfig(target_fpir=0.01), DLIB_IMPOSTORS)
    previous = -1.0
    for n in (1, 10, 100, 1000, 100_000):
        t = policy.derived(n)
        assert t > previous
        assert policy.fpir(t, n) == pytest.approx(0.01, rel=1e-6)
        previous = t
    assert policy.threshold(100) == policy.derived(100)


def test_fpir_model_agrees_with_simulated_strangers() -> None:
    model = ImpostorModel(mean=0.0, std=0.1, source="test")
    policy = ThresholdPolicy(MatcherConfig(target_fpir=0.05, fuse_frames=1), model)
    n = 50
    t = policy.derived(n)
    rng = np.random.default_rng(3)
    best = rng.normal(0.0, 0.1, size=(20_000, n)).max(axis=1)  # each stranger vs n templates
    assert float((best >= t).mean()) == pytest.approx(0.05, abs=0.006)


def test_fixed_threshold_warns_once_the_gallery_outgrows_it() -> None:
    policy = ThresholdPolicy(MatcherConfig(threshold=0.93), DLIB_IMPOSTORS)
    assert policy.threshold(10_000) == 0.93
    assert policy.warning(5) is None
    warning = policy.warning(400)
    assert warning is not None
    assert "400 enrolled templates" in warning and "0.930" in warning
    assert f"{policy.derived(400):.3f}" in warning
    assert ThresholdPolicy(MatcherConfig(), DLIB_IMPOSTORS).warning(10**6) is None


def test_more_searches_per_approach_mean_a_stricter_threshold() -> None:
    one = ThresholdPolicy(MatcherConfig(fuse_frames=1), DLIB_IMPOSTORS)
    three = ThresholdPolicy(MatcherConfig(fuse_frames=3), DLIB_IMPOSTORS)
    assert three.derived(100) > one.derived(100)
