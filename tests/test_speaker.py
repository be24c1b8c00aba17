"""The spoken liveness challenge (issue 16): ``facegate speech render`` and the door's speaker.

Fake ``espeak-ng`` and ``aplay`` scripts on PATH record their arguments; one test runs the real
espeak-ng when it is installed. No sound is played here: this machine has no speaker.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from facegate.cli import main
from facegate.clock import FakeClock
from facegate.config import load_config_text
from facegate.config.gate import DoorGateConfig
from facegate.errors import GateError
from facegate.gate.build import build_door_runtime
from facegate.gate.speaker import (
    SPOKEN_ZH,
    Speaker,
    missing_prompts,
    prompt_files,
    prompt_seconds,
    render_prompts,
    speech_dir,
)
from facegate.recognition import ChallengeRequested
from facegate.recognition.liveness import spoken_seconds
from facegate.service.actuator import Actuator
from helpers import MINIMAL_CONFIG

ENGLISH = {"blink": "Please blink", "turn": "Please turn or nod your head", "mouth": "Open up"}
LANGS = ("zh-CN", "en")

FAKE_ESPEAK = """#!/bin/sh
# Records its arguments and stdin, writes a minimal WAV file to the -w argument.
log="$FAKE_LOG"
printf '%s\\n' "$*" >> "$log"
cat >> "$log"; printf '\\n' >> "$log"
out=""
while [ $# -gt 0 ]; do
  if [ "$1" = "-w" ]; then out="$2"; shift; fi
  shift
done
[ -n "$FAKE_FAIL" ] && { echo "fake failure" >&2; exit 3; }
printf 'RIFF\\044\\000\\000\\000WAVEfmt ' > "$out"
head -c 64 /dev/zero >> "$out"
"""

FAKE_APLAY = """#!/bin/sh
printf '%s\\n' "$*" >> "$FAKE_LOG"
[ -n "$FAKE_SLEEP" ] && sleep "$FAKE_SLEEP"
exit "${FAKE_STATUS:-0}"
"""


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A bin folder with fake espeak-ng and aplay first on PATH; returns the log file."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in (("espeak-ng", FAKE_ESPEAK), ("aplay", FAKE_APLAY)):
        script = bin_dir / name
        script.write_text(body)
        script.chmod(0o755)
    log = tmp_path / "calls.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_LOG", str(log))
    return log


def wait_done(speaker: Speaker, clock: FakeClock, seconds: float = 5.0) -> None:
    end = time.monotonic() + seconds
    while speaker.playing and time.monotonic() < end:
        time.sleep(0.01)
    speaker.poll(clock.monotonic())


def test_render_writes_zh_then_en_for_each_challenge(tmp_path: Path, fakes: Path) -> None:
    dest = tmp_path / "state" / "speech"
    written = render_prompts(dest, ENGLISH, LANGS)
    assert [p.name for p in written] == [
        f"challenge_{kind}.{lang}.wav" for kind in ("blink", "turn", "mouth") for lang in LANGS
    ]
    assert missing_prompts(dest, LANGS) == []
    calls = fakes.read_text(encoding="utf-8")
    assert "-v cmn -w" in calls and "-v en -w" in calls and "--stdin" in calls
    assert SPOKEN_ZH["blink"] in calls and "Open up" in calls  # the configured English
    assert not [p for p in dest.iterdir() if p.name.endswith(".partial")]


def test_render_failure_keeps_the_old_prompts(
    tmp_path: Path, fakes: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "speech"
    render_prompts(dest, ENGLISH, LANGS)
    before = {p.name: p.read_bytes() for p in dest.iterdir()}
    monkeypatch.setenv("FAKE_FAIL", "1")
    with pytest.raises(GateError, match=r"espeak-ng failed on challenge_blink\.zh-CN\.wav"):
        render_prompts(dest, ENGLISH, LANGS)
    assert {p.name: p.read_bytes() for p in dest.iterdir()} == before


def test_render_refuses_a_symlinked_speech_folder(tmp_path: Path, fakes: Path) -> None:
    """``sudo facegate speech render`` writes as root into a folder the service user owns:
    a ``speech`` link put there must not make root write elsewhere."""
    elsewhere = tmp_path / "etc"
    elsewhere.mkdir()
    (tmp_path / "speech").symlink_to(elsewhere)
    with pytest.raises(GateError, match="symbolic link"):
        render_prompts(tmp_path / "speech", ENGLISH, LANGS)
    assert list(elsewhere.iterdir()) == []


def test_render_without_espeak_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(GateError, match="apt install espeak-ng"):
        render_prompts(tmp_path / "speech", ENGLISH, LANGS)


def test_speaker_plays_zh_then_en_without_waiting(tmp_path: Path, fakes: Path) -> None:
    dest = tmp_path / "speech"
    render_prompts(dest, ENGLISH, LANGS)
    fakes.unlink()
    clock = FakeClock()
    speaker = Speaker("plughw:1,0", dest, LANGS, clock=clock, name="main")
    assert speaker.missing == []
    assert speaker.say("mouth")
    wait_done(speaker, clock)
    (line,) = fakes.read_text().splitlines()
    zh, en = prompt_files(dest, "mouth", LANGS)
    assert line == f"-q -D plughw:1,0 {zh} {en}"


def test_one_prompt_at_a_time_and_a_long_one_is_stopped(
    tmp_path: Path, fakes: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    dest = tmp_path / "speech"
    render_prompts(dest, ENGLISH, LANGS)
    fakes.unlink()
    monkeypatch.setenv("FAKE_SLEEP", "30")
    clock = FakeClock()
    speaker = Speaker("default", dest, LANGS, clock=clock, name="main", max_play_s=8.0)
    started = time.monotonic()
    assert speaker.say("blink", clock.monotonic())
    assert time.monotonic() - started < 1.0  # started, not waited for
    assert not speaker.say("turn", clock.monotonic())  # still playing: skipped
    clock.advance(8.5)
    with caplog.at_level(logging.WARNING):
        speaker.poll(clock.monotonic())
    assert not speaker.playing
    assert "blink prompt still playing after 8 s; stopped" in caplog.text
    assert speaker.say("turn", clock.monotonic())
    speaker.close()
    assert not speaker.playing


def test_failures_are_logged_never_raised(
    tmp_path: Path,
    fakes: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    dest = tmp_path / "speech"
    clock = FakeClock()
    with caplog.at_level(logging.WARNING):
        silent = Speaker("default", dest, LANGS, clock=clock, name="main")
        assert len(silent.missing) == 6
        assert "run `facegate speech render`" in caplog.text
        assert not silent.say("blink")  # nothing rendered: not spoken, no exception
    render_prompts(dest, ENGLISH, LANGS)
    monkeypatch.setenv("FAKE_STATUS", "1")
    speaker = Speaker("default", dest, LANGS, clock=clock, name="main")
    with caplog.at_level(logging.WARNING):
        assert speaker.say("turn")
        wait_done(speaker, clock)
    assert "aplay exited with status 1 on the turn prompt" in caplog.text
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    with caplog.at_level(logging.WARNING):
        assert not speaker.say("turn")
    assert "cannot run aplay" in caplog.text


def test_the_challenge_is_spoken_at_the_door(tmp_path: Path, fakes: Path) -> None:
    """The actuator's challenge (display text, buzzer/LED) also starts the spoken prompt."""
    text = MINIMAL_CONFIG.format(clip=tmp_path / "clip", state=tmp_path / "state")
    text = text.replace(
        "    relay: {pin: 17, pulse_s: 3.0}",
        "    relay: {pin: 17, pulse_s: 3.0}\n"
        '    gate: {buzzer: {pin: 26}, speaker: {device: "plughw:1,0"}}',
    )
    cfg = load_config_text(text)
    cfg.store.state_dir.mkdir()
    render_prompts(speech_dir(cfg.store.state_dir), ENGLISH, LANGS)
    fakes.unlink()
    clock = FakeClock()
    actuator = Actuator(clock, "main")
    actuator.open_doors(cfg, MockFactory(), None)
    try:
        challenge = ChallengeRequested(kind="blink", text="Please blink", deadline=3.0)
        actuator.challenge("main", challenge, clock.monotonic())
        speaker = actuator.doors["main"].speaker
        assert speaker is not None
        wait_done(speaker, clock)
        assert "-q -D plughw:1,0" in fakes.read_text()
        assert "challenge_blink.zh-CN.wav" in fakes.read_text()
        assert actuator.doors["main"].feedback is not None
        assert actuator.doors["main"].feedback.playing == "challenge_blink"
    finally:
        for runtime in actuator.doors.values():
            runtime.close()


def test_a_door_without_a_speaker_or_speech_folder_is_silent(tmp_path: Path) -> None:
    gate = DoorGateConfig.model_validate({"speaker": {}})
    runtime = build_door_runtime("main", gate, relay_pin=17, pin_factory=MockFactory())
    try:
        assert runtime.speaker is None  # no speech folder given: nothing to play
        runtime.say("blink")
    finally:
        runtime.close()


@pytest.mark.parametrize("device", ["-D evil", "hw;rm", "", "a b"])
def test_speaker_device_must_be_an_alsa_name(device: str) -> None:
    with pytest.raises(ValueError):
        DoorGateConfig.model_validate({"speaker": {"device": device}})


def test_speech_render_command(
    tmp_path: Path, fakes: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = MINIMAL_CONFIG.format(clip=tmp_path / "clip", state=tmp_path / "state")
    config = tmp_path / "facegate.yaml"
    config.write_text(text)
    assert main(["speech", "render", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "rendered 6 spoken prompt(s)" in out and "no door has a `gate.speaker`" in out
    assert missing_prompts(tmp_path / "state" / "speech", LANGS) == []
    config.write_text(
        text.replace(
            "    relay: {pin: 17, pulse_s: 3.0}",
            '    relay: {pin: 17, pulse_s: 3.0}\n    gate: {speaker: {device: "default"}}',
        )
    )
    assert main(["speech", "render", "--config", str(config)]) == 0
    printed = capsys.readouterr().out
    # liveness is off in this configuration: no challenge, so no time to answer either
    assert "door main: the longest spoken challenge lasts 0.0 s; liveness here is off" in printed
    # A prompt longer than max_play_s is cut there; a challenging door gives the time to answer.
    import facegate.gate.speaker as speaker_module
    import facegate.recognition.liveness as liveness_module

    monkeypatch.setattr(speaker_module, "prompt_seconds", lambda *_a: 9.5)
    monkeypatch.setattr(liveness_module, "prompt_seconds", lambda *_a: 9.5)
    config.write_text(
        text.replace(
            "    relay: {pin: 17, pulse_s: 3.0}",
            "    relay: {pin: 17, pulse_s: 3.0}\n    liveness: passive+challenge\n"
            '    gate: {speaker: {device: "default"}}',
        )
    )
    assert main(["speech", "render", "--config", str(config)]) == 0
    printed = capsys.readouterr().out
    assert "lasts 8.0 s (cut there by gate.speaker.max_play_s; 9.5 s in full)" in printed
    assert "; the person then has 3.0 s to answer" in printed
    os.environ["PATH"] = str(tmp_path / "nowhere")  # monkeypatch restores PATH afterwards
    assert main(["speech", "render", "--config", str(config)]) == 1
    assert "apt install espeak-ng" in capsys.readouterr().err


@pytest.mark.skipif(
    shutil.which("espeak-ng") is None,
    reason="espeak-ng is not installed (apt install espeak-ng); the fake above stands in for it",
)
def test_real_espeak_renders_wav_prompts(tmp_path: Path) -> None:
    dest = tmp_path / "speech"
    written = render_prompts(dest, ENGLISH, LANGS)
    assert len(written) == 6 and missing_prompts(dest, LANGS) == []
    import wave

    for path in written:
        with wave.open(str(path)) as wav:
            seconds = wav.getnframes() / wav.getframerate()
        assert 0.3 < seconds < 5.0, (path.name, seconds)
    # The real aplay is not run: this machine has no sound card.


def _write_wav(path: Path, seconds: float, rate: int = 8000) -> None:
    import wave

    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(b"\0\0" * int(seconds * rate))


def test_the_time_to_answer_starts_when_the_spoken_prompt_ends(tmp_path: Path) -> None:
    """Mandarin then English can last as long as challenge.timeout_s: a door with a speaker
    gives the person timeout_s after its longest prompt (at most max_play_s, when the player
    is stopped); a door without one, or without prompt files, gives timeout_s from the prompt."""
    text = MINIMAL_CONFIG.format(clip=tmp_path / "clip", state=tmp_path / "state")
    speaking = text.replace(
        "    relay: {pin: 17, pulse_s: 3.0}",
        '    relay: {pin: 17, pulse_s: 3.0}\n    gate: {speaker: {device: "plughw:1,0"}}',
    )
    cfg = load_config_text(speaking)
    assert spoken_seconds(cfg, "main") == 0.0  # nothing rendered yet
    speech = speech_dir(tmp_path / "state")
    for kind, (zh, en) in {"blink": (1.0, 0.8), "turn": (1.6, 1.4), "mouth": (1.2, 0.9)}.items():
        _write_wav(speech / f"challenge_{kind}.zh-CN.wav", zh)
        _write_wav(speech / f"challenge_{kind}.en.wav", en)
    assert prompt_seconds(speech, LANGS) == pytest.approx(3.0)
    assert prompt_seconds(speech, ("en",)) == pytest.approx(1.4)
    assert spoken_seconds(cfg, "main") == pytest.approx(3.0)
    assert spoken_seconds(cfg, "elsewhere") == 0.0
    assert spoken_seconds(load_config_text(text), "main") == 0.0  # no speaker at the door
    english = load_config_text(
        speaking.replace('device: "plughw:1,0"', 'device: "d", languages: [en]')
    )
    assert spoken_seconds(english, "main") == pytest.approx(1.4)
    cut = load_config_text(speaking.replace('device: "plughw:1,0"', 'device: "d", max_play_s: 2.0'))
    assert spoken_seconds(cut, "main") == 2.0


def test_broken_or_hostile_prompt_files_count_nothing_and_never_raise(tmp_path: Path) -> None:
    """The prompt lengths are read when the face path starts or reloads: a damaged, foreign or
    unreadable file in the speech folder counts 0 s (or what it really holds), never raises
    (which would take face down at the door) and never claims more than its bytes can play."""
    import struct

    speech = speech_dir(tmp_path / "state")
    speech.mkdir(parents=True)
    blink = speech / "challenge_blink.en.wav"

    def fmt(rate: int = 8000, width: int = 1) -> bytes:
        return b"fmt " + struct.pack("<LHHLLHH", 16, 1, 1, rate, rate * width, width, 8 * width)

    no_data = b"RIFF" + struct.pack("<L", 40) + b"WAVE" + fmt() + b"x" * 20  # cut off
    hours = b"RIFF" + struct.pack("<L", 36 + 8000) + b"WAVE" + fmt()
    hours += b"data" + struct.pack("<L", 0xFFFFFFF0) + b"\0" * 8000  # 1 s there, hours claimed
    for content, seconds in ((no_data, 0.0), (b"RIFF\0\0\0\0WAVE" + b"\xff" * 64, 0.0)):
        blink.write_bytes(content)
        assert prompt_seconds(speech, ("en",)) == seconds
    blink.write_bytes(hours)
    assert prompt_seconds(speech, ("en",)) == pytest.approx(1.0, abs=0.01)
    blink.unlink()
    blink.mkdir()  # a folder named like a prompt
    assert prompt_seconds(speech, ("en",)) == 0.0
    blink.rmdir()
    blink.symlink_to(blink)  # a link to itself
    assert prompt_seconds(speech, ("en",)) == 0.0
    blink.unlink()
    _write_wav(blink, 1.5)
    blink.chmod(0)
    if os.access(blink, os.R_OK):  # root reads anything
        blink.chmod(0o644)
    else:
        assert prompt_seconds(speech, ("en",)) == 0.0
        blink.chmod(0o644)
    assert prompt_seconds(speech, ("en",)) == pytest.approx(1.5)


@pytest.mark.parametrize("mode", ["passive+challenge", "passive"])
def test_the_face_path_starts_with_damaged_prompts_and_logs_its_answer_window(
    tmp_path: Path, models_dir: Path, caplog: pytest.LogCaptureFixture, mode: str
) -> None:
    """A door's face path reads its prompt lengths when it is built: a damaged file among
    them neither stops it nor shows up in the log line, which names the window to answer a
    challenge only where challenges are asked (and nothing about anyone)."""
    from facegate.recognition import build_face_path

    text = MINIMAL_CONFIG.format(clip=tmp_path / "clip", state=tmp_path / "state")
    text = text.replace(
        "    relay: {pin: 17, pulse_s: 3.0}",
        '    relay: {pin: 17, pulse_s: 3.0}\n    gate: {speaker: {device: "plughw:1,0"}}',
    ).replace('mode: "off"', f"mode: {mode}")
    cfg = load_config_text(text)
    cfg = cfg.model_copy(update={"models": cfg.models.model_copy(update={"dir": models_dir})})
    speech = speech_dir(tmp_path / "state")
    for kind in ("blink", "turn", "mouth"):
        _write_wav(speech / f"challenge_{kind}.zh-CN.wav", 1.5)
        _write_wav(speech / f"challenge_{kind}.en.wav", 1.0)
    broken = speech / "challenge_turn.en.wav"
    # Damaged: after its format a chunk that claims to run past the end of the file.
    broken.write_bytes(broken.read_bytes()[:36] + b"LIST" + (1 << 20).to_bytes(4, "little") * 3)
    with caplog.at_level(logging.INFO, logger="facegate.recognition.face"):
        path = build_face_path(cfg, "main")
    assert path.liveness is not None and path.liveness.spoken_s == pytest.approx(2.5)
    lines = [r.getMessage() for r in caplog.records if r.name == "facegate.recognition.face"]
    if mode == "passive":
        assert lines == ["door main: liveness passive"]
    else:
        assert lines == [
            "door main: liveness passive+challenge; 3.0 s to answer a challenge after its "
            "2.5 s spoken prompt"
        ]


@pytest.mark.parametrize(("awake", "warned"), [(10, True), (20, False)])
def test_a_request_door_warns_when_awake_s_ends_before_its_challenges_can(
    tmp_path: Path, models_dir: Path, caplog: pytest.LogCaptureFixture, awake: int, warned: bool
) -> None:
    """With face_zone.trigger: request faces are processed awake_s after a press (the notice
    says so): a spoken prompt delays the end of each challenge, so 10 s no longer covers the
    first challenge (at the latest decide_within_s 2.5 s) and its retry, 2 x (2.5 + 3) s, and
    the start-up log says to raise awake_s rather than leave the person unheard."""
    from facegate.recognition import build_face_path

    text = MINIMAL_CONFIG.format(clip=tmp_path / "clip", state=tmp_path / "state")
    text = text.replace(
        "    relay: {pin: 17, pulse_s: 3.0}",
        '    relay: {pin: 17, pulse_s: 3.0}\n    gate: {speaker: {device: "plughw:1,0"}}',
    ).replace('mode: "off"', "mode: passive+challenge")
    text = text.replace("d0: 22, d1: 23}", "d0: 22, d1: 23, pin: {face_key: '*'}}")
    text += f"face_zone: {{trigger: request, awake_s: {awake}}}\n"
    cfg = load_config_text(text)
    cfg = cfg.model_copy(update={"models": cfg.models.model_copy(update={"dir": models_dir})})
    for kind in ("blink", "turn", "mouth"):
        _write_wav(speech_dir(tmp_path / "state") / f"challenge_{kind}.en.wav", 2.5)
    with caplog.at_level(logging.WARNING, logger="facegate.recognition.face"):
        build_face_path(cfg, "main")
    warning = (
        f"door main: face_zone.awake_s ({awake} s) is shorter than a challenged attempt can "
        "last here (up to 13.5 s"
    )
    assert (warning in caplog.text) is warned, caplog.text
