"""The "face" button: a push button at the terminal that asks for face entry.

With ``face_zone.trigger: request`` the face path at the camera's door processes no face
until someone asks: this button (or a keypad's ``pin.face_key``). Each press reports
:class:`~.events.FaceRequested`; presses closer than ``bounce_s`` on the injected clock are
one press. It is not a way in by itself (``kinds`` is empty): PIN and card stay the
alternatives. Wired between a GPIO and GND with the internal pull-up; tested on gpiozero's
``MockFactory``.
"""

from __future__ import annotations

from typing import Any

from ..clock import Clock
from ..config.readers import ButtonReaderConfig
from .built import BuiltReader
from .errors import ReaderError
from .events import EventCallback, FaceRequested

__all__ = ["FaceButton", "build", "kinds"]


class FaceButton:
    """One GPIO push button reporting :class:`FaceRequested` on each press."""

    def __init__(
        self,
        gpio: int,
        *,
        reader_id: str,
        on_event: EventCallback,
        clock: Clock,
        pin_factory: Any = None,
        bounce_s: float = 0.05,
    ) -> None:
        from gpiozero import Button
        from gpiozero.exc import GPIOZeroError

        self.reader_id = reader_id
        self._on_event = on_event
        self._clock = clock
        self._bounce_s = bounce_s
        self._last = float("-inf")
        try:
            self._button = Button(gpio, pull_up=True, bounce_time=None, pin_factory=pin_factory)
        except GPIOZeroError as exc:
            raise ReaderError(
                f"{reader_id}: cannot read the face button on GPIO {gpio}: {exc} (on a machine "
                "without GPIO, set GPIOZERO_PIN_FACTORY=mock)"
            ) from exc
        self._button.when_pressed = self._pressed

    def _pressed(self) -> None:
        now = self._clock.monotonic()
        if now - self._last < self._bounce_s:
            return
        self._last = now
        self._on_event(FaceRequested(self.reader_id, now))

    def poll(self, now: float) -> None:
        """Nothing to poll: presses arrive from gpiozero's thread."""

    def close(self) -> None:
        if not self._button.closed:
            self._button.when_pressed = None
        self._button.close()


def kinds(cfg: ButtonReaderConfig) -> frozenset[str]:
    """A face button offers no way in by itself."""
    return frozenset()


def build(
    cfg: ButtonReaderConfig, put: EventCallback, *, pin_factory: Any, clock: Clock
) -> BuiltReader:
    """Open a ``type: button`` face button."""
    button = FaceButton(
        cfg.gpio,
        reader_id=cfg.id,
        on_event=put,
        clock=clock,
        pin_factory=pin_factory,
        bounce_s=cfg.bounce_s,
    )
    return BuiltReader(cfg, button, None)
