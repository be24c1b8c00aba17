"""Enrolment from the camera (guidance, several frames, timeout) and from photos via the CLI."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from facegate.capture import ReplayCamera
from facegate.cli import main
from facegate.clock import FakeClock
from facegate.config.enrollment import EnrollmentConfig
from facegate.recognition import FacePipeline
from facegate.recognition.enrollment import EnrollmentError, capture_templates, shred
from helpers import CONSENT_ARGS, load_rgb, make_config, post_notice


@pytest.fixture(scope="module")
def pipeline(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> FacePipeline:
    return FacePipeline(make_config(tmp_path_factory.mktemp("cfg"), models_dir))


def clip(folder: Path, frames: list[np.ndarray]) -> Path:
    folder.mkdir()
    for i, rgb in enumerate(frames):
        cv2.imwrite(str(folder / f"{i:03d}.png"), rgb[:, :, ::-1])
    return folder


def framed(face: np.ndarray, width: int) -> np.ndarray:
    frame = np.full((480, 640, 3), 100, np.uint8)
    scale = width / face.shape[1]
    small = cv2.resize(face, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)[:480]
    frame[: small.shape[0], 150 : 150 + small.shape[1]] = small
    return frame


def test_camera_enrolment_guides_then_takes_good_frames(
    pipeline: FacePipeline, testdata: Path, tmp_path: Path
) -> None:
    face = load_rgb(testdata / "faces" / "barack_obama" / "obama.jpg")
    near = framed(face, 330)
    moving = cv2.GaussianBlur(near, (0, 0), 4)  # motion blur: "hold still"
    frames = [np.full((480, 640, 3), 100, np.uint8)] * 2 + [moving] * 3 + [near] * 12
    clock = FakeClock()
    camera = ReplayCamera(clip(tmp_path / "c", frames), fps=10, loop=False, clock=clock)
    messages: list[tuple[str, int]] = []
    with camera:
        rows = capture_templates(
            pipeline,
            camera,
            EnrollmentConfig(frames=3, min_interval_s=0.25),
            clock=clock,
            on_status=lambda m, n: messages.append((m, n)),
        )
    assert rows.shape == (3, 128)
    texts = [m for m, _ in messages]
    assert texts[0].startswith("step in front")
    assert any(t.startswith("blurred: hold still") for t in texts)
    assert texts[-1] == "done" and messages[-1][1] == 3
    # frames were taken at least min_interval_s apart (3 kept out of 12 good frames)
    assert float(rows[0] @ rows[1]) > 0.9


def test_camera_enrolment_gives_up_and_stores_nothing(
    pipeline: FacePipeline, tmp_path: Path
) -> None:
    clock = FakeClock()
    blank = [np.full((120, 160, 3), 100, np.uint8)] * 3
    camera = ReplayCamera(clip(tmp_path / "c", blank), fps=1, loop=True, clock=clock)
    with camera, pytest.raises(EnrollmentError, match="nothing was stored"):
        capture_templates(pipeline, camera, EnrollmentConfig(frames=2, timeout_s=5), clock=clock)


def test_shred_overwrites_and_removes(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(b"secret pixels" * 1000)
    shred(path)
    assert not path.exists()


def write_config(tmp_path: Path, models_dir: Path) -> Path:
    cfg = tmp_path / "gate.yaml"
    cfg.write_text(
        "site: {name: T, kind: residential_compound, purpose: Open the gate for residents.}\n"
        f"camera: {{type: replay, path: {tmp_path}}}\n"
        "doors: [{id: main, relay: {pin: 17}}]\n"
        f"models: {{dir: {models_dir}}}\n"
        f"store: {{state_dir: {tmp_path / 'state'}}}\n"
    )
    return cfg


def test_enroll_cli_consent_guardian_and_person_commands(
    models_dir: Path, testdata: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = str(write_config(tmp_path, models_dir))
    photo = str(testdata / "faces" / "jeff_bezos" / "img20.jpg")
    consent = CONSENT_ARGS
    assert main(["keys", "init", "-c", cfg]) == 0
    post_notice(tmp_path / "state")
    assert main(["enroll", "-c", cfg, "--photo", photo]) == 2  # no consent
    assert "separate consent" in capsys.readouterr().err
    child = consent[:-1]  # without --adult: the birth year says how old
    assert main(["enroll", "-c", cfg, "--photo", photo, "--birth-year", "2020", *child]) == 3
    assert "guardian" in capsys.readouterr().out
    assert main(["enroll", "-c", cfg, "--photo", photo, "--name", "Jeff Test", *consent]) == 0
    out = capsys.readouterr().out
    # Issue 15: with the daemon stopped, the enrolment is audited all the same.
    audit = "".join(p.read_text() for p in sorted((tmp_path / "state" / "audit").glob("*.jsonl")))
    assert '"kind":"consent"' in audit.replace(" ", "")
    assert "1 template(s) sealed" in out and "still where you left them" in out
    assert main(["person", "list", "-c", cfg]) == 0
    listing = capsys.readouterr().out
    assert "Jeff Test" not in listing and "1 people, 1 with a stored face" in listing
    pseudonym = next(w for w in listing.split() if w.startswith("p-"))
    assert main(["person", "list", "-c", cfg, "--show-names"]) == 0
    assert "Jeff Test" in capsys.readouterr().out
    receipt = tmp_path / "receipt.json"
    assert main(["person", "withdraw", "-c", cfg, pseudonym, "--receipt", str(receipt)]) == 0
    assert "1 face templates" in capsys.readouterr().out and receipt.exists()
    assert main(["person", "delete", "-c", cfg, pseudonym]) == 0
    assert main(["person", "delete", "-c", cfg, pseudonym]) == 1
    assert main(["keys", "rotate", "-c", cfg]) == 0
    assert "re-wrapped" in capsys.readouterr().out


def test_pin_and_card_only_enrolment_opens_through_the_policy(
    models_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    from facegate.config import load_config
    from facegate.readers.cards import card_raw
    from facegate.readers.events import CardNumber
    from facegate.readers.events import CardRead as ReaderCard
    from facegate.readers.events import PinEntered as ReaderPin
    from facegate.service.access import AccessService
    from facegate.store import list_people, open_store

    cfg_path = write_config(tmp_path, models_dir)
    cfg_path.write_text(
        cfg_path.read_text() + "readers: [{id: r1, type: wiegand, door: main, d0: 22, d1: 23}]\n"
    )
    cfg = str(cfg_path)
    assert main(["keys", "init", "-c", cfg]) == 0
    assert main(["enroll", "-c", cfg, "--pin"]) == 2  # not a terminal: refused, nothing stored
    assert "terminal" in capsys.readouterr().err
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    answers = iter(["12:3456"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert (
        main(["enroll", "-c", cfg, "--generate-pin", "--card", "--valid-until", "2040-01-01"]) == 0
    )
    out = capsys.readouterr().out
    assert "with CARD and PIN only" in out and "12:3456" not in out
    pin = out.split("generated PIN (tell the person; it is not shown again): ")[1].split()[0]
    assert pin.isdigit() and len(pin) >= 6

    loaded = load_config(cfg_path)
    from facegate.clock import FakeClock

    with open_store(loaded.store.state_dir / "master.key", loaded.store.state_dir) as store:
        (person,) = list_people(store)
        assert person.credentials == ("card", "pin") and person.templates == 0
        blob = b"".join(p.read_bytes() for p in loaded.store.state_dir.iterdir() if p.is_file())
        assert pin.encode() not in blob and b"3456" not in blob
        access = AccessService(loaded, store, FakeClock(wall=1_800_000_000.0))
        card = ReaderCard("r1", CardNumber(12, 3456, 26), 0.0, "H10301")
        assert card_raw("12:3456") == card.card.raw()
        assert access.card("main", card).granted
        assert access.pin("main", ReaderPin("r1", pin, 0.0)).granted
        wrong = ReaderPin("r1", "0" * len(pin) if pin != "0" * len(pin) else "1" * len(pin), 0.0)
        denied = access.pin("main", wrong)
        assert not denied.granted and denied.reason == "wrong_pin"
        # r1 is one Wiegand reader with a keypad: wrong PINs lock its PIN entry only, and the
        # resident's card at the same reader still opens (issue 14).
        for _ in range(loaded.doors[0].lockout.max_failures - 1):
            denied = access.pin("main", wrong)
        assert [a.kind for a in denied.alarms] == ["lockout"]
        assert denied.alarms[0].detail.startswith("pin: PIN entry at reader r1 locked")
        assert access.pin("main", ReaderPin("r1", pin, 0.0)).reason == "locked_out"
        assert access.card("main", card).granted


def test_enrolling_from_a_fifo_or_a_huge_image_fails_fast(
    models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 14 item 5: a FIFO blocked cv2.imread for ever; a 20000×20000 PNG took 2.6 GB.
    Both are refused with a reason, and nothing is stored."""
    import os
    import struct
    import threading
    import zlib

    cfg = str(write_config(tmp_path, models_dir))
    consent = CONSENT_ARGS
    assert main(["keys", "init", "-c", cfg]) == 0
    post_notice(tmp_path / "state")
    fifo = tmp_path / "photo.jpg"
    os.mkfifo(fifo)
    codes: list[int] = []
    worker = threading.Thread(
        target=lambda: codes.append(main(["enroll", "-c", cfg, "--photo", str(fifo), *consent])),
        daemon=True,
    )
    worker.start()
    worker.join(timeout=120)
    assert not worker.is_alive(), "enrolment blocked on a FIFO"
    assert codes and codes[0] != 0
    assert "not a regular file" in capsys.readouterr().err  # refused before any model loads
    ihdr = struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0)
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(
        b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr
        + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)) + b"\x00" * 64
    )  # fmt: skip
    assert main(["enroll", "-c", cfg, "--photo", str(bomb), *consent]) != 0
    assert "too large" in capsys.readouterr().out
    assert main(["person", "list", "-c", cfg]) == 0
    assert "0 people" in capsys.readouterr().out
