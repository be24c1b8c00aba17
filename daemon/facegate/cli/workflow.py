"""``facegate pia sign``, ``incident record``, ``filing record|change|cancel``.

Each writes the compliance ledger (``<state_dir>/compliance/ledger.json``) and a record in
the signed audit trail. The audit trail has one writer: with the daemon running these
commands refuse (exit 1) and say to stop it first, so the chain never forks.
"""

from __future__ import annotations

import argparse
import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, FacegateError
from .common import add_config_arg, console, load, open_configured_store

if TYPE_CHECKING:
    from ..config import FacegateConfig

__all__ = ["add_filing_actions", "add_incident_parser", "add_pia_sign"]

_STAFF = re.compile(r"^[\w .@'’()\-\u3400-\u9fff]{1,64}$")


def _staff(value: str) -> str:
    if not _STAFF.match(value):
        raise argparse.ArgumentTypeError("1-64 letters, digits, spaces or . @ ' ( ) -")
    return value


def _line(value: str) -> str:
    if not value.strip() or len(value) > 200 or any(ord(c) < 32 for c in value):
        raise argparse.ArgumentTypeError("one line of 1-200 characters")
    return value.strip()


def _audited(cfg: FacegateConfig, kind: str, **fields: Any) -> None:
    """Append one audit record with the daemon stopped (this command is the one writer)."""
    from ..audit import open_audit_log
    from ..compliance.device import daemon_answers

    if daemon_answers(cfg.admin.socket):
        raise FacegateError(
            "the daemon is running and is the audit trail's only writer: stop it "
            "(systemctl stop facegate), run this again, then start it"
        )
    with open_configured_store(cfg) as store:
        log = open_audit_log(store, cfg.store.state_dir)
        try:
            log.append(kind, **fields)
        finally:
            log.close()


def _grouped(hex_digest: str) -> str:
    """A hash for the audit trail in groups of four (the trail refuses long digit runs)."""
    return "-".join(hex_digest[i : i + 4] for i in range(0, len(hex_digest), 4))


def _now() -> float:
    from ..clock import SystemClock

    return SystemClock().time()


def cmd_pia_sign(args: argparse.Namespace) -> int:
    from ..compliance.ledger import Ledger, processing_scope

    cfg = load(args.config)
    path: Path = args.file
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    if b"\xe3\x80\x90\xe5\xbe\x85\xe5\xa1\xab\xe5\x86\x99" in data:  # 【待填写 left in
        raise ConfigError(f"{path.name} still has 【待填写 / TO FILL】 fields: complete them first")
    digest = hashlib.sha256(data).hexdigest()
    scope = processing_scope(cfg)
    _audited(cfg, "pia_signed", sha256=_grouped(digest), scope=_grouped(scope), role=args.role)
    entry = Ledger(cfg.store.state_dir).add_pia(
        sha256=digest, scope=scope, approved_by=args.by, role=args.role, at=_now()
    )
    console().print(
        f"impact assessment {digest[:16]} approved ({args.role}) for processing scope {scope}; "
        f"recorded at {entry['at']:.0f} and audited",
        markup=False,
    )
    return 0


def cmd_incident_record(args: argparse.Namespace) -> int:
    from ..compliance.incident import notification_markdown
    from ..compliance.ledger import Ledger

    cfg = load(args.config)
    at = _now()
    ledger = Ledger(cfg.store.state_dir)
    incident_id = f"INC-{len(ledger.data['incidents']) + 1:04d}"
    _audited(cfg, "incident", incident=incident_id, category=args.kind, affected=args.affected)
    ledger.add_incident(at=at, kind=args.kind, summary=args.summary, affected=args.affected)
    md = notification_markdown(
        cfg, incident_id=incident_id, kind=args.kind, at=at, affected=args.affected
    )
    args.out.write_text(md, encoding="utf-8")
    con = console()
    con.print(f"incident {incident_id} recorded and audited", markup=False)
    con.print(
        f"wrote {args.out}: the PIPL Art. 57 notification drafted in zh-CN and English; "
        "complete every 【待填写 / TO FILL】, take remedial measures at once, and notify the "
        "cyberspace administration and the people affected. The start-up checklist now asks "
        "for a new impact assessment (`facegate pia sign`).",
        markup=False,
    )
    return 0


