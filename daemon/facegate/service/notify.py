"""The systemd notify protocol (``sd_notify(3)``) in a few lines, without libsystemd.

Each message is one datagram of ``KEY=VALUE`` lines sent to the ``AF_UNIX`` ``SOCK_DGRAM``
socket named by ``$NOTIFY_SOCKET``; a name starting with ``@`` is in the abstract namespace
(the ``@`` becomes a NUL byte). Outside systemd (no ``$NOTIFY_SOCKET``) every call is a no-op
that returns False. Errors are logged once and never stop the gate.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

__all__ = ["Notifier", "notifier_from_env", "ready", "status", "stopping", "watchdog",
           "watchdog_interval"]  # fmt: skip

logger = logging.getLogger(__name__)


def _address(name: str) -> str | bytes:
    if name.startswith("@"):
        return b"\0" + name[1:].encode()
    return name


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds of ``WatchdogSec=`` for this process, or None when no watchdog is asked for.

    ``$WATCHDOG_USEC`` is the interval; ``$WATCHDOG_PID``, when set, must be our pid.
    Ping at half the interval or more often.
    """
    env = os.environ if environ is None else environ
    usec, pid = env.get("WATCHDOG_USEC"), env.get("WATCHDOG_PID")
    if not usec:
        return None
    try:
        if pid and int(pid) != os.getpid():
            return None
        value = int(usec)
    except ValueError:
        return None
    return value / 1_000_000 if value > 0 else None


class Notifier:
    """Sends notify messages to one socket; a no-op without one.

    Args:
        socket_name: ``$NOTIFY_SOCKET``'s value (a path, or ``@name`` for abstract), or None.
    """

    def __init__(self, socket_name: str | None) -> None:
        self.socket_name = socket_name or None
        self._warned = False

    @property
    def enabled(self) -> bool:
        """True when running under a service manager that listens."""
        return self.socket_name is not None

    def send(self, *lines: str) -> bool:
        """Send one datagram of ``KEY=VALUE`` lines; True if it was sent."""
        if self.socket_name is None:
            return False
        message = "\n".join(lines).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(_address(self.socket_name))
                sock.sendall(message)
        except OSError as exc:
            if not self._warned:  # log once; a missing manager must not flood the journal
                logger.warning("sd_notify to %s failed: %s", self.socket_name, exc)
                self._warned = True
            return False
        return True

    def ready(self, text: str | None = None) -> bool:
        """``READY=1`` (with an optional ``STATUS=``): start-up finished."""
        return self.send("READY=1", *([f"STATUS={_one_line(text)}"] if text else []))

    def status(self, text: str) -> bool:
        """``STATUS=…``: one line shown by ``systemctl status``."""
        return self.send(f"STATUS={_one_line(text)}")

    def watchdog(self) -> bool:
        """``WATCHDOG=1``: the service is alive (send only when it really is)."""
        return self.send("WATCHDOG=1")

    def watchdog_trigger(self) -> bool:
        """``WATCHDOG=trigger``: ask systemd to act as if the watchdog had expired."""
        return self.send("WATCHDOG=trigger")

    def stopping(self, text: str | None = None) -> bool:
        """``STOPPING=1``: shutdown has begun."""
        return self.send("STOPPING=1", *([f"STATUS={_one_line(text)}"] if text else []))


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]


def notifier_from_env(environ: Mapping[str, str] | None = None) -> Notifier:
    """A ``Notifier`` for ``$NOTIFY_SOCKET`` (no-op when unset)."""
    env = os.environ if environ is None else environ
    return Notifier(env.get("NOTIFY_SOCKET"))


def ready(text: str | None = None) -> bool:
    """``READY=1`` to ``$NOTIFY_SOCKET`` (no-op outside systemd)."""
    return notifier_from_env().ready(text)


def status(text: str) -> bool:
    """``STATUS=text`` to ``$NOTIFY_SOCKET`` (no-op outside systemd)."""
    return notifier_from_env().status(text)


def watchdog() -> bool:
    """``WATCHDOG=1`` to ``$NOTIFY_SOCKET`` (no-op outside systemd)."""
    return notifier_from_env().watchdog()


def stopping(text: str | None = None) -> bool:
    """``STOPPING=1`` to ``$NOTIFY_SOCKET`` (no-op outside systemd)."""
    return notifier_from_env().stopping(text)
