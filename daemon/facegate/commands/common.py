"""Helpers shared by the subcommand modules."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:
    import argparse

    from ..config import FacegateConfig
    from ..store import Store

__all__ = ["DEFAULT_CONFIG", "add_config_arg", "console", "load", "open_configured_store"]

DEFAULT_CONFIG = Path("/etc/facegate/facegate.yaml")


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


def open_configured_store(cfg: FacegateConfig) -> Store:
    from ..store import open_store, resolve_key_path

    key_path = resolve_key_path(cfg.store.key_file, cfg.store.state_dir)
    return open_store(key_path, cfg.store.state_dir)
