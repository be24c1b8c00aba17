"""Reader backends by ``type``: the one place that maps a configured reader to its builder.

Each backend module holds its adapter, ``build(cfg, put, *, pin_factory, clock)`` and
``kinds(cfg)`` (what it offers a door: ``card`` and/or ``keypad``). Adding a reader type is
its config class (``config/readers.py``), its module here in ``readers/`` and one line below.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..clock import Clock
from ..config.readers import ReaderConfig
from . import face_button, hid, keypad, osdp, wiegand_gpio
from .built import BuiltReader
from .events import ReaderEvent

__all__ = ["BACKENDS", "BuiltReader", "ReaderBackend", "build_reader", "reader_kinds"]


@dataclass(frozen=True, slots=True)
class ReaderBackend:
    """How to open one reader type, and what it offers a door."""

    build: Callable[..., BuiltReader]
    kinds: Callable[[Any], frozenset[str]]


BACKENDS: dict[str, ReaderBackend] = {
    "wiegand": ReaderBackend(wiegand_gpio.build, wiegand_gpio.kinds),
    "keypad": ReaderBackend(keypad.build, keypad.kinds),
    "hid": ReaderBackend(hid.build, hid.kinds),
    "osdp": ReaderBackend(osdp.build, osdp.kinds),
    "button": ReaderBackend(face_button.build, face_button.kinds),
}


def reader_kinds(cfg: ReaderConfig) -> set[str]:
    """What a reader offers a door: ``card`` and/or ``keypad``."""
    return set(BACKENDS[cfg.type].kinds(cfg))


def build_reader(
    cfg: ReaderConfig, inbox: queue.SimpleQueue[ReaderEvent], *, pin_factory: Any, clock: Clock
) -> BuiltReader:
    """Open one reader; its events (cards, PINs, faults) go to ``inbox``."""
    return BACKENDS[cfg.type].build(cfg, inbox.put, pin_factory=pin_factory, clock=clock)