def cmd_filing_action(args: argparse.Namespace) -> int:
    import datetime as dt

    from ..compliance.device import local_today
    from ..compliance.ledger import Ledger, processing_scope

    cfg = load(args.config)
    action = {"record": "filed", "change": "changed", "cancel": "cancelled"}[args.filing_command]
    reference = getattr(args, "reference", None)
    on: dt.date = args.date or local_today(cfg)
    scope = processing_scope(cfg)
    _audited(cfg, "filing", action=action, scope=_grouped(scope), on=on.isoformat())
    Ledger(cfg.store.state_dir).add_filing(
        action, on=on, at=_now(), scope=scope, reference=reference, note=args.note
    )
    console().print(f"filing {action} on {on.isoformat()} recorded and audited", markup=False)
    return 0


def add_pia_sign(psub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    q = psub.add_parser(
        "sign",
        help="record who approved which completed impact assessment (its SHA-256), and when",
        description="Hashes the completed, approved PIA file (no 【待填写 / TO FILL】 left) and "
        "records the hash, the approver and the current processing scope in the compliance "
        "ledger and the audit trail. The start-up checklist WARNs until a signed PIA covers "
        "the current purpose and method, and again after a recorded incident. With the daemon "
        "stopped (the audit trail has one writer).",
    )
    add_config_arg(q)
    q.add_argument("file", type=Path, help="the completed PIA (.md or .pdf)")
    q.add_argument("--by", type=_staff, required=True, help="who approved it (staff name or ID)")
    q.add_argument("--role", type=_staff, default="PI protection officer", help="their role")
    q.set_defaults(func=cmd_pia_sign)


def add_filing_actions(fsub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    import datetime as dt

    def date(text: str) -> dt.date:
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise argparse.ArgumentTypeError("YYYY-MM-DD") from None

    for name, help_text in (
        ("record", "record the filing made with the provincial CAC and its reference"),
        ("change", "record a change filing (purpose or method changed since filing)"),
        ("cancel", "record a cancellation filing (face processing has ended)"),
    ):
        q = fsub.add_parser(
            name,
            help=help_text,
            description=help_text + "; audited. With "
            "the daemon stopped (the audit trail has one writer).",
        )
        add_config_arg(q)
        if name == "record":
            q.add_argument("--reference", type=_staff, required=True, help="the filing number")
        q.add_argument("--date", type=date, default=None, help="YYYY-MM-DD (default today)")
        q.add_argument("--note", type=_line, default=None, help="a short note")
        q.set_defaults(func=cmd_filing_action)


def add_incident_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from ..compliance.incident import INCIDENT_KINDS

    p = sub.add_parser("incident", help="security incidents (PIPL Art. 57)")
    isub = p.add_subparsers(dest="incident_command", metavar="ACTION", required=True)
    q = isub.add_parser(
        "record",
        help="record an incident and draft the Art. 57 notification (zh-CN and English)",
        description="Records the incident in the compliance ledger and the audit trail (with "
        "the daemon stopped) and writes the notification draft to --out. The start-up "
        "checklist then asks for a new impact assessment.",
    )
    add_config_arg(q)
    q.add_argument("--kind", choices=sorted(INCIDENT_KINDS), required=True)
    q.add_argument("--summary", type=_line, required=True, help="one line, kept in the ledger")
    q.add_argument("--affected", type=int, default=None, help="people affected, if known")
    q.add_argument("--out", type=Path, required=True, help="notification draft (.md)")
    q.set_defaults(func=cmd_incident_record)
