"""``facegate demo``: the main job end to end on an embedded default.

No camera, no GPIO, no files of ours: a throwaway state folder and master key, a resident
enrolled from a public-domain portrait with a demo consent record, a synthesized clip replayed
through the real pipeline (detect → align → embed → match → decide → relay) with gpiozero's
``MockFactory`` and a simulated clock, and a readable timeline.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from importlib import resources
from pathlib import Path

import numpy as np

from ..capture import Frame
from ..clock import FakeClock
from ..config import FacegateConfig, load_config_text
from ..errors import FacegateError
from ..gate import make_pin_factory
from ..measure.clip import Portrait, Scene, load_portraits, write_clip
from ..policy.credentials import CardNumber, Pin, hash_card, hash_pin, pin_tag
from ..readers.wiegand import WiegandCard, decode, encode_h10301, encode_key4
from ..service.app import App
from ..store import ConsentInput, CredentialInput, create_master_key, enroll_person, load_master_key
from ..store.credential_keys import credential_keys
from .timeline import DemoResult, Say, Timeline, short

__all__ = ["Busy", "DemoResult", "builtin_config", "run_demo"]

Busy = Callable[[str], AbstractContextManager[object]]
"""Shows that a slow step (``text``) runs while its context is open (e.g. a spinner)."""

RESIDENT_PIN = "2580"  # the demo's own, synthetic credentials
VISITOR_CARD = (12, 3456)  # facility, card number (26-bit H10301)
D0_PIN, D1_PIN, DOOR_CONTACT_PIN = 22, 23, 5  # as in demo.yaml

DEMO_NOTICE = (
    "facegate demo notice: faces are matched on this device only, stored as encrypted "
    "templates, never as images; PIN and card entry are available to everyone."
)


def _demo_yaml() -> str:
    return resources.files("facegate.demo").joinpath("demo.yaml").read_text(encoding="utf-8")


def builtin_config(base_dir: Path | None = None) -> FacegateConfig:
    """The demo's configuration (for eval and bench without ``-c``; its camera is unused)."""
    return load_config_text(_demo_yaml(), source="demo.yaml", base_dir=base_dir or Path.cwd())


def _quiet(_text: str) -> AbstractContextManager[object]:
    return nullcontext()


def run_demo(say: Say, *, busy: Busy = _quiet, models_dir: Path | None = None) -> DemoResult:
    """Run the demo; every line of its timeline (rich markup) goes to ``say``.

    Returns:
        What happened and, in ``problems``, every scene that did not come out as scripted.
    """
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
        printer = Timeline(say, clock, result)
        app = App(
            cfg,
            pin_factory=make_pin_factory("mock"),
            clock=clock,
            master_key=load_master_key(key_path),
            listener=printer,
        )
        try:
            _run(app, cfg.camera.path, say, busy, printer, result)  # type: ignore[union-attr]
        finally:
            app.close()
        return result


def _run(
    app: App, clip_dir: Path, say: Say, busy: Busy, printer: Timeline, result: DemoResult
) -> None:
    say(
        "[bold]facegate demo[/]: a replayed gate camera, mock GPIO, a throwaway "
        "encrypted store, a simulated clock"
    )
    app.check_rules()
    app.init_gate()
    _drive(app, DOOR_CONTACT_PIN, low=True)  # the door is shut (NC reed switch closed)
    app.init_store()
    app.init_access()
    app.init_readers()
    with busy("loading models…"):
        app.init_face()
    app.init_gallery()
    app.tick()
    assert app.face is not None and app.store is not None
    pipeline, store = app.face.pipeline, app.store

    def find_face(image: np.ndarray) -> tuple[float, float, float, float] | None:
        faces = pipeline.detector.detect(image)
        return max(faces, key=lambda d: d.area).box if faces else None

    portraits = load_portraits(find_face)
    # Enrol the resident: person → separate consent record → sealed templates.
    found = pipeline.template_for_photo(portraits["resident"].image, enrol=True)
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
        expires_at=store.clock.time() + app.cfg.retention.template_days * 86_400.0,
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
    say(
        f"enrolled [bold]the demo resident[/] as {short(pseudonym)} with consent "
        f"{(resident.consent_id or '')[:10]}… (notice v{notice_version[:8]}): "
        f"{len(templates)} template and a PIN, sealed in the store; the portrait itself is "
        f"not stored. A visitor {short(visitor.pseudonym)} has a card only (no face, so no "
        "biometric consent needed)."
    )
    with busy("synthesizing the demo clip…"):
        starts = write_clip(portraits, clip_dir)
    total = sum(scene.frames for scene, _ in starts)
    result.clip_frames = total  # the summary counts the later scenes' frames apart
    say(f"clip: {total} frames at 10 fps, threshold {pipeline.threshold:.3f}\n")

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
    _camera_lost_scene(app, printer, result)
    _zone_scenes(app, portraits, printer, result)
    for number, (scene, _) in enumerate(starts):
        got = outcomes.get(number, [])
        if scene.expect is None and got:
            result.problems.append(f"scene {number + 1} ({scene.label}): unexpected {got}")
        elif scene.expect is not None and got != [scene.expect]:
            result.problems.append(
                f"scene {number + 1} ({scene.label}): expected one {scene.expect}, "
                f"got {got or 'none'}"
            )


