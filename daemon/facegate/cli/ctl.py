"""``facegate ctl COMMAND [key=value …]``: call the running daemon over its admin socket."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..admin.client import DEFAULT_SOCKET
from .common import console

__all__ = ["add_admin_parsers", "cmd_ctl", "parse_assignment"]


def parse_assignment(text: str) -> tuple[str, Any]:
    """``key=value``; the value is JSON when it parses (numbers, true, lists), else a string."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def cmd_ctl(args: argparse.Namespace) -> int:
    from ..admin.client import AdminClient, AdminError

    try:
        with AdminClient(args.socket, timeout_s=args.timeout) as client:
            result = client.call(args.ctl_command, **dict(args.args))
    except AdminError as exc:
        console(stderr=True).print(f"[red]refused[/] {exc}")
        return 1
    print(json.dumps(result, indent=2, sort_keys=True, ensure_ascii=False))
    return 0


def add_admin_parsers(sub: Any) -> None:
    """Register ``facegate ctl`` on the top-level subparsers."""
    p = sub.add_parser(
        "ctl",
        help="send a command to the running daemon (admin socket)",
        description="Your role comes from your uid and groups (SO_PEERCRED), configured in "
        "the admin: section. `facegate ctl commands` lists what you may do. Every request is "
        "recorded in the audit log.",
    )
    p.add_argument("ctl_command", metavar="COMMAND", help="e.g. status, events, commands")
    p.add_argument("args", nargs="*", type=parse_assignment, metavar="KEY=VALUE")
    p.add_argument("--socket", type=Path, default=DEFAULT_SOCKET, help="admin socket path")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for a reply")
    p.set_defaults(func=cmd_ctl)
