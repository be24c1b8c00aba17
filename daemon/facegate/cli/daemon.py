"""``facegate run``, ``status``, ``door open`` and ``events``: the daemon and what it serves;
``retention run``: its daily purge, for a store no daemon serves (a compound's office node)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table

from .. import __version__
from .common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    add_config_arg,
    console,
    daemon_client,
    load,
    require_daemon,
)

if TYPE_CHECKING:
    from ..config import FacegateConfig
    from ..service.app import App

__all__ = ["add_daemon_parsers"]

logger = logging.getLogger("facegate")


def cmd_run(args: argparse.Namespace) -> int:
    from ..gate import idle_levels, make_pin_factory
    from ..gate.display import LoggedLcd
    from ..service.app import App
    from ..service.supervisor import Supervisor

    cfg = load(args.config)
    _setup_logging(cfg.service.log_level if not args.debug else "debug")
    mock = args.pin_factory == "mock"

    def build(config: FacegateConfig, path: Path) -> App:
        return App(
            config,
            # Mock inputs rest as the wired switches would (no tamper alarm at start).
            pin_factory=make_pin_factory(args.pin_factory, idle_levels(config.doors)),
            run_checklist=True,
            config_path=path,
            lcd_factory=LoggedLcd if mock else None,  # no I2C bus either on a mock run
        )

    supervisor = Supervisor(args.config, build)
    supervisor.install_signal_handlers()
    logger.info(
        "facegate %s starting: site %s, doors %s",
        __version__,
        cfg.site.kind.value,
        ", ".join(d.id for d in cfg.doors),
    )
    supervisor.run()
    logger.info("stopped")
    # SIGTERM is the service manager's normal stop (0); SIGINT is an interrupt (130, Ctrl-C).
    return EXIT_INTERRUPTED if supervisor.stopped_by == signal.SIGINT else EXIT_OK


def _setup_logging(level: str) -> None:
    # Under systemd the journal adds its own timestamps.
    fmt = "%(levelname)s %(name)s: %(message)s"
    if "INVOCATION_ID" not in os.environ:
        fmt = "%(asctime)s " + fmt
    logging.basicConfig(level=getattr(logging, level.upper()), format=fmt, stream=sys.stderr)


def cmd_status(args: argparse.Namespace) -> int:
    reply = require_daemon(args.config).call("status")
    out = console()
    ways = reply.get("ways_in", {})
    for door, state in reply["doors"].items():
        alarms = ", ".join(state["alarms"]) or "none"
        out.print(f"door {door}: {'locked' if state['locked'] else 'RELEASED'}, alarms: {alarms}")
        for way, up in ways.get(door, {}).items():
            out.print(f"  {way}: {up}", markup=False)
    threshold = reply["threshold"]
    out.print(
        f"frames {reply['frames']}, people with a face {reply['people_with_face']}, "
        f"threshold {'-' if threshold is None else format(threshold, '.4f')}, camera/loop "
        f"alarms: {', '.join(reply['health_alarms']) or 'none'}"
    )
    return EXIT_OK


def cmd_door_open(args: argparse.Namespace) -> int:
    reply = require_daemon(args.config).call("door.open", door=args.door, seconds=args.seconds)
    console().print(f"door {reply['door']} released (recorded and audited)")
    return EXIT_OK


def cmd_events(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from ..store import Event
    from .common import daemon_client, open_configured_store

    cfg = load(args.config)
    table = Table(title="access events (pseudonymised)")
    for col in ("time (UTC)", "door", "method", "result", "subject", "score", "reason"):
        table.add_column(col)
    client = daemon_client(cfg)
    if client is not None:
        events = [Event(**e) for e in client.call("events", limit=args.limit)["events"]]
    else:
        with open_configured_store(cfg) as store:
            events = store.events(limit=args.limit)
    for ev in events:
        table.add_row(
            datetime.fromtimestamp(ev.ts, UTC).strftime("%Y-%m-%d %H:%M:%S"),
            ev.door,
            ev.method,
            ev.result.upper(),
            ev.subject or "-",
            "-" if ev.score is None else f"{ev.score:.3f}",
            ev.reason,
        )
    console().print(table)
    return EXIT_OK


def cmd_retention_run(args: argparse.Namespace) -> int:
    """The daemon's purge (at start and daily), once, on a store no daemon serves."""
    from ..clock import SystemClock
    from ..service.state import apply_retention, close_state, open_state
    from ..store.state_owner import hand_over_on_exit

    cfg = load(args.config)
    out = console()
    if daemon_client(cfg) is not None:
        out.print("the daemon runs: it applies the retention periods itself (at start, daily)")
        return EXIT_OK
    _setup_logging(cfg.service.log_level)
    store, audit = open_state(cfg, SystemClock())
    hand_over_on_exit(cfg.store.state_dir)
    try:
        templates_gone = apply_retention(store, audit, cfg)
    finally:
        close_state(store, audit)
    done = "expired face templates deleted" if templates_gone else "no face template was due"
    out.print(f"retention periods applied: {done}")
    return EXIT_OK


def add_run_parser(sub: Any) -> None:
    """Register ``run`` (first in the command list, as it is what systemd starts)."""
    p = sub.add_parser(
        "run",
        help="run the gate daemon (what systemd starts)",
        description="Runs the gate until stopped, the locks safe at every stop. SIGHUP reloads "
        "the configuration; SIGTERM (the service manager's stop) exits 0; SIGINT (Ctrl-C) "
        "exits 130.",
    )
    add_config_arg(p)
    p.add_argument(
        "--pin-factory",
        choices=["mock", "lgpio"],
        default=None,
        help="GPIO backend; default: gpiozero's choice ($GPIOZERO_PIN_FACTORY). "
        "`mock` runs without GPIO hardware (a configured door display is then logged).",
    )
    p.set_defaults(func=cmd_run)


def add_daemon_parsers(sub: Any) -> None:
    """Register ``status``, ``door open``, ``retention run`` and ``events``."""
    p = sub.add_parser("status", help="the running daemon's doors, alarms and counts")
    add_config_arg(p)
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("door", help="remote actions on a door (through the running daemon)")
    dsub = p.add_subparsers(dest="door_command", metavar="ACTION", required=True)
    q = dsub.add_parser("open", help="remote unlock: release the lock once (operator role)")
    add_config_arg(q)
    q.add_argument("door", help="door id")
    q.add_argument("--seconds", type=float, default=None, help="release time (default: pulse_s)")
    q.set_defaults(func=cmd_door_open)

    p = sub.add_parser("retention", help="the retention periods, for a store no daemon serves")
    rsub = p.add_subparsers(dest="retention_command", metavar="ACTION", required=True)
    q = rsub.add_parser(
        "run",
        help="apply the retention periods now (the daemon does it at start and daily; a "
        "compound's office node runs no daemon: facegate-retention.timer runs this)",
    )
    add_config_arg(q)
    q.set_defaults(func=cmd_retention_run)

    p = sub.add_parser("events", help="show recent pseudonymised access events")
    add_config_arg(p)
    p.add_argument("--limit", type=int, default=50, help="how many (default %(default)s)")
    p.set_defaults(func=cmd_events)
