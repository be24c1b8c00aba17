"""Build the liveness judge from the configuration, and count refusals per door.

The judge itself (:mod:`facegate.vision.liveness`) knows nothing of files or doors; this module
resolves its model files the way every other model is resolved (the models folder, pinned
hashes) and keeps the per-door failure counts that raise the intrusion alarm.
"""

from __future__ import annotations

import random
from collections import defaultdict, deque
from pathlib import Path

from ..config import FacegateConfig
from ..config.liveness import LivenessMode
from ..gate.speaker import prompt_seconds, speech_dir
from ..models.manifest import model_path
from ..vision.landmarks import FaceMesh
from ..vision.liveness.judge import LivenessJudge
from ..vision.liveness.model import PadModel

__all__ = ["FailureCounter", "build_judge", "spoken_seconds"]


def build_judge(
    cfg: FacegateConfig,
    *,
    mode: LivenessMode | None = None,
    rng: random.Random | None = None,
    door: str | None = None,
) -> LivenessJudge:
    """The liveness judge ``cfg`` describes (FaceMesh, and the model when one is configured).

    Args:
        cfg: The whole configuration (its ``models`` folder and ``liveness`` section).
        mode: Overrides ``liveness.mode`` (the judge of a door with its own mode).
        rng: Chooses challenges; a system-random source by default.
        door: The door the judge serves: with a ``gate.speaker`` its challenges give the
            person ``challenge.timeout_s`` after the spoken prompt ends (:func:`spoken_seconds`).

    Raises:
        ModelError: A model file is missing, has another hash, or is not the expected model.
    """
    live = cfg.liveness if mode is None else cfg.liveness.model_copy(update={"mode": mode})
    mesh_path, mesh_sha = model_path(live.landmarks, cfg.models.dir)
    mesh = FaceMesh(mesh_path, sha256=mesh_sha, num_threads=1)
    model = None
    if live.model is not None:
        path, _ = model_path(Path(live.model.path), cfg.models.dir)
        model = PadModel(
            path,
            sha256=live.model.sha256,
            crop_scale=live.model.crop_scale,
            num_threads=live.model.num_threads,
            min_sharpness=live.model.min_sharpness,
        )
    spoken = spoken_seconds(cfg, door) if door is not None else 0.0
    return LivenessJudge(live, mesh, model, rng=rng, spoken_s=spoken)


def spoken_seconds(cfg: FacegateConfig, door: str) -> float:
    """How long ``door``'s longest spoken challenge lasts: its languages' prompt files in
    ``<store.state_dir>/speech`` one after the other, at most the speaker's ``max_play_s``
    (the player is stopped then); 0 without a speaker or without readable prompt files."""
    for d in cfg.doors:
        if d.id == door and d.gate.speaker is not None:
            speaker = d.gate.speaker
            spoken = prompt_seconds(speech_dir(cfg.store.state_dir), speaker.languages)
            return min(spoken, speaker.max_play_s)
    return 0.0


class FailureCounter:
    """Refused liveness attempts per door in a sliding window.

    Args:
        limit: Failures within ``window_s`` that raise the alarm.
        window_s: The window, in seconds of the caller's clock.
    """

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self._times: defaultdict[str, deque[float]] = defaultdict(deque)

    def add(self, door: str, now: float) -> bool:
        """Count one failure at ``door``; ``True`` when it reaches the limit (then restart)."""
        times = self._times[door]
        times.append(now)
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if len(times) >= self.limit:
            times.clear()
            return True
        return False
