"""``facegate person list|withdraw|delete`` (``enroll`` is in :mod:`.enroll`; find, export,
update, reconsent and consent-form in :mod:`.rights`)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

from rich.table import Table

from .common import (
    add_config_arg,
    audit_direct,
    console,
    daemon_client,
    load,
    open_configured_store,
)
from .receipt import print_receipt as _print_receipt

__all__ = ["add_people_parsers"]


def cmd_person_list(args: argparse.Namespace) -> int:
    from ..store import list_people, spaces_by_person

    cfg = load(args.config)
    table = Table(title="people (pseudonymous)")
    columns = ["person", "face", "PIN/card", "consent", "minor", "face expires"]
    if args.show_names:
        columns += ["name", "unit", "phone"]
    for col in columns:
        if col == "person":  # ids are typed back into commands: never truncate them
            table.add_column(col, no_wrap=True, min_width=18)
        else:
            table.add_column(col, overflow="fold")
    client = daemon_client(cfg)
    if client is not None:
        from ..store import Identity, PersonSummary

        reply = client.call("person.list", show_names=args.show_names)
        people = [
            PersonSummary(
                p["person"],
                0.0,
                p["templates"],
                p["face_expires_at"],
                tuple(p["credentials"]),
                p["consent"],
                p["minor"],
                Identity(p.get("name"), p.get("unit"), p.get("phone")) if args.show_names else None,
            )
            for p in reply["people"]
        ]
        spaces = {p["person"]: tuple(p.get("spaces", ())) for p in reply["people"]}
    else:
        with open_configured_store(cfg) as store:
            people = list_people(store, show_names=args.show_names)
            spaces = spaces_by_person(store)
    from ..vision.registry import embedding_space

    space = embedding_space(cfg)  # issue 20: faces from another embedder must enrol again
    reenrol = {
        p.pseudonym: ", ".join(spaces.get(p.pseudonym, ()))
        for p in people
        if p.templates and space not in spaces.get(p.pseudonym, ())
    }
    rows: list[list[str]] = []
    for p in people:
        expiry = (
            "-"
            if p.face_expires_at is None
            else dt.datetime.fromtimestamp(p.face_expires_at, dt.UTC).date().isoformat()
        )
        row = [
            p.pseudonym,
            (
                f"{p.templates} template(s)"
                + (f", re-enrol ({reenrol[p.pseudonym]})" if p.pseudonym in reenrol else "")
                if p.templates
                else "-"
            ),
            ", ".join(p.credentials) or "-",
            p.consent,
            "yes" if p.minor else "",
            expiry,
        ]
        if args.show_names:
            ident = p.identity
            row += [
                (ident.name or "") if ident else "",
                (ident.unit or "") if ident else "",
                (ident.phone or "") if ident else "",
            ]
        rows.append(row)
    if sys.stdout.isatty():
        for row in rows:
            table.add_row(*row)
        console().print(table)
    else:  # piped: one tab-separated line per person, nothing folded or cut
        print("\t".join(columns))
        for row in rows:
            print("\t".join(row))
    with_face = sum(1 for p in people if p.templates)
    console().print(f"{len(people)} people, {with_face} with a stored face")
    if reenrol:
        console().print(
            f"{len(reenrol)} must enrol their face again: their templates are from another "
            f"embedder than the configured one ({space}) and are not matched",
            markup=False,
        )
    return 0


def cmd_person_withdraw(args: argparse.Namespace) -> int:
    from ..store import withdraw

    cfg = load(args.config)
    client = daemon_client(cfg)
    if client is not None:
        reply = client.call(
            "person.withdraw", person=args.person, remove_credentials=args.remove_credentials
        )
        _print_receipt(
            reply["lines"], reply["receipt"], args.receipt, reply["signature"], reply["public_key"]
        )
        return 0
    with open_configured_store(cfg) as store:
        receipt = withdraw(store, args.person, remove_credentials=args.remove_credentials)
        audit_direct(cfg, store, "withdrawal", args.person)
        signature, public_key = receipt.signed(store)
    lines = receipt.lines(cfg.calendar.timezone)
    _print_receipt(lines, receipt.to_json(), args.receipt, signature, public_key)
    return 0


def cmd_person_delete(args: argparse.Namespace) -> int:
    from ..store import delete_person

    cfg = load(args.config)
    client = daemon_client(cfg)
    if client is not None:
        reply = client.call("person.delete", person=args.person)
        _print_receipt(
            reply["lines"], reply["receipt"], args.receipt, reply["signature"], reply["public_key"]
        )
        return 0
    with open_configured_store(cfg) as store:
        receipt = delete_person(store, args.person)
        if receipt is not None:
            audit_direct(cfg, store, "deletion", args.person)
            signature, public_key = receipt.signed(store)
    if receipt is None:
        console(stderr=True).print(f"error: no person {args.person}")
        return 1
    lines = receipt.lines(cfg.calendar.timezone)
    _print_receipt(lines, receipt.to_json(), args.receipt, signature, public_key)
    return 0


def add_people_parsers(sub: Any) -> None:
    from .enroll import add_enroll_parser

    add_enroll_parser(sub)  # first: the command list's order

    p = sub.add_parser(
        "person", help="list, find, export, correct, withdraw, delete; consent forms and renewal"
    )
    psub = p.add_subparsers(dest="person_command", metavar="ACTION", required=True)
    q = psub.add_parser("list", help="pseudonyms, credentials, consent state and expiry")
    add_config_arg(q)
    q.add_argument(
        "--show-names",
        action="store_true",
        help="decrypt and show names, units and phones (admin's terminal only)",
    )
    q.set_defaults(func=cmd_person_list)
    q = psub.add_parser(
        "withdraw",
        help="withdraw face consent: delete the face now, keep PIN/card",
        description="Deletes every face template of the person at once (one transaction, then "
        "the WAL is checkpointed so no copy remains), marks the consent withdrawn, and prints "
        "a deletion receipt. PIN and card entry keep working unless --remove-credentials.",
    )
    add_config_arg(q)
    q.add_argument("person", help="the person's pseudonym (p-…)")
    q.add_argument("--remove-credentials", action="store_true", help="also delete PIN/card")
    q.add_argument("--receipt", type=Path, default=None, help="also write the receipt (JSON)")
    q.set_defaults(func=cmd_person_withdraw)
    q = psub.add_parser("delete", help="delete everything of a person (receipt printed)")
    add_config_arg(q)
    q.add_argument("person", help="the person's pseudonym (p-…)")
    q.add_argument("--receipt", type=Path, default=None, help="also write the receipt (JSON)")
    q.set_defaults(func=cmd_person_delete)
    from .rights import add_person_rights_parsers

    add_person_rights_parsers(psub)  # find, export, update, reconsent, consent-form
