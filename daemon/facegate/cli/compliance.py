"""``facegate compliance check``, ``notice render|hash``, ``pia render``, ``filing report``.

Exit codes: 0 ok; 1 a runtime problem (no CJK font, unreadable store); 2 a configuration or
usage error; 3 a rule of the checklist FAILs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..errors import ConfigError, FacegateError
from .common import add_config_arg, console
from .workflow import add_filing_actions, add_incident_parser, add_pia_sign

if TYPE_CHECKING:
    from collections.abc import Iterable

    from rich.table import Table

    from ..compliance.checks import CheckResult
    from ..config import FacegateConfig
    from ..config.filing import FilingConfig
    from ..config.notice import Language, NoticeConfig

__all__ = ["add_compliance_parsers", "format_table"]

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_ERROR, EXIT_CONFIG = 0, 1, 2
FORMATS = ("pdf", "png", "html", "short", "audio")


def _load(path: Path) -> tuple[FacegateConfig, NoticeConfig | None, FilingConfig]:
    from ..config import load_config

    cfg = load_config(path)
    return cfg, cfg.notice, cfg.filing


def _need_notice(notice: NoticeConfig | None) -> NoticeConfig:
    if notice is None:
        raise ConfigError(
            "the configuration has no notice: section (controller_name, controller_contact, "
            "withdrawal_how, …); see config/example.yaml"
        )
    return notice


def cmd_compliance_check(args: argparse.Namespace) -> int:
    from ..compliance.checks import exit_code, summary
    from ..compliance.device import device_inputs
    from ..compliance.facts import gather_facts

    cfg, notice, filing = _load(args.config)
    facts = gather_facts(cfg, notice=notice, **device_inputs(cfg))
    from ..compliance.checks import run_checks

    results = run_checks(cfg, notice, filing, facts)
    out = console()
    out.print(format_table(results))
    code = exit_code(results)
    out.print(
        f"{summary(results)}: "
        + ("`facegate run` would refuse to start (exit 3)" if code else "ready to start")
    )
    return code


_STYLE = {"PASS": "green", "WARN": "yellow", "FAIL": "bold red"}  # by Status value


def format_table(results: Iterable[CheckResult], *, title: str | None = None) -> Table:
    """The checklist as a rich table: rule, article, status, reason."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=title or "facegate compliance checklist (2025 Measures)")
    table.add_column("rule")
    table.add_column("article", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("reason")
    for r in results:
        table.add_row(
            r.rule_id, r.article, f"[{_STYLE[r.status.value]}]{r.status.value}[/]", escape(r.reason)
        )
    return table


def _format(args: argparse.Namespace) -> str:
    if args.format:
        return cast(str, args.format)
    suffix = args.out.suffix.lower().lstrip(".")
    if suffix in ("pdf", "png", "html"):
        return suffix
    if suffix == "htm":
        return "html"
    raise ConfigError(f"give --format ({'|'.join(FORMATS)}); cannot tell it from {args.out.name}")


def _record(cfg: FacegateConfig, bundle: object) -> str:
    from ..clock import SystemClock
    from ..compliance.notice_text import NoticeBundle
    from ..compliance.records import record_notice

    assert isinstance(bundle, NoticeBundle)
    try:
        rec = record_notice(cfg.store.state_dir, bundle, now=SystemClock().time())
    except FacegateError as exc:
        return f"not recorded ({exc}); render it again as the service user"
    return f"recorded in {rec.path}"


def cmd_notice_render(args: argparse.Namespace) -> int:
    from ..compliance.notice_render import render_notice
    from ..compliance.notice_speech import audio_text, short_text
    from ..compliance.notice_text import build_notice

    cfg, notice, _filing = _load(args.config)
    bundle = build_notice(cfg, _need_notice(notice))
    lang = cast("Language", args.lang)
    if lang not in bundle.languages:
        raise ConfigError(f"notice.languages does not include {lang}")
    fmt = _format(args)
    out: Path = args.out
    if fmt in ("short", "audio"):
        text = short_text(bundle, lang) if fmt == "short" else audio_text(bundle, lang)
        out.write_text(text, encoding="utf-8")
        written = [out]
    else:
        written = render_notice(
            bundle,
            lang,
            fmt,  # type: ignore[arg-type]
            out,
            page=args.size,
            dpi=args.dpi,
        )
    con = console()
    for path in written:
        con.print(f"wrote {path}", markup=False)
    con.print(f"notice version {bundle.version}", markup=False)
    if not args.no_record:
        con.print(_record(cfg, bundle), markup=False)
        if fmt in ("pdf", "png", "html"):
            _note_rendered(cfg, bundle.version, lang, fmt, args.size)
    return EXIT_OK


def _note_rendered(cfg: FacegateConfig, version: str, lang: str, fmt: str, page: str) -> None:
    from ..clock import SystemClock
    from ..compliance.records import note_rendered

    try:
        note_rendered(
            cfg.store.state_dir, version, lang=lang, fmt=fmt, page=page, now=SystemClock().time()
        )
    except FacegateError as exc:
        console(stderr=True).print(f"rendering not noted ({exc})", markup=False)


def cmd_notice_hash(args: argparse.Namespace) -> int:
    from ..compliance.notice_text import build_notice

    cfg, notice, _filing = _load(args.config)
    bundle = build_notice(cfg, _need_notice(notice))
    # Only the hash on stdout: `--notice-version "$(facegate notice hash)"`.
    sys.stdout.write(bundle.version + "\n")
    err = console(stderr=True)
    err.print(f"short form on the sign: {bundle.short_version}", markup=False)
    if args.record:
        err.print(_record(cfg, bundle), markup=False)
    return EXIT_OK


def _write_document(out: Path, md: str, title: str) -> Path:
    from ..compliance.md_pdf import markdown_to_pdf

    suffix = out.suffix.lower()
    if suffix == ".pdf":
        return markdown_to_pdf(md, out, title=title)
    if suffix not in (".md", ".markdown", ".txt"):
        raise ConfigError(f"--out must end in .md or .pdf (got {out.name})")
    out.write_text(md, encoding="utf-8")
    return out


def _document_inputs(args: argparse.Namespace) -> tuple[Any, Any, Any, Any, dt.date]:
    """Configuration, notice, filing, live facts and today's date for a drafted document."""
    from ..compliance.device import device_inputs
    from ..compliance.facts import gather_facts

    cfg, notice, filing = _load(args.config)
    facts = gather_facts(cfg, notice=notice, **device_inputs(cfg))
    return cfg, notice, filing, facts, dt.date.today()


def cmd_pia_render(args: argparse.Namespace) -> int:
    from ..compliance.documents import pia_markdown

    cfg, notice, filing, facts, today = _document_inputs(args)
    md = pia_markdown(cfg, notice, filing, facts, today=today)
    path = _write_document(args.out, md, f"PIA draft {today.isoformat()}")
    console().print(
        f"wrote {path}: a draft dated {today.isoformat()}; complete every 【待填写 / TO FILL】, "
        "sign it, and keep it with the processing records for at least three years",
        markup=False,
    )
    return EXIT_OK


def cmd_filing_report(args: argparse.Namespace) -> int:
    from ..compliance.documents import filing_markdown

    cfg, notice, filing, facts, today = _document_inputs(args)
    md = filing_markdown(cfg, notice, filing, facts, today=today)
    path = _write_document(args.out, md, f"Filing draft {today.isoformat()}")
    console().print(
        f"wrote {path}: {facts.people_with_face} people with a stored face "
        f"(threshold {filing.threshold}); complete every 【待填写 / TO FILL】",
        markup=False,
    )
    return EXIT_OK


def add_compliance_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``compliance``, ``notice``, ``pia`` and ``filing`` on the top-level parser."""
    p = sub.add_parser("compliance", help="the 2025 Measures start-up checklist")
    csub = p.add_subparsers(dest="compliance_command", metavar="ACTION", required=True)
    q = csub.add_parser(
        "check",
        help="run the start-up checklist and print PASS / WARN / FAIL per rule",
        description="The same checks `facegate run` does before it opens anything. Exit 0 "
        "when nothing FAILs, 3 when a rule FAILs, 2 on a configuration error.",
    )
    add_config_arg(q)
    q.set_defaults(func=cmd_compliance_check)

    p = sub.add_parser("notice", help="the notice sign at the gate (Art. 5)")
    nsub = p.add_subparsers(dest="notice_command", metavar="ACTION", required=True)
    q = nsub.add_parser(
        "render",
        help="print the notice as PDF, PNG or HTML, or as short / audio text",
        description="Renders the sign from the configuration (notice:, site:, retention:, "
        "face_zone:, enrollment:, calendar:) and records its version, and that a sign of it was "
        "rendered, in the state folder (consent records name that version; the checklist FAILs "
        "a version never rendered). PDF and PNG need a CJK font (Debian: fonts-wqy-microhei or "
        "fonts-noto-cjk).",
    )
    add_config_arg(q)
    q.add_argument("--format", choices=FORMATS, default=None, help="default: from the --out suffix")
    q.add_argument("--lang", choices=["zh-CN", "en"], default="zh-CN", help="default zh-CN")
    q.add_argument(
        "--size",
        choices=["A3", "A4", "A5"],
        default="A3",
        help="paper: A3 the sign to post (default), A4 or A5 hand-outs",
    )
    q.add_argument("--dpi", type=int, choices=range(50, 601), default=150, metavar="50-600",
                   help="PNG resolution (default 150)")  # fmt: skip
    q.add_argument("--out", type=Path, required=True, help="file to write")
    q.add_argument("--no-record", action="store_true", help="do not record the version")
    q.set_defaults(func=cmd_notice_render)
    q = nsub.add_parser(
        "hash",
        help="print the notice version (give it to `facegate enroll --notice-version`)",
    )
    add_config_arg(q)
    q.add_argument("--record", action="store_true", help="record this version as posted")
    q.set_defaults(func=cmd_notice_hash)

    p = sub.add_parser("pia", help="the personal-information impact assessment (Art. 9)")
    psub = p.add_subparsers(dest="pia_command", metavar="ACTION", required=True)
    q = psub.add_parser(
        "render",
        help="draft the impact assessment from the config and live state (.md or .pdf)",
    )
    add_config_arg(q)
    q.add_argument("--out", type=Path, required=True, help="FILE.md or FILE.pdf")
    q.set_defaults(func=cmd_pia_render)
    add_pia_sign(psub)

    p = sub.add_parser("filing", help="filing with the provincial CAC (Art. 15)")
    fsub = p.add_subparsers(dest="filing_command", metavar="ACTION", required=True)
    q = fsub.add_parser(
        "report",
        help="draft the filing materials from the config and live state (.md or .pdf)",
    )
    add_config_arg(q)
    q.add_argument("--out", type=Path, required=True, help="FILE.md or FILE.pdf")
    q.set_defaults(func=cmd_filing_report)
    add_filing_actions(fsub)
    add_incident_parser(sub)
