"""Deletion and withdrawal receipts: printed and written by ``person withdraw|delete``,
checked by ``facegate receipt verify FILE``.

A receipt file is one JSON object: ``receipt`` (what was deleted, as an object), ``signature``
(Ed25519 over the receipt's canonical JSON, hex) and ``public_key`` (the device's audit key,
hex). Files written before this format held ``receipt`` as a JSON string; both verify.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .common import EXIT_ERROR, EXIT_OK, add_config_arg, console, load

__all__ = ["add_receipt_parsers", "canonical", "print_receipt"]


def canonical(receipt: dict[str, Any]) -> bytes:
    """The signed bytes: what ``Receipt.to_json`` produced when it was signed."""
    return json.dumps(receipt, sort_keys=True).encode("utf-8")


def print_receipt(
    lines: list[str], receipt_json: str, path: Path | None, signature: str, public_key: str
) -> None:
    out = console()
    for line in lines:
        out.print(line, markup=False)
    out.print(f"  signature: {signature}", markup=False)
    out.print(f"  device key: {public_key} (Ed25519, also in the audit's verify.pub)")
    if path is not None:
        receipt = json.loads(receipt_json)
        if canonical(receipt) != receipt_json.encode("utf-8"):  # never write what cannot verify
            raise ValueError("the receipt's JSON is not canonical; cannot write it as an object")
        document = {"receipt": receipt, "signature": signature, "public_key": public_key}
        path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        out.print(f"receipt written to {path} (check it with `facegate receipt verify {path}`)")


def _read(path: Path) -> tuple[dict[str, Any], bytes, bytes, bytes]:
    """The receipt, its signed bytes, the signature and the key named in the file."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        body = document["receipt"]
        if isinstance(body, str):  # the first format: the signed JSON as a string
            signed, receipt = body.encode("utf-8"), json.loads(body)
        else:
            signed, receipt = canonical(body), body
        signature = bytes.fromhex(document["signature"])
        key = bytes.fromhex(document.get("public_key", ""))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{path}: not a facegate receipt ({exc})") from None
    if not isinstance(receipt, dict):
        raise ConfigError(f"{path}: not a facegate receipt")
    return receipt, signed, signature, key


def _trusted_keys(args: argparse.Namespace) -> tuple[list[bytes], Path]:
    from ..audit.log import PUBLIC_KEY_FILE
    from ..audit.signing import audit_folder
    from ..audit.verify import load_public_keys

    path = args.pub or audit_folder(load(args.config).store.state_dir) / PUBLIC_KEY_FILE
    try:
        return load_public_keys(path), path
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read the device's public key ({exc.strerror}); give it with --pub"
        ) from None
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def cmd_receipt_verify(args: argparse.Namespace) -> int:
    from nacl.exceptions import BadSignatureError
    from nacl.signing import VerifyKey

    receipt, signed, signature, named = _read(args.file)
    keys, where = _trusted_keys(args)
    out = console()
    for key in keys:
        try:
            VerifyKey(key).verify(signed, signature)
        except (BadSignatureError, ValueError):
            continue
        break
    else:
        console(stderr=True).print(
            f"[red]NOT VALID[/] {args.file}: the signature does not verify with any key in "
            f"{where}" + ("" if named in keys else " (the file names a key this device never had)"),
        )
        return EXIT_ERROR
    title = {"withdrawal": "consent withdrawal", "deletion": "deletion"}.get(
        str(receipt.get("kind")), str(receipt.get("kind"))
    )
    at = receipt.get("at")
    when = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if at else "-"
    out.print(f"[green]VALID[/] {args.file}: signed by the device key {key.hex()[:16]}…")
    out.print(f"  this device attests a {title}:", markup=False)
    out.print(f"  person:    {receipt.get('pseudonym', '-')}", markup=False)
    out.print(f"  consent:   {', '.join(receipt.get('consent_ids') or []) or '-'}", markup=False)
    out.print(f"  time:      {when}", markup=False)
    for what, n in (receipt.get("deleted") or {}).items():
        out.print(f"  deleted:   {n} {what}", markup=False)
    for what in receipt.get("kept") or []:
        out.print(f"  kept:      {what}", markup=False)
    return EXIT_OK


def add_receipt_parsers(sub: Any) -> None:
    p = sub.add_parser("receipt", help="check a deletion or withdrawal receipt")
    rsub = p.add_subparsers(dest="receipt_command", metavar="ACTION", required=True)
    q = rsub.add_parser(
        "verify",
        help="check a receipt's signature with this device's public key; exit 1 if invalid",
        description="Checks the Ed25519 signature of a receipt written by `person withdraw` or "
        "`person delete --receipt FILE` against the device's public key (the audit's "
        "verify.pub, or --pub), then prints what it attests. Needs no master key.",
    )
    add_config_arg(q)
    q.add_argument("file", type=Path, help="the receipt (JSON)")
    q.add_argument(
        "--pub", type=Path, default=None, help="trusted public key file (hex lines) instead"
    )
    q.set_defaults(func=cmd_receipt_verify)
