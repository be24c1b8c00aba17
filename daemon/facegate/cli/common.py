"""Helpers shared by the subcommand modules: the console, the config argument, loading, the
daemon client and the exit codes."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

if TYPE_CHECKING:
    import argparse

    from ..config import FacegateConfig
    from ..store import Store

__all__ = [
    "DEFAULT_CONFIG",
    "EXIT_CONFIG",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_REFUSED",
    "add_config_arg",
    "config_or_builtin",
    "console",
    "daemon_client",
    "load",
    "open_configured_store",
    "require_daemon",
]

DEFAULT_CONFIG = Path("/etc/facegate/facegate.yaml")
EXIT_OK, EXIT_ERROR, EXIT_CONFIG, EXIT_REFUSED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, highlight=False, soft_wrap=not sys.stdout.isatty())


def add_config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-c",
        "--config",
        type=Path,
        default=Path(os.environ.get("FACEGATE_CONFIG", DEFAULT_CONFIG)),
        help="configuration file (default: $FACEGATE_CONFIG or %(default)s)",
    )


def load(path: Path) -> FacegateConfig:
    from ..config import load_config

    return load_config(path)


def config_or_builtin(path: Path | None) -> FacegateConfig:
    """The given configuration, or the demo's built-in one (for eval, bench and pad)."""
    if path is not None:
        return load(path)
    from ..demo.run import builtin_config

    return builtin_config()


def open_configured_store(cfg: FacegateConfig) -> Store:
    from ..store import open_store, resolve_key_path
    from ..store.state_owner import hand_over_on_exit

    key_path = resolve_key_path(cfg.store.key_file, cfg.store.state_dir)
    store = open_store(key_path, cfg.store.state_dir)
    hand_over_on_exit(cfg.store.state_dir)
    return store


def audit_direct(cfg: FacegateConfig, store: Store, kind: str, pseudonym: str) -> None:
    """With the daemon stopped, the command is the one writer: record it in the audit log
    (``consent``, ``enrolment``, ``withdrawal``, ``deletion``, ``correction``…)."""
    from ..audit import open_audit_log

    log = open_audit_log(store, cfg.store.state_dir)
    try:
        log.append(kind, subject=pseudonym)
    finally:
        log.close()


def daemon_client(cfg: FacegateConfig) -> Any:
    """A client for the running daemon's admin socket, or ``None`` when no daemon listens.

    While the daemon runs, every change goes through it, so two writers never race on the
    database and the daemon reloads at once.
    """
    import stat as stat_mod

    from ..admin import AdminClient

    path = cfg.admin.socket
    try:
        if not stat_mod.S_ISSOCK(path.stat().st_mode):
            return None
    except OSError:
        return None
    return AdminClient(path)


def require_daemon(config: Path) -> Any:
    """The running daemon's client for the configuration at ``config``.

    Raises:
        FacegateError: no daemon listens on the configured admin socket.
    """
    from ..errors import FacegateError

    client = daemon_client(load(config))
    if client is None:
        raise FacegateError("the daemon is not running (no admin socket); start it first")
    return client
