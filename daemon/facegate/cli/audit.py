"""``facegate audit verify|export|repair``: check the audit chain, bundle a period for an
auditor, or drop a crash's incomplete last line with the daemon stopped."""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .common import add_config_arg, console, load

__all__ = [
    "add_audit_parsers",
    "cmd_audit_export",
    "cmd_audit_repair",
    "cmd_audit_verify",
    "parse_date",
]


def parse_date(text: str) -> datetime:
    """``YYYY-MM-DD`` (local midnight) or ISO 8601 (local time unless it has an offset)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date: {text!r} (use YYYY-MM-DD)") from exc
    return value if value.tzinfo else value.astimezone()  # naive: the device's local time


def _folder(args: argparse.Namespace) -> Path:
    from ..audit.signing import audit_folder

    if args.dir is not None:
        return Path(args.dir)
    return audit_folder(load(args.config).store.state_dir)


def _public_key(args: argparse.Namespace) -> list[bytes] | None:
    from ..audit.verify import load_public_keys

    return None if args.pub is None else load_public_keys(args.pub)


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from ..audit.export import verify_bundle
    from ..audit.verify import verify

    out = console()
    keys = _public_key(args)
    if args.bundle is not None:
        report = verify_bundle(args.bundle, keys[0] if keys else None)
        where = str(args.bundle)
    else:
        from ..audit.log import audit_files

        folder = _folder(args)
        if not audit_files(folder):
            console(stderr=True).print(
                f"no audit trail at {folder} (the daemon creates it at its first start)",
                markup=False,
            )
            return 1
        report = verify(folder, keys)
        where = str(folder)
    if report.first_broken is not None:
        b = report.first_broken
        console(stderr=True).print(
            f"[red]BROKEN[/] {where}: {b.file} line {b.line}: {b.reason} "
            f"({report.records} records good before it)"
        )
        return 1
    out.print(
        f"[green]OK[/] {where}: {report.records} records in {report.files} files, seq "
        f"{report.first_seq}..{report.last_seq}, {report.signatures} signatures"
    )
    if report.unsigned_tail:
        out.print(f"note: the last {report.unsigned_tail} records are not signed yet")
    if report.torn_bytes:
        out.print(
            f"intact; the last line is an incomplete write of {report.torn_bytes} bytes (a "
            "crash); `facegate audit repair` removes it"
        )
    return 0


def _daemon_answers(socket_path: Path) -> bool:
    """Something accepts connections on the admin socket (a stale file does not)."""
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(2.0)
        try:
            sock.connect(str(socket_path))
        except OSError:
            return False
    return True


def cmd_audit_repair(args: argparse.Namespace) -> int:
    from ..audit import open_audit_log
    from ..audit.log import audit_files
    from ..audit.signing import audit_folder
    from .common import open_configured_store

    cfg = load(args.config)
    err = console(stderr=True)
    if _daemon_answers(cfg.admin.socket):
        err.print(
            f"refused: the daemon is running (it answers on {cfg.admin.socket}); it repairs the "
            "log itself at start. Stop it first (systemctl stop facegate)",
            markup=False,
        )
        return 1
    folder = audit_folder(cfg.store.state_dir)
    if not audit_files(folder):
        err.print(f"no audit trail at {folder} (the daemon creates it at its first start)")
        return 1
    with open_configured_store(cfg) as store:
        # Opening drops a torn last line and signs a record of the bytes dropped.
        log = open_audit_log(store, cfg.store.state_dir)
        try:
            dropped = log.recovered_bytes
            log.append("audit_repair", dropped_bytes=dropped)
        finally:
            log.close()
    console().print(
        f"repaired {folder}: dropped an incomplete last line of {dropped} bytes (recorded)"
        if dropped
        else f"nothing to repair in {folder}: every line is complete (a repair record was added)"
    )
    return 0


def cmd_audit_export(args: argparse.Namespace) -> int:
    from ..audit.export import export

    end = args.to + timedelta(days=1) if args.to.time() == datetime.min.time() else args.to
    result = export(_folder(args), args.start, end, args.out)
    console().print(
        f"wrote {result.path}: {len(result.files)} files, seq {result.first_seq}.."
        f"{result.last_seq}. Check it with `facegate audit verify --bundle {result.path}`."
    )
    return 0


def add_audit_parsers(sub: Any) -> None:
    """Register ``facegate audit …`` on the top-level subparsers."""
    p = sub.add_parser("audit", help="verify or export the signed audit trail")
    asub = p.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    q = asub.add_parser(
        "verify",
        help="check the hash chain and signatures; exit 1 at the first broken record",
        description="Walks <state_dir>/audit/audit-*.jsonl in order and checks every record's "
        "hash, sequence number, link to the record before, and every batch signature with the "
        "public key in verify.pub (or --pub). Needs no master key.",
    )
    add_config_arg(q)
    q.add_argument("--dir", type=Path, default=None, help="audit folder instead of the config's")
    q.add_argument("--pub", type=Path, default=None, help="trusted public key file (hex lines)")
    q.add_argument("--bundle", type=Path, default=None, help="verify an exported bundle instead")
    q.set_defaults(func=cmd_audit_verify)
    q = asub.add_parser(
        "export",
        help="write a verifiable bundle (.tar.gz) of the records of a period",
        description="Bundles the audit files with records in the period (whole files, the "
        "chain's unit), the public key and a manifest. A bare --to date includes that day.",
    )
    add_config_arg(q)
    q.add_argument("--dir", type=Path, default=None, help="audit folder instead of the config's")
    q.add_argument(
        "--from", dest="start", type=parse_date, required=True, help="YYYY-MM-DD (local time)"
    )
    q.add_argument("--to", type=parse_date, required=True, help="YYYY-MM-DD (inclusive)")
    q.add_argument("--out", type=Path, required=True, help="bundle file to write (.tar.gz)")
    q.set_defaults(func=cmd_audit_export)
    q = asub.add_parser(
        "repair",
        help="drop an incomplete last line left by a crash (daemon stopped)",
        description="Opens the store and the audit log as the daemon does at start: an "
        "incomplete last line (a write cut short by a crash or power loss) is dropped and a "
        "signed record notes how many bytes, then an audit_repair record is appended. Refused "
        "while the daemon runs. Needs the master key.",
    )
    add_config_arg(q)
    q.set_defaults(func=cmd_audit_repair)
