"""The spoken liveness challenge: WAV prompts rendered ahead of time, played with ``aplay``.

:func:`render_prompts` (``facegate speech render``) synthesises one short WAV file per
challenge and language with ``espeak-ng`` into ``<store.state_dir>/speech`` — Mandarin Chinese
(``cmn`` voice) and English (the configured ``liveness.challenge.text_*``). The daemon only
plays them: :class:`Speaker` starts ``aplay -q -D DEVICE zh.wav en.wav`` as a child process and
returns at once, so the face path and the gate never wait for it. At most one prompt plays at
a time (a new one while another plays is skipped), a prompt still playing after
``max_play_s`` is killed, and every failure is one log line naming the door, the challenge
kind and the exit status — never anything about the person.

A missing prompt file is a warning at start (:func:`missing_prompts`); the challenge is then
still shown and beeped, and PIN, card and the exit button are untouched.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from ..clock import Clock, SystemClock
from ..errors import GateError

__all__ = [
    "CHALLENGE_KINDS",
    "SPOKEN_ZH",
    "Speaker",
    "missing_prompts",
    "prompt_files",
    "prompt_seconds",
    "render_prompts",
    "speech_dir",
]

logger = logging.getLogger(__name__)

CHALLENGE_KINDS: Final = ("blink", "turn", "mouth")

SPOKEN_ZH: Final[Mapping[str, str]] = {
    "blink": "请眨眼",
    "turn": "请转头或点头",
    "mouth": "请张嘴",
}
"""What is said in Mandarin for each challenge (the English comes from the configuration)."""

VOICES: Final[Mapping[str, str]] = {"zh-CN": "cmn", "en": "en"}
"""espeak-ng voice per language."""

RENDER_TIMEOUT_S: Final = 30.0
MAX_PROMPT_BYTES: Final = 2 << 20  # a short prompt is ~100 kB; more is not a prompt


def speech_dir(state_dir: Path) -> Path:
    """Where the rendered prompts live: ``<state_dir>/speech``."""
    return Path(state_dir) / "speech"


def prompt_files(directory: Path, kind: str, languages: Sequence[str]) -> list[Path]:
    """The WAV files of one challenge, in the order they are played."""
    return [directory / f"challenge_{kind}.{language}.wav" for language in languages]


def _is_wav(path: Path) -> bool:
    try:
        if not path.is_file() or not 44 < path.stat().st_size <= MAX_PROMPT_BYTES:
            return False
        with open(path, "rb") as fh:
            head = fh.read(12)
    except OSError:
        return False
    return head[:4] == b"RIFF" and head[8:12] == b"WAVE"


def missing_prompts(directory: Path, languages: Sequence[str]) -> list[Path]:
    """Prompt files that are missing or not a WAV file (empty: all there)."""
    return [
        path
        for kind in CHALLENGE_KINDS
        for path in prompt_files(directory, kind, languages)
        if not _is_wav(path)
    ]


def prompt_seconds(directory: Path, languages: Sequence[str]) -> float:
    """The longest challenge's spoken length: its languages' WAV files one after the other
    (a file that cannot be read counts 0 s, one whose header claims more sound than the file
    holds counts what it holds). Never raises: it is read when a door's face path starts."""

    def seconds(path: Path) -> float:
        if not _is_wav(path):
            return 0.0
        try:
            size = path.stat().st_size
            with wave.open(str(path), "rb") as w:
                rate, frame = w.getframerate(), w.getnchannels() * w.getsampwidth()
                frames = min(w.getnframes(), size // frame) if frame > 0 else 0
                return frames / rate if rate > 0 else 0.0
        except (OSError, EOFError, RuntimeError, ValueError, wave.Error):
            # wave raises RuntimeError (seeking past a chunk) on a cut-off or damaged file
            return 0.0

    return max(
        sum(seconds(p) for p in prompt_files(directory, kind, languages))
        for kind in CHALLENGE_KINDS
    )


Runner = Callable[..., "subprocess.CompletedProcess[bytes]"]


def render_prompts(
    directory: Path,
    english: Mapping[str, str],
    languages: Sequence[str],
    *,
    espeak: str = "espeak-ng",
    run: Runner = subprocess.run,
) -> list[Path]:
    """Synthesise every challenge prompt with ``espeak-ng`` into ``directory``.

    Each file is written under a temporary name, checked to be a WAV file and renamed into
    place, so a failed run leaves the previous prompts as they were.

    Args:
        directory: The speech folder (created, mode 0750).
        english: Challenge kind → the English text (``liveness.challenge.text_*``).
        languages: ``zh-CN`` and/or ``en``, in playing order.
        espeak: The synthesiser's command.
        run: Runs one command (``subprocess.run`` unless testing).

    Returns:
        The files written.

    Raises:
        GateError: espeak-ng is missing, fails, times out or writes no WAV; the folder
            cannot be written.
    """
    program = shutil.which(espeak)
    if program is None:
        raise GateError(f"cannot find {espeak} (Debian / Raspberry Pi OS: apt install espeak-ng)")
    if directory.is_symlink():  # in the service user's folder, written by root: never followed
        raise GateError(f"{directory} is a symbolic link; refusing to write through it")
    try:
        directory.mkdir(mode=0o750, parents=True, exist_ok=True)
    except OSError as exc:
        raise GateError(f"cannot create {directory}: {exc.strerror or exc}") from exc
    written: list[Path] = []
    for kind in CHALLENGE_KINDS:
        files = prompt_files(directory, kind, languages)
        for language, final in zip(languages, files, strict=True):
            text = SPOKEN_ZH[kind] if language == "zh-CN" else english[kind]
            _render_one(program, VOICES[language], text, final, run)
            written.append(final)
            logger.info("rendered %s", final.name)
    return written


def _render_one(program: str, voice: str, text: str, final: Path, run: Runner) -> None:
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent)
    os.close(fd)
    partial = Path(name)
    try:
        try:
            result = run(
                [program, "-v", voice, "-w", str(partial), "--stdin"],
                input=text.encode("utf-8"),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                timeout=RENDER_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise GateError(
                f"espeak-ng gave no {final.name} within {RENDER_TIMEOUT_S:.0f} s"
            ) from None
        except OSError as exc:
            raise GateError(f"cannot run {program}: {exc.strerror or exc}") from exc
        if result.returncode != 0:
            reason = (result.stderr or b"").decode("utf-8", "replace").strip().splitlines()
            raise GateError(
                f"espeak-ng failed on {final.name} (status {result.returncode}"
                f"{': ' + reason[-1][:120] if reason else ''})"
            )
        if not _is_wav(partial):
            raise GateError(f"espeak-ng wrote no WAV file for {final.name}")
        os.chmod(partial, 0o640)
        os.replace(partial, final)
    except OSError as exc:
        raise GateError(f"cannot write {final}: {exc.strerror or exc}") from exc
    finally:
        partial.unlink(missing_ok=True)


class Speaker:
    """Plays a door's spoken challenge prompts with ``aplay``, never waiting for it.

    Args:
        device: ALSA output device (``aplay -D``).
        directory: The speech folder.
        languages: Languages played, in order.
        max_play_s: A prompt still playing after this long is killed.
        clock: Time source for ``max_play_s``.
        name: Door id, for log lines.
        command: The player (``aplay``).
        popen: Starts the player (``subprocess.Popen`` unless testing).
    """

    def __init__(
        self,
        device: str,
        directory: Path,
        languages: Sequence[str],
        *,
        max_play_s: float = 8.0,
        clock: Clock | None = None,
        name: str = "door",
        command: str = "aplay",
        popen: Callable[..., Any] = subprocess.Popen,
    ) -> None:
        self.device = device
        self.directory = directory
        self.languages = tuple(languages)
        self.max_play_s = max_play_s
        self.clock: Clock = clock or SystemClock()
        self.name = name
        self.command = command
        self._popen = popen
        self._proc: Any = None
        self._kind = ""
        self._started = 0.0
        self.missing = missing_prompts(directory, self.languages)
        if self.missing:
            logger.warning(
                "%s: speaker: %d spoken prompt file(s) missing in %s (run `facegate speech "
                "render`); challenges are shown and beeped, not spoken",
                name,
                len(self.missing),
                directory,
            )

    @property
    def playing(self) -> bool:
        """Whether a prompt is playing now."""
        return self._proc is not None and self._proc.poll() is None

    def say(self, kind: str, now: float | None = None) -> bool:
        """Start speaking the ``kind`` challenge; ``False`` when it was not started."""
        current = self.clock.monotonic() if now is None else now
        self.poll(current)
        if self._proc is not None:
            logger.info("%s: speaker: still playing; %s prompt not spoken", self.name, kind)
            return False
        files = prompt_files(self.directory, kind, self.languages)
        if not all(_is_wav(path) for path in files):
            logger.warning("%s: speaker: no rendered %s prompt; not spoken", self.name, kind)
            return False
        argv = [self.command, "-q", "-D", self.device, *(str(path) for path in files)]
        try:
            self._proc = self._popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                close_fds=True,
                start_new_session=True,
            )
        except (OSError, ValueError) as exc:
            logger.warning(
                "%s: speaker: cannot run %s: %s",
                self.name,
                self.command,
                exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__,
            )
            return False
        self._kind = kind
        self._started = current
        return True

    def poll(self, now: float | None = None) -> None:
        """Reap a finished player (logging a failure) and stop one that plays too long."""
        proc = self._proc
        if proc is None:
            return
        status = proc.poll()
        if status is None:
            current = self.clock.monotonic() if now is None else now
            if current - self._started < self.max_play_s:
                return
            logger.warning(
                "%s: speaker: %s prompt still playing after %.0f s; stopped",
                self.name,
                self._kind,
                self.max_play_s,
            )
            self._stop(proc)
        elif status != 0:
            logger.warning(
                "%s: speaker: %s exited with status %s on the %s prompt",
                self.name,
                self.command,
                status,
                self._kind,
            )
        self._proc = None

    @staticmethod
    def _stop(proc: Any) -> None:
        try:
            proc.kill()
            proc.wait(timeout=1.0)
        except (OSError, subprocess.TimeoutExpired):
            pass

    def close(self) -> None:
        """Stop a prompt still playing. Safe to call more than once."""
        if self._proc is not None and self._proc.poll() is None:
            self._stop(self._proc)
        self._proc = None
