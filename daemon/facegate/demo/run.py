"""``facegate demo``: the main job end to end on an embedded default.

No camera, no GPIO, no files of ours: a throwaway state folder and master key, a resident
enrolled from a public-domain portrait with a demo consent record, a synthesized clip replayed
through the real pipeline (detect → align → embed → match → decide → relay) with gpiozero's
``MockFactory`` and a simulated clock, and a readable timeline.
"""

from __future__ import annotations

import hashlib
import statistics
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
from rich.console import Console

from ..clock import FakeClock
from ..config import FacegateConfig, load_config_text
from ..errors import FacegateError
from ..gate import make_pin_factory
from ..service.app import App, AppEvent
from ..store import create_master_key, load_master_key
from .clip import Scene, load_portraits, write_clip

__all__ = ["DemoResult", "builtin_config", "run_demo"]

DEMO_NOTICE = (
    "facegate demo notice: faces are matched on this device only, stored as encrypted "
    "templates, never as images; PIN and card entry are available to everyone."
)


@dataclass(slots=True)
class DemoResult:
    """What happened, scene by scene, and whether it was what the script expects."""

    frames: int = 0
    granted: int = 0
    denied: int = 0
    relay_pulses: int = 0
    problems: list[str] = field(default_factory=list)
    timings_ms: dict[str, list[float]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def _demo_yaml() -> str:
    return resources.files("facegate.demo").joinpath("demo.yaml").read_text(encoding="utf-8")


def builtin_config(base_dir: Path | None = None) -> FacegateConfig:
    """The demo's configuration (for eval and bench without ``-c``; its camera is unused)."""
    return load_config_text(_demo_yaml(), source="demo.yaml", base_dir=base_dir or Path.cwd())


def _short(pseudonym: str | None) -> str:
    return "-" if pseudonym is None else pseudonym[:8] + "…"


def run_demo(console: Console, *, models_dir: Path | None = None) -> DemoResult:
    """Run the demo, printing its timeline to ``console``."""
    with tempfile.TemporaryDirectory(prefix="facegate-demo-") as tmp_name:
        tmp = Path(tmp_name)
        cfg = builtin_config(tmp)
        if models_dir is not None:
            cfg = cfg.model_copy(
                update={"models": cfg.models.model_copy(update={"dir": models_dir})}
            )
        key_path = tmp / "master.key"
        create_master_key(key_path)
        clock = FakeClock()
        result = DemoResult()
        printer = _Timeline(console, clock, result)
        app = App(
            cfg,
            pin_factory=make_pin_factory("mock"),
            clock=clock,
            master_key=load_master_key(key_path),
            listener=printer,
        )
        try:
            _run(app, cfg.camera.path, console, printer, result)  # type: ignore[union-attr]
        finally:
            app.close()
        return result


def _run(
    app: App, clip_dir: Path, console: Console, printer: _Timeline, result: DemoResult
) -> None:
    console.print(
        "[bold]facegate demo[/]: a replayed gate camera, mock GPIO, a throwaway "
        "encrypted store, a simulated clock"
    )
    app.check_rules()
    app.init_gate()
    app.init_store()
    with console.status("loading models…"):
        app.init_pipeline()
    app.init_gallery()
    assert app.pipeline is not None and app.store is not None
    pipeline, store = app.pipeline, app.store

    def find_face(image: np.ndarray) -> tuple[float, float, float, float] | None:
        faces = pipeline.detector.detect(image)
        return max(faces, key=lambda d: d.area).box if faces else None

    portraits = load_portraits(find_face)
    # Enrol the resident: person → separate consent record → sealed templates.
    found = pipeline.template_for_photo(portraits["resident"].image)
    if found.template is None:
        raise FacegateError(f"the demo resident's portrait cannot be enrolled: {found.reason}")
    templates = found.template[None, :]
    notice_version = hashlib.sha256(DEMO_NOTICE.encode()).hexdigest()[:16]
    pseudonym = store.add_person()
    consent = store.record_consent(
        pseudonym,
        method="demo consent form (synthetic)",
        notice_version=notice_version,
        taken_by="demo",
        scope="door main",
    )
    store.add_templates(pseudonym, consent.consent_id, templates, space=pipeline.space)
    pipeline.enroll(pseudonym, templates)
    printer.names[pseudonym] = "the demo resident"
    console.print(
        f"enrolled [bold]the demo resident[/] as {_short(pseudonym)} with consent "
        f"{consent.consent_id[:10]}… (notice v{notice_version[:8]}): {len(templates)} template, "
        "sealed in the store; the portrait itself is not stored"
    )
    with console.status("synthesizing the demo clip…"):
        starts = write_clip(portraits, clip_dir)
    total = sum(scene.frames for scene, _ in starts)
    console.print(f"clip: {total} frames at 10 fps, threshold {pipeline.threshold:.3f}\n")

    app.init_camera()
    assert app.camera is not None
    scene_at = {index: scene for scene, index in starts}
    current: Scene | None = None
    outcomes: dict[int, list[str]] = {}
    scene_no = -1
    while (frame := app.camera.read()) is not None:
        if frame.index in scene_at:
            current = scene_at[frame.index]
            scene_no += 1
            printer.scene(current.label)
        decision = app.handle_frame(frame)
        app.tick()
        result.frames += 1
        if decision is not None:
            outcomes.setdefault(scene_no, []).append("granted" if decision.granted else "denied")
    app.tick()
    for number, (scene, _) in enumerate(starts):
        got = outcomes.get(number, [])
        if scene.expect is None and got:
            result.problems.append(f"scene {number + 1} ({scene.label}): unexpected {got}")
        elif scene.expect is not None and got != [scene.expect]:
            result.problems.append(
                f"scene {number + 1} ({scene.label}): expected one {scene.expect}, "
                f"got {got or 'none'}"
            )
    medians = {k: statistics.median(v) for k, v in result.timings_ms.items() if v}
    console.print()
    verdict = "[green]every scene as expected[/]" if result.ok else "[red]UNEXPECTED[/]"
    console.print(
        f"summary: {result.granted} granted, {result.denied} denied, "
        f"{result.relay_pulses} relay pulses, {result.frames} frames; {verdict}; median ms "
        + ", ".join(f"{k} {v:.1f}" for k, v in medians.items())
    )
    for problem in result.problems:
        console.print(f"  [red]{problem}[/]")


class _Timeline:
    """Prints the loop's events; repeats of the same face outcome are folded."""

    def __init__(self, console: Console, clock: FakeClock, result: DemoResult) -> None:
        self.console = console
        self.clock = clock
        self.result = result
        self.names: dict[str, str] = {}
        self._last_face: str | None = None

    def _line(self, at: float, text: str) -> None:
        self.console.print(f"[dim]{at:6.1f} s[/]  {text}")

    def scene(self, label: str) -> None:
        self._last_face = None
        self._line(self.clock.monotonic(), f"[bold cyan]── scene: {label}[/]")

    def __call__(self, event: AppEvent) -> None:
        if event.kind == "face" and event.observation is not None:
            obs = event.observation
            for stage, ms in obs.timings_ms.items():
                self.result.timings_ms.setdefault(stage, []).append(ms)
            size = f"{obs.detection.width:.0f} px"
            if obs.quality is None:
                key, summary = "decided", f"face {size}: decided; followed until it leaves"
            elif not obs.quality.ok:
                key, summary = f"q:{obs.quality.reason}", f"face {size}: {obs.quality.reason}"
            elif obs.match is None:
                return
            elif obs.match.matched:
                who = self.names.get(obs.match.subject or "", "enrolled")
                key = f"m:{obs.match.subject}"
                summary = (
                    f"face {size} (track {obs.track}): matches {_short(obs.match.subject)} "
                    f"({who}), score {obs.match.score:.3f} ≥ {obs.match.threshold:.3f}"
                )
            else:
                key = f"n:{obs.track}"
                summary = (
                    f"face {size} (track {obs.track}): no match yet (best score "
                    f"{obs.match.score:.3f} < {obs.match.threshold:.3f})"
                )
            if key != self._last_face:
                self._line(event.at, summary)
                self._last_face = key
        elif event.kind == "decision" and event.decision is not None:
            d = event.decision
            if d.granted:
                self.result.granted += 1
                self._line(
                    event.at,
                    f"[bold green]GRANTED[/] door {d.door} by {d.method} ({_short(d.subject)})",
                )
            else:
                self.result.denied += 1
                self._line(event.at, f"[bold red]DENIED[/]  door {d.door} ({d.reason})")
        elif event.kind == "relay_on":
            self.result.relay_pulses += 1
            until = event.detail.get("until")
            length = f" for {until - event.at:.1f} s" if until is not None else ""
            self._line(event.at, f"[yellow]relay ON[/]  door {event.door}: lock released{length}")
        elif event.kind == "relay_off":
            self._line(event.at, f"[yellow]relay OFF[/] door {event.door}: locked")
