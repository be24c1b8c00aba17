"""``facegate-web``: the web console, a separate process that manages the gate through the
daemon's admin socket only (layer 7, beside cli). It holds no keys and never opens the
database; see README "Web console"."""

from __future__ import annotations

from .app import create_app
from .core import WebSettings

__all__ = ["WebSettings", "create_app"]
