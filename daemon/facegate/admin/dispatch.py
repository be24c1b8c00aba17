"""Run admin handlers on the main loop's thread.

The store's SQLite connection, the gallery and the door state belong to the main loop. Admin
connections are served on their own threads, so a handler that touches them is wrapped with
``LoopDispatcher.on_loop``: the connection thread queues the call and waits; the main loop runs
queued calls in ``run_pending()`` (from ``App.tick()``) between frames. No locks, no second
thread in SQLite, and an admin command can never interleave with a door decision.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from .roles import PeerCred
from .server import AdminCommandError, HandlerFunc

__all__ = ["LoopDispatcher"]

logger = logging.getLogger(__name__)


class LoopDispatcher:
    """A queue of calls from admin threads, run by the main loop.

    Args:
        timeout_s: how long a caller waits for the loop before ``busy``.
        max_per_turn: calls run per ``run_pending()`` (keeps the loop's latency bounded).
    """

    def __init__(self, *, timeout_s: float = 5.0, max_per_turn: int = 4) -> None:
        self.timeout_s = timeout_s
        self.max_per_turn = max_per_turn
        self._queue: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()

    def call(self, func: Callable[[], Any]) -> Any:
        """Run ``func`` on the loop thread and return its result (from another thread).

        Raises:
            AdminCommandError: ``busy`` when the loop did not get to it within the timeout.
        """
        future: Future[Any] = Future()
        self._queue.put((func, future))
        try:
            return future.result(timeout=self.timeout_s)
        except FutureTimeout:
            future.cancel()
            raise AdminCommandError("busy", "the gate loop did not answer in time") from None

    def on_loop(self, handler: HandlerFunc) -> HandlerFunc:
        """Wrap a handler so that its body runs on the loop thread."""

        def wrapped(args: Any, peer: PeerCred) -> dict[str, Any]:
            result: dict[str, Any] = self.call(lambda: handler(args, peer))
            return result

        wrapped.__name__ = getattr(handler, "__name__", "handler")
        wrapped.__doc__ = handler.__doc__
        return wrapped

    def run_pending(self) -> int:
        """Run queued calls (on the loop thread); returns how many ran."""
        ran = 0
        while ran < self.max_per_turn:
            try:
                func, future = self._queue.get_nowait()
            except queue.Empty:
                break
            if not future.set_running_or_notify_cancel():
                continue  # the caller gave up
            try:
                future.set_result(func())
            except BaseException as exc:  # handed to the admin thread, which replies
                future.set_exception(exc)
            ran += 1
        return ran
