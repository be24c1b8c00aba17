"""The control protocol: all the admin handlers may ask of a running daemon.

``App`` implements it; the handlers (:mod:`.admin_commands`) see nothing else of the App, so
a web console or a test double can serve the same commands, and ``admin_commands`` does not
import ``app`` (no cycle). Every method is called on the loop thread (``on_loop``), where the
store's one connection, the gallery and the policy snapshot live.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ..admin import PeerCred, Role
from ..admin.server import HandlerFunc
from ..clock import Clock
from ..config import FacegateConfig
from ..store import Store

__all__ = ["Control", "FaceSpace"]


@dataclass(slots=True, frozen=True)
class FaceSpace:
    """The running face path's embedding space: templates from elsewhere must match it."""

    space: str
    dim: int


class Control(Protocol):
    """What a running daemon offers its admin handlers."""

    @property
    def cfg(self) -> FacegateConfig:
        """The configuration in force (doors, enrolment rules)."""
        ...

    @property
    def clock(self) -> Clock: ...

    @property
    def pin_factory(self) -> Any:
        """The gpiozero pin factory the doors and readers use (``MockFactory`` on mock pins)."""
        ...

    @property
    def store(self) -> Store | None:
        """The daemon's store (its one writer); ``None`` before start or after close."""
        ...

    def on_loop(self, handler: HandlerFunc) -> HandlerFunc:
        """Wrap a handler so that it runs on the loop thread."""
        ...

    def status(self) -> dict[str, Any]:
        """Doors (locked, alarms), frames seen, people with a face, threshold, health alarms."""
        ...

    def door_ids(self) -> list[str]: ...

    def remote_open(self, door: str, seconds: float | None, *, uid: int) -> bool:
        """Release ``door`` (recorded and audited); whether it is released now."""
        ...

    def role_for(self, peer: PeerCred) -> Role | None:
        """The role the admin socket gives this peer."""
        ...

    def face_space(self) -> FaceSpace | None:
        """The face path's embedding space, or ``None`` when the face path is not running."""
        ...

    def same_face(self, templates: np.ndarray) -> str | None:
        """The enrolled person these templates match at the daemon's threshold, or ``None``
        (the same face enrolled twice as two people)."""
        ...

    def people_changed(self, kind: str, pseudonym: str) -> None:
        """After an enrolment, withdrawal or deletion: audit it and refresh people."""
        ...
