"""Audit record format: canonical bytes, the hash chain, signatures and field rules.

A record is one JSON object per line. Its *canonical bytes* are the object without its own
``hash`` field, serialized with sorted keys and no whitespace; ``hash`` is the SHA-256 of those
bytes, and ``prev`` is the ``hash`` of the record before it (64 zeros for the very first). A
``signature`` record signs the hash of the record it follows, so one signature vouches for
every record before it.

Subject ids are keyed hashes (BLAKE2b with a device key) of the person's pseudonym: records
never hold a name, a pseudonym in clear, a card number, a PIN, an image or an embedding.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from ..errors import FacegateError

__all__ = [
    "FORBIDDEN_FIELD_WORDS",
    "GENESIS",
    "MAX_VALUE_CHARS",
    "RESERVED_FIELDS",
    "SIGNATURE_KIND",
    "AuditError",
    "AuditFieldError",
    "canonical_bytes",
    "check_fields",
    "key_id",
    "record_hash",
    "signed_message",
    "subject_id",
]

GENESIS = "0" * 64
SIGNATURE_KIND = "signature"
FILE_KIND = "file"
MAX_VALUE_CHARS = 128
SIGN_CONTEXT = b"facegate-audit-v1\x00"

# Field names made of these words are refused: personal data never reaches the audit log.
FORBIDDEN_FIELD_WORDS = frozenset(
    {
        "name",
        "names",
        "pin",
        "pins",
        "card",
        "cards",
        "embedding",
        "embeddings",
        "image",
        "images",
        "photo",
        "template",
        "vector",
        "passphrase",
        "password",
        "secret",
        "phone",
        "email",
        "address",
        "birth",
        "pseudonym",
        "guardian",
    }
)
RESERVED_FIELDS = frozenset({"v", "seq", "ts", "kind", "prev", "hash", "subject", "sig", "key"})
_FIELD_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_KIND_RE = re.compile(r"^[a-z][a-z0-9_.]{0,31}$")
_LONG_DIGITS = re.compile(r"\d{8,}")  # looks like a card or phone number


class AuditError(FacegateError, RuntimeError):
    """The audit log cannot be opened or written."""


class AuditFieldError(FacegateError, ValueError):
    """A field would put personal data or an unbounded value into the audit log."""


def canonical_bytes(record: dict[str, Any]) -> bytes:
    """The bytes that are hashed: the record minus ``hash``, sorted keys, no whitespace."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def record_hash(record: dict[str, Any]) -> str:
    """SHA-256 (hex) of the record's canonical bytes."""
    return hashlib.sha256(canonical_bytes(record)).hexdigest()


def signed_message(seq: int, prev: str) -> bytes:
    """What a signature record signs: its own sequence number and the hash it follows."""
    return SIGN_CONTEXT + seq.to_bytes(8, "big") + bytes.fromhex(prev)


def key_id(public_key: bytes) -> str:
    """A short fingerprint of an Ed25519 public key (16 hex digits)."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def subject_id(subject_key: bytes, pseudonym: str) -> str:
    """The keyed hash that stands for a person in the audit log (BLAKE2b-128, hex)."""
    digest = hashlib.blake2b(pseudonym.encode(), key=subject_key, digest_size=16).hexdigest()
    return "s-" + digest


def check_kind(kind: str) -> None:
    """Refuse record kinds that are not short lowercase identifiers."""
    if not isinstance(kind, str) or not _KIND_RE.match(kind):
        raise AuditFieldError("an audit kind is a short lowercase identifier (a-z, 0-9, _ .)")
    if kind in (SIGNATURE_KIND, FILE_KIND):
        raise AuditFieldError(f"the kind {kind!r} is written by the log itself")


def check_fields(fields: dict[str, Any]) -> None:
    """Refuse personal field names and anything but short strings, numbers, booleans, None.

    Raises:
        AuditFieldError: naming the field (never echoing its value).
    """
    for field, value in fields.items():
        if not _FIELD_RE.match(field):
            raise AuditFieldError(f"audit field {field!r}: use a short lowercase identifier")
        if field in RESERVED_FIELDS:
            raise AuditFieldError(f"audit field {field!r} is reserved")
        if FORBIDDEN_FIELD_WORDS.intersection(field.split("_")):
            raise AuditFieldError(
                f"audit field {field!r} looks like personal data; the audit log never holds "
                "names, PINs, card numbers, images or embeddings (pass subject= for a person)"
            )
        if value is None or isinstance(value, bool | int):
            continue
        if isinstance(value, float):
            if value != value or value in (float("inf"), float("-inf")):
                raise AuditFieldError(f"audit field {field!r}: not a finite number")
            continue
        if isinstance(value, str):
            if len(value) > MAX_VALUE_CHARS or "\n" in value:
                raise AuditFieldError(
                    f"audit field {field!r}: strings are one line, at most {MAX_VALUE_CHARS} chars"
                )
            if _LONG_DIGITS.search(value):
                raise AuditFieldError(
                    f"audit field {field!r}: a long digit run looks like a card or phone number"
                )
            continue
        raise AuditFieldError(
            f"audit field {field!r}: only short strings, numbers, booleans and null are allowed"
        )
