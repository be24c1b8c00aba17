"""Run the daemon; SIGHUP reloads the configuration, SIGTERM/SIGINT stop it with the locks safe.

A reload validates the new file first. An invalid file is reported (one line per problem) and
the daemon carries on with the configuration it has; a valid one restarts the App, and if the
new configuration cannot start (a checklist FAIL, a missing device) the old one is started
again. Between the two the locks are in their safe state.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from ..config import FacegateConfig, load_config
from ..errors import ConfigError
from .app import App
from .compound_link import CompoundHook

__all__ = ["Supervisor"]

logger = logging.getLogger(__name__)

AppFactory = Callable[[FacegateConfig, Path], App]


class Supervisor:
    """Owns the running App across reloads.

    Args:
        config_path: the configuration file (re-read on reload).
        app_factory: builds an App for a configuration and its file (not started).
    """

    def __init__(self, config_path: Path, app_factory: AppFactory) -> None:
        self.config_path = config_path
        self.app_factory = app_factory
        self.cfg: FacegateConfig = load_config(config_path)
        self.app: App | None = None
        self.compound: CompoundHook | None = None  # the compound link beside the App, if any
        self.reloads = 0
        self._reload = threading.Event()
        self._stopping = threading.Event()
        self.stopped_by: int | None = None  # the signal that stopped it (the CLI's exit code)

    def install_signal_handlers(self) -> None:
        """SIGHUP → reload; SIGTERM and SIGINT → stop (call from the main thread)."""
        signal.signal(signal.SIGHUP, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            logger.info("received SIGHUP; reloading %s", self.config_path)
            self.request_reload()
        else:
            logger.info("received %s; stopping with the locks safe", signal.Signals(signum).name)
            self.stopped_by = signum
            self.request_stop()

    def request_reload(self) -> None:
        self._reload.set()
        if self.app is not None:
            self.app.stop()

    def request_stop(self) -> None:
        self._stopping.set()
        if self.app is not None:
            self.app.stop()

    def _start(self, cfg: FacegateConfig) -> App:
        app = self.app_factory(cfg, self.config_path)
        app.start()  # closes what it opened if it fails
        self.compound = CompoundHook(app)
        self.compound.start()  # never fails the start: the gate works alone
        return app

    def _close(self, app: App) -> None:
        if self.compound is not None:
            self.compound.stop()
            self.compound = None
        app.close()

    def run(self) -> None:
        """Start, then serve until stopped; reloads happen in between."""
        self.app = self._start(self.cfg)
        try:
            while True:
                self.app.run()
                if self._stopping.is_set() or not self._reload.is_set():
                    return
                self._reload.clear()
                self._reload_once()
        finally:
            if self.app is not None:
                self._close(self.app)

    def _reload_once(self) -> None:
        assert self.app is not None
        try:
            new = load_config(self.config_path)
        except ConfigError as exc:
            logger.error("reload refused, keeping the running configuration: %s", exc)
            for line in exc.problems:
                logger.error("  %s", line)
            self.app.resume()
            return
        except Exception as exc:  # the loader raises only ConfigError; a reload never ends the gate
            logger.error("reload refused (%s), keeping the running configuration", exc)
            self.app.resume()
            return
        self._close(self.app)
        self.app = None
        try:
            self.app = self._start(new)
        except Exception as exc:  # a device the new file names is missing, …
            logger.error("the new configuration cannot start (%s); restarting the old one", exc)
            self.app = self._start(self.cfg)
            return
        self.cfg = new
        self.reloads += 1
        logger.info("configuration reloaded")

    def status(self) -> dict[str, Any]:
        return {"reloads": self.reloads, "running": self.app is not None}
