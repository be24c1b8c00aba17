"""A character display at the door: what the buzzer and LED say, in words.

The adapter drives an HD44780 character LCD (16×2 or 20×4) behind an I²C backpack (PCF8574,
MCP23008 or MCP23017) with `RPLCD <https://rplcd.readthedocs.io/>`_, the usual library for
these modules on a Raspberry Pi. It shows a short text for each feedback pattern (``granted``,
``denied``, a liveness challenge, …) for ``hold_s`` seconds, then the idle text. It never shows
a name, a pseudonym, a PIN or a card number: only the fixed texts below and the configured
challenge texts.

RPLCD and smbus2 are in the ``pi`` extra; without them, or without the I²C bus, opening the
display is a :class:`~facegate.errors.GateError` naming what is missing.
"""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Callable, Mapping
from typing import Any

from ..clock import Clock, SystemClock
from ..errors import GateError
from .door import FeedbackKind

__all__ = ["DEFAULT_TEXTS", "LoggedLcd", "TextDisplay", "wrap_text"]

logger = logging.getLogger(__name__)

DEFAULT_TEXTS: Mapping[FeedbackKind, str] = {
    "granted": "Welcome - door open",
    "denied": "Not recognised - use PIN or card",
    "locked_out": "Too many tries - please wait",
    "second_factor": "Now your PIN or card",
    "alarm": "Alarm",
    "challenge_blink": "Please blink",
    "challenge_turn": "Please turn or nod your head",
    "challenge_mouth": "Please open your mouth",
}
"""What the display says for each feedback pattern (the challenge texts come from config)."""

LcdFactory = Callable[..., Any]
"""Builds the LCD object: ``RPLCD.i2c.CharLCD`` by default, a fake in tests."""


def wrap_text(text: str, cols: int, rows: int) -> list[str]:
    """``text`` as at most ``rows`` lines of at most ``cols`` characters (cut with "...").

    ASCII only: the HD44780's character ROM has no ellipsis.
    """
    lines = textwrap.wrap(" ".join(text.split()), cols) or [""]
    if len(lines) > rows:
        lines = lines[:rows]
        lines[-1] = lines[-1][: cols - 3] + "..."
    return lines


class LoggedLcd:
    """A stand-in LCD that logs what it would show (``facegate run --pin-factory mock``).

    The texts are the fixed feedback and challenge texts: nothing personal is ever shown.
    """

    def __init__(self, **kwargs: Any) -> None:
        self.cursor_pos = (0, 0)
        self._lines: list[str] = []

    def clear(self) -> None:
        if self._lines:
            logger.info("display: %s", " / ".join(self._lines))
        self._lines = []

    def write_string(self, text: str) -> None:
        self._lines.append(text)

    def close(self, clear: bool = False) -> None:
        self.clear()


def _rplcd(**kwargs: Any) -> Any:
    try:
        from RPLCD.i2c import CharLCD
    except ImportError as exc:
        raise GateError(
            "the door display needs RPLCD and smbus2 (pip install 'facegate[pi]')"
        ) from exc
    return CharLCD(**kwargs)


class TextDisplay:
    """An HD44780 character LCD on I²C showing feedback texts.

    Args:
        address: I²C address of the backpack (PCF8574 boards are usually 0x27 or 0x3F).
        port: I²C bus number (1 on every Raspberry Pi since the model B rev 2).
        expander: ``PCF8574``, ``MCP23008`` or ``MCP23017``.
        cols: Characters per line (16 or 20).
        rows: Lines (2 or 4).
        hold_s: Seconds a text stays before the idle text returns.
        idle_text: Shown when nothing else is (empty: a blank display).
        texts: Replaces :data:`DEFAULT_TEXTS` entry by entry.
        lcd_factory: Builds the LCD (keyword arguments as ``RPLCD.i2c.CharLCD``).
        clock: Time source.
        name: Door id, for log lines.

    Raises:
        GateError: RPLCD is missing or the display does not answer on the bus.
    """

    def __init__(
        self,
        *,
        address: int = 0x27,
        port: int = 1,
        expander: str = "PCF8574",
        cols: int = 16,
        rows: int = 2,
        hold_s: float = 3.0,
        idle_text: str = "",
        texts: Mapping[FeedbackKind, str] | None = None,
        lcd_factory: LcdFactory | None = None,
        clock: Clock | None = None,
        name: str = "door",
    ) -> None:
        self.cols, self.rows = cols, rows
        self.hold_s = hold_s
        self.idle_text = idle_text
        self.texts: dict[FeedbackKind, str] = {**DEFAULT_TEXTS, **(texts or {})}
        self.clock: Clock = clock or SystemClock()
        self.name = name
        factory = lcd_factory or _rplcd
        try:
            self._lcd: Any = factory(
                i2c_expander=expander,
                address=address,
                port=port,
                cols=cols,
                rows=rows,
                auto_linebreaks=False,
            )
        except GateError:
            raise
        except Exception as exc:  # OSError from the bus, ValueError from RPLCD
            raise GateError(
                f"door {name}: no display answers at I2C address {address:#04x} on bus {port} "
                f"({type(exc).__name__}: {exc})"
            ) from exc
        self._until: float | None = None
        self.lines: list[str] = []
        self._write(idle_text)

    def show(self, text: str, seconds: float | None = None, now: float | None = None) -> None:
        """Show ``text`` for ``seconds`` (default ``hold_s``), then the idle text."""
        current = self.clock.monotonic() if now is None else now
        self._until = current + (self.hold_s if seconds is None else seconds)
        self._write(text)

    def play(self, kind: FeedbackKind, now: float | None = None) -> None:
        """Show the text of a feedback pattern (nothing when it has none)."""
        text = self.texts.get(kind)
        if text:
            self.show(text, now=now)

    def poll(self, now: float | None = None) -> None:
        """Return to the idle text once the current text has had its time."""
        current = self.clock.monotonic() if now is None else now
        if self._until is not None and current >= self._until:
            self._until = None
            self._write(self.idle_text)

    def close(self) -> None:
        """Blank the display and free the bus. Safe to call more than once."""
        lcd, self._lcd = self._lcd, None
        if lcd is None:
            return
        try:
            lcd.clear()
            lcd.close(clear=True)
        except Exception as exc:  # a display that fell off the bus must not stop shutdown
            logger.warning("door %s: could not close the display: %s", self.name, exc)

    def _write(self, text: str) -> None:
        lines = wrap_text(text, self.cols, self.rows) if text else []
        if lines == self.lines or self._lcd is None:
            return
        try:
            self._lcd.clear()
            for row, line in enumerate(lines):
                self._lcd.cursor_pos = (row, 0)
                self._lcd.write_string(line)
        except Exception as exc:  # a flaky display never stops the gate
            logger.warning("door %s: display write failed: %s", self.name, exc)
            return
        self.lines = lines

    def __enter__(self) -> TextDisplay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
