"""``facegate demo``: the whole gate on a synthesized clip, its timeline on the terminal."""

from __future__ import annotations

import argparse
import logging
import statistics
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .common import EXIT_ERROR, EXIT_OK, console

if TYPE_CHECKING:
    from ..demo import DemoResult

__all__ = ["add_demo_parser"]


def cmd_demo(args: argparse.Namespace) -> int:
    if args.compound:
        return _compound_demo(args)
    from ..demo import run_demo

    # The timeline shows every event; library log lines would only repeat it on stderr.
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.ERROR)
    out = console()
    if args.console:
        return _console_demo(args, out)
    result = run_demo(out.print, busy=out.status, models_dir=args.models_dir)
    out.print()
    for line in summary_lines(result):
        out.print(line)
    return EXIT_OK if result.ok else EXIT_ERROR


def _compound_demo(args: argparse.Namespace) -> int:
    from ..compound.broker import find_mosquitto
    from ..demo.compound import run_compound_demo
    from ..errors import FacegateError

    if find_mosquitto() is None:
        raise FacegateError("the compound demo needs mosquitto (apt install mosquitto)")
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.CRITICAL)
    out = console()
    problems = run_compound_demo(out.print)
    out.print()
    if problems:
        out.print("summary: [red]UNEXPECTED[/]: " + "; ".join(problems))
        return EXIT_ERROR
    out.print("summary: [green]every step as expected[/]")
    return EXIT_OK


def _console_demo(args: argparse.Namespace, out: Any) -> int:
    from .demo_console import run_console_demo

    def ready(url: str, user: str, password: str) -> None:
        out.print(f"the console is at [bold]{url}[/] (a self-signed certificate: accept it once)")
        out.print(f"log in as [bold]{user}[/] with the password [bold]{password}[/]", markup=True)
        out.print("the live timeline shows the clip's resident granted every 10 s; Ctrl-C ends")

    try:
        run_console_demo(models_dir=args.models_dir, port=args.port, say=out.print, on_ready=ready)
    except KeyboardInterrupt:
        out.print("stopped; the demo's state folder is deleted")
    return EXIT_OK


def summary_lines(result: DemoResult) -> list[str]:
    """The demo's closing lines (rich markup): counts, verdict, median stage times, problems."""
    medians = {k: statistics.median(v) for k, v in result.timings_ms.items() if v}
    verdict = "[green]every scene as expected[/]" if result.ok else "[red]UNEXPECTED[/]"
    lines = [
        f"summary: {result.granted} granted, {result.denied} denied, "
        f"{result.relay_pulses} relay pulses, {result.frames} frames ({result.clip_frames} "
        f"of the clip, {result.frames - result.clip_frames} in the scenes after it); "
        f"{verdict}; median ms " + ", ".join(f"{k} {v:.1f}" for k, v in medians.items())
    ]
    return lines + [f"  [red]{problem}[/]" for problem in result.problems]


def add_demo_parser(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="run the whole gate on a synthesized clip with mock GPIO (no camera needed)",
        description="Enrols a public-domain portrait with a demo consent record, replays a "
        "synthesized clip through the real pipeline with mock GPIO pins and a simulated "
        "clock, and prints the timeline. Nothing is kept afterwards.",
    )
    p.add_argument("--models-dir", type=Path, default=None, help="models folder to use")
    p.add_argument(
        "--compound",
        action="store_true",
        help="three gates and an office over a local Mosquitto (TLS, ACL): enrol once, a gate "
        "catching up, a consent narrowed to one gate, a broker that dies, withdraw with signed "
        "receipts",
    )
    p.add_argument(
        "--console",
        action="store_true",
        help="run the real daemon on a looping clip and the web console on "
        "https://127.0.0.1:PORT with a demo account, until Ctrl-C",
    )
    p.add_argument("--port", type=int, default=8443, help="the console's port (default 8443)")
    p.set_defaults(func=cmd_demo)
