"""``facegate bench``: how fast the gate decides and how much it costs at gallery size N.

A benchmark, not a test. It builds a throwaway encrypted store with one real enrolled person
and N-1 synthetic ones, then, in a fresh process shaped like the daemon (models loaded, the
gallery decrypted from the store, mock GPIO pins, a replayed camera), measures each stage, the
1:N search, the time from a frame entering the pipeline to the relay command, the time to
load the gallery and the peak resident memory.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import resource
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..capture import ReplayCamera
from ..clock import FakeClock
from ..config import FacegateConfig
from ..errors import FacegateError
from ..gate import make_pin_factory
from ..recognition import FacePipeline
from ..service.app import App, AppEvent
from ..store import Store, create_master_key, load_master_key
from ..vision.embed import l2_normalize

__all__ = ["BENCH_KEYS", "Busy", "Sealed", "run_bench", "write_json"]

Busy = Callable[[str], AbstractContextManager[object]]
"""Shows that a slow step (``text``) runs while its context is open (e.g. a spinner)."""
Sealed = Callable[[int, int], None]
"""``(done, total)`` synthetic templates sealed so far."""

BENCH_KEYS = (
    "detect_ms",
    "landmarks_ms",
    "embed_ms",
    "match_ms",
    "decision_ms_p50",
    "decision_ms_p95",
    "gallery_load_s",
    "rss_mb",
    "n",
)
_BATCH = 5000


@dataclass(slots=True)
class _Source:
    path: Path
    fps: float
    enrol_image: np.ndarray


def _default_source(cfg: FacegateConfig, folder: Path) -> _Source:
    """The synthesized gate clip (the demo's): the resident approaches twice, a stranger once."""
    from .clip import load_portraits, write_clip

    pipeline_for_boxes = FacePipeline(cfg)

    def find_face(image: np.ndarray) -> tuple[float, float, float, float] | None:
        faces = pipeline_for_boxes.detect(image)
        return max(faces, key=lambda d: d.area).box if faces else None

    portraits = load_portraits(find_face)
    write_clip(portraits, folder)
    return _Source(folder, 10.0, portraits["resident"].image)


def _given_source(path: Path, pipeline: FacePipeline) -> _Source:
    """A user's clip: the person enrolled is the first good face in it."""
    camera = ReplayCamera(path, loop=False, realtime=False)
    with camera:
        for _ in range(10_000):
            frame = camera.read()
            if frame is None:
                break
            if pipeline.template_for_photo(frame.image).template is not None:
                fps = 15.0
                if path.is_file():
                    cap = cv2.VideoCapture(str(path))
                    fps = float(cap.get(cv2.CAP_PROP_FPS) or 15.0)
                    cap.release()
                return _Source(path, fps, frame.image)
    raise FacegateError(f"{path}: no frame with a face good enough to enrol")


def _synthetic_people(n: int, dim: int, seed: int) -> Iterator[np.ndarray]:
    rng = np.random.default_rng(seed)
    remaining = n
    while remaining > 0:
        block = l2_normalize(rng.normal(size=(min(_BATCH, remaining), dim)).astype(np.float32))
        for row in block:
            yield row[None, :]
        remaining -= len(block)


def run_bench(
    cfg: FacegateConfig,
    *,
    gallery: int = 100_000,
    source: Path | None = None,
    repeat: int = 5,
    busy: Busy = lambda _text: nullcontext(),
    on_sealed: Sealed = lambda _done, _total: None,
) -> dict[str, Any]:
    """Run the benchmark; returns a dict with exactly ``BENCH_KEYS`` (plus ``extra``).

    ``busy(text)`` is open while a slow step runs; ``on_sealed(done, total)`` follows the
    sealing of the synthetic gallery.
    """
    if gallery < 1:
        raise FacegateError("--gallery must be at least 1")
    with tempfile.TemporaryDirectory(prefix="facegate-bench-") as tmp_name:
        tmp = Path(tmp_name)
        state = tmp / "state"
        cfg = cfg.model_copy(
            update={"store": cfg.store.model_copy(update={"state_dir": state, "key_file": None})}
        )
        create_master_key(state / "master.key")
        key = load_master_key(state / "master.key")
        with busy("loading models…"):
            pipeline = FacePipeline(cfg)
        if source is None:
            with busy("synthesizing the clip…"):
                src = _default_source(cfg, tmp / "clip")
        else:
            src = _given_source(source, pipeline)
        enrolled = pipeline.template_for_photo(src.enrol_image, enrol=True)
        assert enrolled.template is not None
        with Store(state, key) as store:
            common: dict[str, str] = {
                "space": pipeline.space,
                "method": "benchmark (synthetic)",
                "notice_version": "bench",
                "taken_by": "bench",
                "scope": "bench",
            }
            expires = store.clock.time() + 86_400.0  # a throwaway store: a day is plenty
            store.enroll_many([enrolled.template[None, :]], **common, expires_at=expires)
            people = _synthetic_people(gallery - 1, pipeline.embedder.dim, seed=1)
            done = 0
            on_sealed(done, gallery - 1)
            while done < gallery - 1:
                batch = [next(people) for _ in range(min(_BATCH, gallery - 1 - done))]
                store.enroll_many(batch, **common, expires_at=expires)
                done += len(batch)
                on_sealed(done, gallery - 1)
            store.checkpoint()
        del pipeline
        ctx = mp.get_context("spawn")
        with (
            ctx.Pool(1) as pool,
            busy(f"measuring a daemon-like process with {gallery} templates…"),
        ):
            result: dict[str, Any] = pool.apply(
                _measure,
                (cfg.model_dump(mode="json"), key, str(src.path), src.fps, repeat, gallery),
            )
    return result


def _measure(
    cfg_data: dict[str, Any], key: bytes, source: str, fps: float, repeat: int, n: int
) -> dict[str, Any]:
    """In a fresh process: load like the daemon, then time everything."""
    cfg = FacegateConfig.model_validate(cfg_data)
    clock = FakeClock()
    relay_at: list[float] = []
    stages: dict[str, list[float]] = {"detect": [], "landmarks": [], "embed": []}

    def listen(event: AppEvent) -> None:
        if event.kind == "relay_on":
            relay_at.append(time.perf_counter())
        elif event.kind == "face" and event.observation is not None:
            for stage, ms in event.observation.timings_ms.items():
                if stage in stages:
                    stages[stage].append(ms)

    app = App(
        cfg,
        pin_factory=make_pin_factory("mock"),
        clock=clock,
        master_key=key,
        listener=listen,
        camera=ReplayCamera(source, loop=False, realtime=False, clock=clock),
    )
    try:
        app.check_rules()
        app.init_gate()
        app.init_store()
        app.init_access()
        app.init_readers()
        app.init_face()
        t0 = time.perf_counter()
        app.init_gallery()
        gallery_load_s = time.perf_counter() - t0
        assert app.face is not None
        rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

        rng = np.random.default_rng(7)
        probes = l2_normalize(rng.normal(size=(60, app.face.dim)).astype(np.float32))
        match_times = []
        for probe in probes:
            t = time.perf_counter()
            app.face.pipeline.search(probe)
            match_times.append((time.perf_counter() - t) * 1000.0)
        match_times = match_times[10:]  # warm-up

        decisions: list[float] = []
        denials: list[float] = []
        for _ in range(repeat):
            camera = ReplayCamera(source, loop=False, realtime=False, clock=clock)
            camera.open()
            try:
                while (frame := camera.read()) is not None:
                    relay_at.clear()
                    t_in = time.perf_counter()
                    decision = app.handle_frame(frame)
                    if decision is not None and decision.granted and relay_at:
                        decisions.append((relay_at[0] - t_in) * 1000.0)
                    elif decision is not None:
                        denials.append((time.perf_counter() - t_in) * 1000.0)
                    clock.advance(1.0 / fps)
                    app.tick()
            finally:
                camera.close()
            app.face.reset()
        rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    finally:
        app.close()

    def median(values: list[float]) -> float:
        return float(statistics.median(values)) if values else float("nan")

    basis = decisions or denials
    return {
        "detect_ms": median(stages["detect"]),
        "landmarks_ms": median(stages["landmarks"]),
        "embed_ms": median(stages["embed"]),
        "match_ms": median(match_times),
        "decision_ms_p50": median(basis),
        "decision_ms_p95": float(np.percentile(basis, 95)) if basis else float("nan"),
        "gallery_load_s": gallery_load_s,
        "rss_mb": max(rss_loaded, rss_peak),
        "n": n,
        "extra": {
            "grants_timed": len(decisions),
            "denials_timed": len(denials),
            "threshold": app.face.threshold if app.face is not None else None,
            "embedder": app.face.pipeline.embedder.name if app.face is not None else None,
            "rss_mb_after_gallery_load": rss_loaded,
        },
    }


def write_json(result: dict[str, Any], path: Path) -> None:
    out = {key: result[key] for key in BENCH_KEYS}
    path.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
