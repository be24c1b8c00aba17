"""``facegate person find|export|update|reconsent|reconsent-due|consent-form`` and
``facegate request record|list|answer``: a person's rights (PIPL Art. 44-50) and consent
renewal (Art. 14). Through the running daemon when it answers, else on the store directly."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from .common import (
    add_config_arg,
    audit_direct,
    console,
    daemon_client,
    load,
    open_configured_store,
)

if TYPE_CHECKING:
    from ..config import FacegateConfig

__all__ = ["add_person_rights_parsers", "add_request_parsers"]


def _date(value: str) -> float:
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date like 2027-06-30") from None
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=dt.UTC).timestamp()


def _day(ts: float | None) -> str:
    return "-" if ts is None else dt.datetime.fromtimestamp(ts, dt.UTC).date().isoformat()


def _call(cfg: FacegateConfig, command: str, **args: Any) -> dict[str, Any] | None:
    client = daemon_client(cfg)
    if client is None:
        return None
    reply: dict[str, Any] = client.call(command, **{k: v for k, v in args.items() if v is not None})
    return reply


def _direct_error(exc: Exception) -> ConfigError:
    return ConfigError(str(exc))


def cmd_find(args: argparse.Namespace) -> int:
    from ..store.people_index import find_people

    if args.name is None and args.unit is None:
        raise ConfigError("give --name and/or --unit to look for")
    cfg = load(args.config)
    reply = _call(cfg, "person.find", name=args.name, unit=args.unit)
    if reply is None:
        with open_configured_store(cfg) as store:
            try:
                found = find_people(store, name=args.name, unit=args.unit)
            except ValueError as exc:
                raise _direct_error(exc) from None
        people = [
            {"person": p, "name": i.name if i else None, "unit": i.unit if i else None}
            for p, i in found
        ]
    else:
        people = reply["people"]
    out = console()
    for p in people:
        out.print(f"{p['person']}\t{p['name'] or ''}\t{p['unit'] or ''}", markup=False)
    out.print(f"{len(people)} found (exact match after normalising case, width and spaces)")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from ..service.rights import export_document

    cfg = load(args.config)
    reply = _call(cfg, "person.export", person=args.person, lang=args.lang)
    if reply is None:
        with open_configured_store(cfg) as store:
            reply = export_document(store, cfg, args.person, args.lang)
            audit_direct(cfg, store, "export", args.person)
    out = console()
    for line in reply["lines"]:
        out.print(line, markup=False)
    if args.out is not None:
        doc = {
            "document": reply["document"],
            "signature": reply["signature"],
            "public_key": reply["public_key"],
        }
        args.out.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
        out.print(f"wrote {args.out} (signed; hand it to the person)", markup=False)
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    from ..service.rights import check_correction
    from ..store.rights import Correction, correct_person

    fix = Correction(args.name, args.unit, args.phone, args.birth_year, args.valid_until)
    if all(
        v is None for v in (args.name, args.unit, args.phone, args.birth_year, args.valid_until)
    ):
        raise ConfigError(
            "give what to correct: --name, --unit, --phone, --birth-year, --valid-until"
        )
    cfg = load(args.config)
    reply = _call(
        cfg,
        "person.update",
        person=args.person,
        name=args.name,
        unit=args.unit,
        phone=args.phone,
        birth_year=args.birth_year,
        valid_until=args.valid_until,
    )
    if reply is None:
        with open_configured_store(cfg) as store:
            check_correction(cfg, fix, store.clock.time())
            changed = correct_person(store, args.person, fix, minor_age=cfg.enrollment.minor_age)
            audit_direct(cfg, store, "correction", args.person)
    else:
        changed = reply["changed"]
    console().print(f"corrected {args.person}: {', '.join(changed)} (recorded)", markup=False)
    return 0


def cmd_reconsent(args: argparse.Namespace) -> int:
    from ..service.rights import renewal_input
    from ..store.rights import renew_consent

    cfg = load(args.config)
    fields = {
        "notice_version": args.notice_version,
        "consent_method": args.consent_method,
        "taken_by": args.taken_by,
        "consent_ref": args.consent_ref,
        "scope": args.scope,
    }
    reply = _call(cfg, "person.reconsent", person=args.person, **fields)
    if reply is None:
        consent = renewal_input(cfg, fields)
        with open_configured_store(cfg) as store:
            consent_id = renew_consent(store, args.person, consent)
            audit_direct(cfg, store, "consent", args.person)
    else:
        consent_id = reply["consent"]
    console().print(f"{args.person}: consent {consent_id} under the current notice", markup=False)
    if args.scope:
        console().print(
            f"on a compound's office node, `facegate compound send {args.person}` now takes the "
            "face off the gates the new scope leaves out (with their signed receipts)",
            markup=False,
        )
    return 0


def cmd_reconsent_due(args: argparse.Namespace) -> int:
    from ..service.rights import renewals_due

    cfg = load(args.config)
    reply = _call(cfg, "person.reconsent_due")
    if reply is None:
        with open_configured_store(cfg) as store:
            reply = renewals_due(store, cfg)
    out = console()
    if reply["current"] is None:
        out.print("no notice is recorded as posted: nobody can consent yet")
        return 0
    if not reply["people"]:
        current = reply["current"][:16]
        out.print(f"everyone with a face consented under the notice posted now ({current})")
        return 0
    for p in reply["people"]:
        out.print(
            f"{p['person']}\tconsent {p['consent']} of {_day(p['given_at'])}\t"
            f"notice {p['notice_version'][:16]}",
            markup=False,
        )
    out.print(
        f"{len(reply['people'])} people consented under an older notice; their face expires on "
        f"{_day(reply['deadline'])} unless they consent again (`facegate person reconsent`)",
        markup=False,
    )
    return 0


def cmd_consent_form(args: argparse.Namespace) -> int:
    from ..compliance.consent_form import write_consent_form
    from ..compliance.notice_text import build_notice
    from ..compliance.records import current_notice

    cfg = load(args.config)
    if cfg.notice is None:
        raise ConfigError("the configuration has no notice: section; the form quotes the notice")
    bundle = build_notice(cfg)
    posted = current_notice(cfg.store.state_dir)
    if posted is None or posted.version != bundle.version:
        raise ConfigError(
            "the notice in the configuration is not the one recorded as posted: render the sign "
            "(`facegate notice render`) or run `facegate notice hash --record` first"
        )
    path = write_consent_form(bundle, cfg, args.out, page=args.size)
    console().print(
        f"wrote {path}: consent form for notice {bundle.version[:16]} (zh-CN and English); "
        "enrol with --consent-method paper-form and this notice version",
        markup=False,
    )
    return 0


def cmd_request_record(args: argparse.Namespace) -> int:
    from ..service.rights import request_due
    from ..store.requests import record_request

    cfg = load(args.config)
    reply = _call(
        cfg,
        "request.record",
        kind=args.kind,
        channel=args.channel,
        recorded_by=args.by,
        person=args.person,
        received_at=args.received,
    )
    if reply is None:
        from ..clock import SystemClock

        received = args.received if args.received is not None else SystemClock().time()
        due = request_due(cfg, received)
        with open_configured_store(cfg) as store:
            rid = record_request(
                store,
                kind=args.kind,
                pseudonym=args.person,
                channel=args.channel,
                received_at=received,
                due_at=due,
                recorded_by=args.by,
            )
        reply = {"request": rid, "due_at": due}
    console().print(
        f"recorded {reply['request']}: answer by {_day(reply['due_at'])} "
        f"({cfg.rights.response_working_days} working days)",
        markup=False,
    )
    return 0


def cmd_request_list(args: argparse.Namespace) -> int:
    from ..service.rights import request_rows

    cfg = load(args.config)
    reply = _call(cfg, "request.list", open_only=args.open)
    if reply is None:
        with open_configured_store(cfg) as store:
            rows = request_rows(store, cfg, open_only=args.open)
    else:
        rows = reply["requests"]
    print("request\tkind\tperson\treceived\tdue\tanswered\tby\toutcome\tlate")
    for r in rows:
        print(
            f"{r['request']}\t{r['kind']}\t{r['person'] or '-'}\t{_day(r['received_at'])}\t"
            f"{_day(r['due_at'])}\t{_day(r['answered_at'])}\t{r['answered_by'] or '-'}\t"
            f"{r['outcome'] or '-'}\t{'OVERDUE' if r['overdue'] else ''}"
        )
    late = sum(1 for r in rows if r["overdue"])
    console(stderr=True).print(f"{len(rows)} requests, {late} past their deadline")
    return 0


def cmd_request_answer(args: argparse.Namespace) -> int:
    from ..store.requests import answer_request

    cfg = load(args.config)
    reply = _call(
        cfg, "request.answer", request=args.request, answered_by=args.by, outcome=args.outcome
    )
    if reply is None:
        with open_configured_store(cfg) as store:
            answer_request(store, args.request, answered_by=args.by, outcome=args.outcome)
    console().print(f"{args.request} answered ({args.outcome}) by {args.by}", markup=False)
    return 0


def _operator(value: str) -> str:
    from ..service.enrol_request import OPERATOR_ID

    if not OPERATOR_ID.fullmatch(value):
        raise argparse.ArgumentTypeError("an operator id: letters, digits, . _ @ - (up to 64)")
    return value


def add_person_rights_parsers(psub: Any) -> None:
    """``person find|export|update|reconsent|reconsent-due|consent-form``."""
    q = psub.add_parser(
        "find",
        help="find a person by name and/or unit (admin; decrypts only the matches)",
        description="Exact match after normalising case, full/half width, spaces and "
        "punctuation, through a keyed blind index: no one else's identity is decrypted.",
    )
    add_config_arg(q)
    q.add_argument("--name", help="the person's name")
    q.add_argument("--unit", help="the person's unit")
    q.set_defaults(func=cmd_find)

    q = psub.add_parser(
        "export",
        help="a signed copy of everything held about a person (access and copy)",
        description="Identity, consents, face template count and expiry, PIN/card kinds and "
        "recent entries, signed with the device's audit key (verify with audit/verify.pub).",
    )
    add_config_arg(q)
    q.add_argument("person", help="the person's pseudonym (p-…)")
    q.add_argument("--lang", choices=["zh-CN", "en"], default="zh-CN", help="default zh-CN")
    q.add_argument("--out", type=Path, default=None, help="also write the signed JSON here")
    q.set_defaults(func=cmd_export)

    q = psub.add_parser("update", help="correct a person's name, unit, phone, birth year, validity")
    add_config_arg(q)
    q.add_argument("person", help="the person's pseudonym (p-…)")
    q.add_argument("--name", help="corrected name ('' clears it)")
    q.add_argument("--unit", help="corrected unit ('' clears it)")
    q.add_argument("--phone", help="corrected phone ('' clears it)")
    q.add_argument("--birth-year", type=int, help="corrected birth year")
    q.add_argument(
        "--valid-until",
        type=_date,
        metavar="YYYY-MM-DD",
        help="new end of access (the face and PIN/card end then too)",
    )
    q.set_defaults(func=cmd_update)

    q = psub.add_parser("reconsent", help="record a person's consent under the notice posted now")
    add_config_arg(q)
    q.add_argument("person", help="the person's pseudonym (p-…)")
    q.add_argument("--notice-version", required=True, help="`facegate notice hash`")
    q.add_argument(
        "--consent-method", required=True, help="paper-form, e-signature or tablet-signature"
    )
    q.add_argument("--taken-by", required=True, help="id of the operator who took it")
    q.add_argument(
        "--consent-ref", required=True, help="number of the signed form, or the e-signature's id"
    )
    q.add_argument("--scope", help="doors covered (default: all doors)")
    q.set_defaults(func=cmd_reconsent)

    q = psub.add_parser(
        "reconsent-due",
        help="people who consented under an older notice, and when their face expires",
    )
    add_config_arg(q)
    q.set_defaults(func=cmd_reconsent_due)

    q = psub.add_parser(
        "consent-form",
        help="print the consent form (PDF, zh-CN and English) with the posted notice's hash",
        description="Needs a CJK font (Debian: fonts-noto-cjk or fonts-wqy-microhei).",
    )
    add_config_arg(q)
    q.add_argument("--out", type=Path, required=True, help="FILE.pdf")
    q.add_argument("--size", choices=["A4", "A5"], default="A4", help="paper (default A4)")
    q.set_defaults(func=cmd_consent_form)


def add_request_parsers(sub: Any) -> None:
    """``request record|list|answer``: the rights-request log."""
    from ..store.requests import CHANNELS, KINDS, OUTCOMES

    p = sub.add_parser(
        "request", help="log of rights requests (access, copy, correction, deletion…)"
    )
    rsub = p.add_subparsers(dest="request_command", metavar="ACTION", required=True)
    q = rsub.add_parser("record", help="log a request as received; prints its deadline")
    add_config_arg(q)
    q.add_argument("--kind", choices=KINDS, required=True, help="what the person asks")
    q.add_argument("--channel", choices=CHANNELS, required=True, help="how it arrived")
    q.add_argument("--by", type=_operator, required=True, help="id of the operator logging it")
    q.add_argument("--person", help="the person's pseudonym, when known (p-…)")
    q.add_argument(
        "--received", type=_date, metavar="YYYY-MM-DD", help="day received (default: now)"
    )
    q.set_defaults(func=cmd_request_record)
    q = rsub.add_parser("list", help="requests with received, due, answered, by whom, late")
    add_config_arg(q)
    q.add_argument("--open", action="store_true", help="only unanswered requests")
    q.set_defaults(func=cmd_request_list)
    q = rsub.add_parser("answer", help="mark a request answered")
    add_config_arg(q)
    q.add_argument("request", help="the request id (r-…)")
    q.add_argument("--by", type=_operator, required=True, help="id of the operator answering")
    q.add_argument("--outcome", choices=OUTCOMES, required=True, help="how it was answered")
    q.set_defaults(func=cmd_request_answer)
