"""Which ways in are up: face can go down on its own; PIN, card and door inputs never follow it.

Face is one way in among several. Its faults (the camera lost, dark or frozen; a model
missing or changed; an error in the face path; a rule of the Measures that forbids face
processing here, such as a FAIL of the start-up checklist) take *face* down at the camera's
door, each as its own *cause*, and face comes back when every cause has cleared. Card readers,
keypads, the exit button and the door contact are served by the same loop whatever face does.
Pure: no clock, no I/O; :class:`~.app.App` reports the changes (audit, alarm, timeline).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["FaceBackoff", "WaysIn"]

# Causes that clear by themselves when their condition ends; the others need a reload.
CAUSES = ("rules", "models", "camera", "face_path")


@dataclass(slots=True)
class WaysIn:
    """The ways in configured at each door, and why face is down (one reason per cause).

    Args:
        configured: door → the ways in configured there (``camera``, ``card``, ``keypad``;
            the exit button and door contact are always served by the door itself).
        face_door: the door the camera watches, or None when no door takes faces.
    """

    configured: dict[str, set[str]]
    face_door: str | None
    down: dict[str, str] = field(default_factory=dict)

    @property
    def face_up(self) -> bool:
        return self.face_door is not None and not self.down

    def face_reason(self) -> str:
        """Why face is down, in words (causes in a fixed order)."""
        return "; ".join(self.down[c] for c in CAUSES if c in self.down)

    def set_down(self, cause: str, reason: str) -> bool:
        """Face down for ``cause``; True when face was up before (a change to report)."""
        if cause not in CAUSES:
            raise ValueError(f"unknown cause {cause!r}")
        was_up = self.face_up
        self.down[cause] = reason
        return was_up

    def clear(self, cause: str) -> bool:
        """``cause`` has ended; True when face is up again (a change to report)."""
        if self.down.pop(cause, None) is None:
            return False
        return self.face_up

    def status(self) -> dict[str, dict[str, str]]:
        """Door → way → ``up`` or ``down: reason``, for ``facegate status`` and ``STATUS=``."""
        out: dict[str, dict[str, str]] = {}
        for door, kinds in self.configured.items():
            ways: dict[str, str] = {}
            if door == self.face_door and "camera" in kinds:
                ways["face"] = "up" if self.face_up else f"down: {self.face_reason()}"
            if "card" in kinds:
                ways["card"] = "up"
            if "keypad" in kinds:
                ways["pin"] = "up"
            ways["exit button"] = "up"
            out[door] = ways
        return out

    def summary(self) -> str:
        """One line: ``face down (camera lost); PIN, card, exit button up``."""
        if self.face_door is None:
            return "no face door; PIN, card, exit button up"
        if self.face_up:
            return "all ways in up"
        return f"face down ({self.face_reason()}); PIN, card, exit button up"


@dataclass(slots=True)
class FaceBackoff:
    """When to try a failed camera or face path again: 2 s, 4 s, 8 s … at most ``max_s``.

    Bounded restarts without a restart of the daemon: a broken camera is retried at most once
    every ``max_s`` seconds for as long as it stays broken, while everything else runs.
    """

    first_s: float = 2.0
    max_s: float = 300.0
    failures: int = 0
    retry_at: float | None = None

    def failed(self, now: float) -> float:
        """Note a failure at ``now``; returns the delay until the next try."""
        delay = min(self.first_s * 2.0 ** min(self.failures, 30), self.max_s)
        self.failures += 1
        self.retry_at = now + delay
        return delay

    def due(self, now: float) -> bool:
        return self.retry_at is not None and now >= self.retry_at

    def succeeded(self) -> None:
        self.failures = 0
        self.retry_at = None