# -- liveness: the resident's photo held up to the camera ---------------------------------


def _liveness_scene(app: App, portrait: np.ndarray, printer: Timeline, result: DemoResult) -> None:
    """Turn liveness on (as on a real gate) and hold a printed photo of the resident up."""
    import random

    from ..measure.pad_synth import PrintPath, synth_print_clip
    from ..recognition.liveness import build_judge
    from ..vision.detect import largest

    _settle(app, app.cfg.face_zone.pause_s)  # faces are processed again after the keypad pause
    printer.scene(
        "liveness on (the default; the still portraits above needed it off): someone holds a "
        "printed photo of the resident up to the camera"
    )
    cfg = app.cfg
    live = cfg.model_copy(
        update={"liveness": cfg.liveness.model_copy(update={"mode": "passive+challenge"})}
    )
    assert app.face is not None
    app.face.liveness = build_judge(live, rng=random.Random(7))
    face = largest(app.face.pipeline.detector.detect(portrait))
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
    app.face.liveness = None
    if (
        result.granted != granted
        or result.denied != denied + 1
        or printer.liveness_denials != liveness_before + 1
    ):
        result.problems.append(
            "liveness scene: expected the photo to be refused once with reason liveness"
        )


# -- degraded mode: the camera dies, the card still opens -----------------------------------


def _camera_lost_scene(app: App, printer: Timeline, result: DemoResult) -> None:
    """The camera stops sending frames: face goes down alone; the visitor's card still opens
    the gate; when frames come back, face is up again."""
    printer.scene("the camera's cable is pulled: no more frames for 20 s")
    clock = app.clock
    assert isinstance(clock, FakeClock)
    granted = result.by_method.get("card", 0)
    downs, ups = len(result.ways_down), len(result.ways_up)
    end = clock.monotonic() + 20.0
    while clock.monotonic() < end:  # the loop keeps turning: readers, doors, watchdog
        clock.advance(0.1)
        app.tick()
    printer.scene("meanwhile the visitor taps their card")
    _send_bits(app, encode_h10301(*VISITOR_CARD))
    _settle(app, 0.05, step=0.05)
    printer.scene("the camera is plugged back in")
    _settle(app, 4.0)  # frames again (the idle gate)
    if (
        result.by_method.get("card", 0) != granted + 1
        or len(result.ways_down) != downs + 1
        or "camera lost" not in result.ways_down[-1]
        or len(result.ways_up) != ups + 1
    ):
        result.problems.append(
            "camera scene: expected face down (camera lost), a card grant, then face up again"
        )


# -- only faces that asked: the face zone and the keypad pause ------------------------------


def _zone_scenes(
    app: App, portraits: dict[str, Portrait], printer: Timeline, result: DemoResult
) -> None:
    """A passer-by far from the terminal is never searched; a resident typing their PIN in
    front of the camera is not scanned (the face path pauses while the keypad is in use)."""
    from ..measure.clip import place

    assert app.face is not None and _IDLE_FRAMES
    pipeline, searches = app.face.pipeline, [0]
    real_search = pipeline.search

    def counted(template: np.ndarray) -> object:
        searches[0] += 1
        return real_search(template)

    pipeline.search = counted  # type: ignore[method-assign, assignment]
    idle = list(_IDLE_FRAMES)
    try:
        printer.scene("a passer-by walks past at the edge of the picture, far from the terminal")
        outside, pins = result.outside_zone, result.by_method.get("pin", 0)
        _IDLE_FRAMES[:] = [place(f, portraits["stranger"], 40, 200, 0.6) for f in idle]
        _settle(app, 2.0)
        passer_by = searches[0]
        printer.scene("the resident stands at the terminal and types their PIN")
        _IDLE_FRAMES[:] = [place(f, portraits["resident"], 330, 220, 1.0) for f in idle]
        _type_pin(app, RESIDENT_PIN)
        _settle(app, 1.0)
        _IDLE_FRAMES[:] = idle
        _settle(app, app.cfg.face_zone.pause_s)
    finally:
        pipeline.search = real_search  # type: ignore[method-assign]
        _IDLE_FRAMES[:] = idle
    if result.outside_zone == outside or passer_by:
        result.problems.append("zone scene: the passer-by was searched or not seen")
    if result.by_method.get("pin", 0) != pins + 1 or searches[0]:
        result.problems.append("keypad scene: expected a PIN grant and no face search")


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


def _reader_scenes(app: App, printer: Timeline, result: DemoResult) -> None:
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
