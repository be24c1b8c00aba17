"""The ``facegate`` command: the only place that parses arguments and prints.

One module per command group registers its parsers; nothing below this package imports it.

Exit codes: 0 success; 1 a runtime problem (model, store, camera, key); 2 a usage or
configuration error; 3 refused by a rule of the 2025 Measures (for example a private-space
site); 130 interrupted.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from .. import __version__
from ..errors import ConfigError, FacegateError
from .common import EXIT_CONFIG, EXIT_ERROR, EXIT_INTERRUPTED, console

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    from .audit import add_audit_parsers
    from .bench import add_bench_parser
    from .compliance import add_compliance_parsers
    from .compound import add_compound_parsers
    from .config_cmd import add_config_parsers
    from .ctl import add_admin_parsers
    from .daemon import add_daemon_parsers, add_run_parser
    from .demo import add_demo_parser
    from .eval import add_eval_parser
    from .keys import add_keys_parsers
    from .models import add_models_parsers
    from .pad import add_pad_parsers
    from .people import add_people_parsers
    from .receipt import add_receipt_parsers
    from .rights import add_request_parsers
    from .speech import add_speech_parsers
    from .web import add_web_parsers

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
    # The order of the command list in --help.
    add_run_parser(sub)
    add_demo_parser(sub)
    add_config_parsers(sub)
    add_models_parsers(sub)
    add_speech_parsers(sub)
    add_keys_parsers(sub)
    add_people_parsers(sub)
    add_receipt_parsers(sub)
    add_request_parsers(sub)
    add_audit_parsers(sub)
    add_admin_parsers(sub)
    add_compliance_parsers(sub)
    add_eval_parser(sub)
    add_pad_parsers(sub)
    add_bench_parser(sub)
    add_daemon_parsers(sub)
    add_compound_parsers(sub)
    add_web_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    err = console(stderr=True)
    try:
        return func(args)
    except ConfigError as exc:
        err.print(f"error: {exc}", markup=False)
        for line in exc.problems if exc.problems != [str(exc)] else []:
            err.print(f"  {line}", markup=False)
        return EXIT_CONFIG
    except FacegateError as exc:
        err.print(f"error: {exc}", markup=False)
        return EXIT_ERROR
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
