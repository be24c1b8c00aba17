"""``facegate config check``: validate a configuration file, one line per problem."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .common import EXIT_CONFIG, EXIT_OK, console

__all__ = ["add_config_parsers"]


def cmd_config_check(args: argparse.Namespace) -> int:
    from ..config import load_config

    try:
        cfg = load_config(args.file)
    except ConfigError as exc:
        out = console()
        if exc.problems == [str(exc)]:
            out.print(f"{exc}", markup=False)
        else:
            for line in exc.problems:
                out.print(line, markup=False)
        return EXIT_CONFIG
    doors = ", ".join(d.id for d in cfg.doors)
    console().print(
        f"{args.file}: valid (site {cfg.site.kind.value}, camera {cfg.camera.type}, "
        f"doors: {doors})",
        markup=False,
    )
    return EXIT_OK


def add_config_parsers(sub: Any) -> None:
    p = sub.add_parser("config", help="configuration tools")
    csub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    q = csub.add_parser(
        "check",
        help="validate a configuration file",
        description="Exit 0 when FILE is valid; otherwise exit 2 and print one line per "
        "problem: `key.path (line N): message`.",
    )
    q.add_argument("file", type=Path, help="the YAML configuration to check")
    q.set_defaults(func=cmd_config_check)
