"""A small background loop shared by the readers that can run on their own thread."""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from typing import Any

from ..clock import Clock

logger = logging.getLogger(__name__)


def describe_error(exc: BaseException) -> str:
    """``"KeyError at keys.py:123"``: type and place, never the message.

    Exception messages can carry whatever data was at hand (a card number in a
    ``KeyError``, a PIN in a ``ValueError``), so reader code logs this instead.
    """
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return type(exc).__name__
    last = frames[-1]
    return f"{type(exc).__name__} at {last.filename.rsplit('/', 1)[-1]}:{last.lineno}"


class Ticker:
    """Calls ``fn(now)`` every ``interval_s`` on a daemon thread until :meth:`stop`.

    The wait is a real ``threading.Event.wait`` so that ``stop()`` interrupts it at once;
    ``now`` comes from the injected clock. A failing call does not stop the loop (a
    transient error must not leave a door without its reader); failures are logged on
    the 1st, 10th, 100th … in a row, by type and place only.
    """

    def __init__(self, name: str, interval_s: float, clock: Clock, fn: Callable[[float], Any]):
        self.name = name
        self.failures = 0
        self._stop = threading.Event()
        self._interval_s = interval_s
        self._clock = clock
        self._fn = fn
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        """True while the loop runs."""
        return self._thread.is_alive()

    def _run(self) -> None:
        streak = 0
        while not self._stop.wait(self._interval_s):
            try:
                self._fn(self._clock.monotonic())
            except Exception as exc:
                streak += 1
                self.failures += 1
                if streak in (1, 10) or streak % 100 == 0:
                    logger.error(
                        "%s: reader loop failed (%s), %d time(s) in a row",
                        self.name,
                        describe_error(exc),
                        streak,
                    )
            else:
                streak = 0

    def stop(self, timeout_s: float = 2.0) -> None:
        """Stop the loop and wait (bounded) for the thread to end."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=timeout_s)
