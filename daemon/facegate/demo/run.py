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

from ..capture import Frame
from ..clock import FakeClock
from ..config import FacegateConfig, load_config_text
from ..errors import FacegateError
from ..gate import make_pin_factory
from ..policy.credentials import CardNumber, Pin, hash_card, hash_pin, pin_tag
from ..readers.wiegand import WiegandCard, decode, encode_h10301, encode_key4
from ..service.access import credential_keys
from ..service.app import App, AppEvent
from ..store import ConsentInput, CredentialInput, create_master_key, enroll_person, load_master_key
from .clip import Scene, load_portraits, write_clip

__all__ = ["DemoResult", "builtin_config", "run_demo"]

RESIDENT_PIN = "2580"  # the demo's own, synthetic credentials
VISITOR_CARD = (12, 3456)  # facility, card number (26-bit H10301)
D0_PIN, D1_PIN, DOOR_CONTACT_PIN = 22, 23, 5  # as in demo.yaml

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
    alarms: list[str] = field(default_factory=list)
    by_method: dict[str, int] = field(default_factory=dict)
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
    _drive(app, DOOR_CONTACT_PIN, low=True)  # the door is shut (NC reed switch closed)
    app.init_store()
    app.init_access()
    app.init_readers()
    with console.status("loading models…"):
        app.init_pipeline()
    app.init_gallery()
    app.tick()
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
    keys = credential_keys(store)
    resident_pin = Pin(RESIDENT_PIN)
    resident = enroll_person(
        store,
        consent=ConsentInput("demo consent form (synthetic)", notice_version, "demo", "door main"),
        templates=templates,
        space=pipeline.space,
        credentials=(
            CredentialInput("pin", pin_tag(resident_pin, keys.pin_key), hash_pin(resident_pin)),
        ),
    )
    visitor_card = decode(encode_h10301(*VISITOR_CARD))
    assert isinstance(visitor_card, WiegandCard)
    visitor = enroll_person(
        store,
        credentials=(
            CredentialInput("card", hash_card(CardNumber(visitor_card.card.raw()), keys.card_key)),
        ),
    )
    app.refresh_people()
    pseudonym = resident.pseudonym
    printer.names[pseudonym] = "the demo resident"
    printer.names[visitor.pseudonym] = "a visitor with a card, no face enrolled"
    console.print(
        f"enrolled [bold]the demo resident[/] as {_short(pseudonym)} with consent "
        f"{(resident.consent_id or '')[:10]}… (notice v{notice_version[:8]}): "
        f"{len(templates)} template and a PIN, sealed in the store; the portrait itself is "
        f"not stored. A visitor {_short(visitor.pseudonym)} has a card only (no face, so no "
        "biometric consent needed)."
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
    _IDLE_FRAMES.clear()
    while (frame := app.camera.read()) is not None:
        if frame.index >= total - 30:
            _IDLE_FRAMES.append(frame.image)  # the final empty-gate scene
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
    _reader_scenes(app, printer, result)
    _liveness_scene(app, portraits["resident"].image, printer, result)
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
        self.liveness_denials = 0

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
            if obs.liveness in ("inconclusive", "challenge"):
                key = f"l:{obs.track}:{obs.liveness}"
                summary = f"face {size} (track {obs.track}): liveness check, no template yet"
            elif obs.liveness == "spoof":
                key, summary = f"l:{obs.track}:spoof", f"face {size}: failed liveness"
            elif obs.quality is None:
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
            who = self.names.get(d.subject or "", "")
            if d.granted:
                self.result.granted += 1
                self.result.by_method[d.method] = self.result.by_method.get(d.method, 0) + 1
                self._line(
                    event.at,
                    f"[bold green]GRANTED[/] door {d.door} by {d.method} ({_short(d.subject)}"
                    + (f", {who})" if who else ")"),
                )
            elif d.pending:
                self._line(event.at, f"[cyan]WAITING[/] door {d.door}: second factor needed")
            else:
                self.result.denied += 1
                self.liveness_denials += d.reason == "liveness"
                self._line(
                    event.at, f"[bold red]DENIED[/]  door {d.door} by {d.method} ({d.reason})"
                )
        elif event.kind == "challenge":
            self._line(
                event.at,
                f'[cyan]CHALLENGE[/] door {event.door}: "{event.detail.get("text")}" '
                "(buzzer/LED pattern, display text; once per approach)",
            )
        elif event.kind == "relay_on":
            self.result.relay_pulses += 1
            until = event.detail.get("until")
            length = f" for {until - event.at:.1f} s" if until is not None else ""
            self._line(event.at, f"[yellow]relay ON[/]  door {event.door}: lock released{length}")
        elif event.kind == "relay_off":
            self._line(event.at, f"[yellow]relay OFF[/] door {event.door}: locked")
        elif event.kind == "alarm":
            kind = str(event.detail.get("kind"))
            self.result.alarms.append(kind)
            self._line(event.at, f"[bold magenta]ALARM[/]   door {event.door}: {kind}")
        elif event.kind == "alarm_cleared":
            self._line(
                event.at, f"[magenta]alarm cleared[/] door {event.door}: {event.detail.get('kind')}"
            )
        elif event.kind == "fault":
            self._line(
                event.at,
                f"[dim]reader {event.detail.get('reader')}: {event.detail.get('reason')}[/]",
            )


# -- liveness: the resident's photo held up to the camera ---------------------------------


def _liveness_scene(app: App, portrait: np.ndarray, printer: _Timeline, result: DemoResult) -> None:
    """Turn liveness on (as on a real gate) and hold a printed photo of the resident up."""
    import random

    from ..measure.pad import PrintPath, synth_print_clip
    from ..service.liveness import build_judge
    from ..vision.detect import largest

    printer.scene(
        "liveness on (the default; the still portraits above needed it off): someone holds a "
        "printed photo of the resident up to the camera"
    )
    cfg = app.cfg
    live = cfg.model_copy(
        update={"liveness": cfg.liveness.model_copy(update={"mode": "passive+challenge"})}
    )
    app.pad = build_judge(live, rng=random.Random(7))
    assert app.pipeline is not None
    face = largest(app.pipeline.detector.detect(portrait))
    frames = synth_print_clip(
        portrait,
        rng=np.random.default_rng(11),
        face=face,
        seconds=10.0,  # 3 s passive, a challenge and its one retry (3 s each)
        fps=10.0,
        path=PrintPath(fill=(0.9, 1.1)),  # held close, as an attacker would
    )
    clock = app.clock
    assert isinstance(clock, FakeClock)
    denied, granted = result.denied, result.granted
    liveness_before = printer.liveness_denials
    for index, image in enumerate(frames):
        app.handle_frame(Frame(image, index, clock.monotonic()))
        app.tick()
        result.frames += 1
        clock.advance(0.1)
    _settle(app, 2.0)
    app.pad = None
    if (
        result.granted != granted
        or result.denied != denied + 1
        or printer.liveness_denials != liveness_before + 1
    ):
        result.problems.append(
            "liveness scene: expected the photo to be refused once with reason liveness"
        )


# -- the reader scenes: real adapters on mock pins, the simulated clock ------------------


def _drive(app: App, pin: int, *, low: bool) -> None:
    mock = app.pin_factory.pin(pin)
    if low:
        mock.drive_low()
    else:
        mock.drive_high()


_IDLE_FRAMES: list[np.ndarray] = []  # the empty gate, as the camera keeps seeing it


def _settle(app: App, seconds: float, step: float = 0.1) -> None:
    clock = app.clock
    assert isinstance(clock, FakeClock)
    end = clock.monotonic() + seconds
    index = 0
    while clock.monotonic() < end:
        clock.advance(step)
        if _IDLE_FRAMES and step >= 0.1:  # the camera keeps running on the empty gate
            image = _IDLE_FRAMES[index % len(_IDLE_FRAMES)]
            index += 1
            app.handle_frame(Frame(image=image, index=-1, timestamp=clock.monotonic()))
        app.tick()


def _send_bits(app: App, bits: tuple[int, ...]) -> None:
    """A Wiegand frame as a reader sends it: a 50 µs low pulse on D0 or D1 per bit."""
    clock = app.clock
    assert isinstance(clock, FakeClock)
    for bit in bits:
        _drive(app, D1_PIN if bit else D0_PIN, low=True)
        clock.advance(0.00005)
        _drive(app, D1_PIN if bit else D0_PIN, low=False)
        clock.advance(0.002)
    _settle(app, 0.05, step=0.05)  # the inter-frame gap ends the frame


def _type_pin(app: App, digits: str) -> None:
    for key in [*digits, "#"]:
        _send_bits(app, encode_key4(key))
        _settle(app, 0.3)


def _reader_scenes(app: App, printer: _Timeline, result: DemoResult) -> None:
    """PIN and card as equal ways in, a door held open, and a wrong-PIN lockout."""
    before = (result.granted, result.denied)

    printer.scene("the resident types their PIN on the gate's keypad instead")
    _type_pin(app, RESIDENT_PIN)
    _settle(app, 4.0)
    printer.scene("a visitor with no face enrolled taps their card")
    _send_bits(app, encode_h10301(*VISITOR_CARD))
    _settle(app, 0.5)
    printer.scene("the visitor opens the door and leaves it open")
    _drive(app, DOOR_CONTACT_PIN, low=False)
    _settle(app, 10.0)
    printer.scene("the door is closed again")
    _drive(app, DOOR_CONTACT_PIN, low=True)
    _settle(app, 1.0)
    printer.scene("someone guesses PINs at the keypad")
    for guess in ("1111", "2222", "3333"):
        _type_pin(app, guess)
    _type_pin(app, RESIDENT_PIN)  # even the right PIN waits out the lockout
    _settle(app, 1.0)

    granted, denied = result.granted - before[0], result.denied - before[1]
    expected = {"granted by PIN": 1, "granted by card": 1, "door_held alarm": 1, "lockout alarm": 1}
    got = {
        "granted by PIN": result.by_method.get("pin", 0),
        "granted by card": result.by_method.get("card", 0),
        "door_held alarm": result.alarms.count("door_held"),
        "lockout alarm": result.alarms.count("lockout"),
    }
    for what, want in expected.items():
        if got[what] != want:
            result.problems.append(f"reader scenes: expected {want} {what}, got {got[what]}")
    if granted != 2 or denied != 4:
        result.problems.append(
            f"reader scenes: expected 2 grants and 4 denials, got {granted} and {denied}"
        )
