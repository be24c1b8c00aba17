"""``facegate demo``: the whole gate on a synthesized clip, its timeline on the terminal."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from .common import EXIT_ERROR, EXIT_OK, console

__all__ = ["add_demo_parser"]


def cmd_demo(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    # The timeline shows every event; library log lines would only repeat it on stderr.
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.ERROR)
    result = run_demo(console(), models_dir=args.models_dir)
    return EXIT_OK if result.ok else EXIT_ERROR


def add_demo_parser(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="run the whole gate on a synthesized clip with mock GPIO (no camera needed)",
        description="Enrols a public-domain portrait with a demo consent record, replays a "
        "synthesized clip through the real pipeline with mock GPIO pins and a simulated "
        "clock, and prints the timeline. Nothing is kept afterwards.",
    )
    p.add_argument("--models-dir", type=Path, default=None, help="models folder to use")
    p.set_defaults(func=cmd_demo)
