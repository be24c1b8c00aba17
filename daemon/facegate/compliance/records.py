"""Keep every notice version that was shown, so a consent's ``notice_version`` can be read back.

A consent record names the SHA-256 of the notice text the person saw. That hash proves
nothing unless the text behind it is kept too: ``record_notice`` writes the canonical text of
each version to ``<state_dir>/notices/<version>.json`` (mode 0600, never overwritten), and
the start-up checklist asks that the current version is among them (Art. 5). A version only
*recorded* (``notice hash --record``) was never printed: ``note_rendered`` appends each sign
rendered for a version to ``<version>.renders.jsonl``, and the checklist FAILs a recorded
version with no sign rendered.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import StoreError
from .notice_text import NoticeBundle

__all__ = [
    "NOTICES_DIR",
    "RecordedNotice",
    "current_notice",
    "note_rendered",
    "record_notice",
    "recorded_notices",
    "rendered_formats",
    "resolve_notice_version",
]

logger = logging.getLogger(__name__)

NOTICES_DIR = "notices"
_VERSION_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(slots=True, frozen=True)
class RecordedNotice:
    """A notice version kept in the state folder."""

    version: str
    recorded_at: float
    path: Path


def record_notice(state_dir: Path, bundle: NoticeBundle, *, now: float) -> RecordedNotice:
    """Keep the canonical text of ``bundle`` under its version; idempotent.

    Raises:
        StoreError: the state folder cannot be written.
    """
    folder = Path(state_dir) / NOTICES_DIR
    path = folder / f"{bundle.version}.json"
    if path.is_file():
        for rec in recorded_notices(state_dir):
            if rec.version == bundle.version:
                return rec
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        payload = {
            "version": bundle.version,
            "recorded_at": now,
            "languages": list(bundle.languages),
            "canonical": bundle.canonical(),
        }
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, ensure_ascii=False, indent=1, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise StoreError(f"cannot record the notice version in {folder}: {exc.strerror}") from None
    logger.info("notice version %s recorded", bundle.short_version)
    return RecordedNotice(bundle.version, now, path)


def recorded_notices(state_dir: Path) -> list[RecordedNotice]:
    """Every recorded notice version, oldest first (unreadable files are skipped)."""
    folder = Path(state_dir) / NOTICES_DIR
    out: list[RecordedNotice] = []
    try:
        files = sorted(folder.glob("*.json"))
    except OSError:
        return []
    for path in files:
        if not _VERSION_RE.match(path.stem):
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            out.append(RecordedNotice(path.stem, float(data["recorded_at"]), path))
        except (OSError, ValueError, KeyError, TypeError):
            logger.warning("skipping unreadable notice record %s", path.name)
    out.sort(key=lambda r: r.recorded_at)
    return out


def current_notice(state_dir: Path) -> RecordedNotice | None:
    """The notice recorded as posted most recently (the one consent is taken under now)."""
    notices = recorded_notices(state_dir)
    return notices[-1] if notices else None


def resolve_notice_version(state_dir: Path, given: str) -> RecordedNotice:
    """The posted notice that ``given`` names: its full hash or the short form on the sign.

    Only the current notice is accepted: consent taken under a notice that was replaced is not
    consent to what is done now (PIPL Art. 14).

    Raises:
        ValueError: no notice recorded, ``given`` names none, or names a replaced one.
    """
    text = given.strip().lower()
    notices = recorded_notices(state_dir)
    if not notices:
        raise ValueError(
            "no notice version is recorded as posted on this device: render the sign "
            "(`facegate notice render`) or run `facegate notice hash --record` first"
        )
    found = [n for n in notices if len(text) >= 8 and n.version.startswith(text)]
    if len(found) != 1:
        raise ValueError(
            f"notice version {given!r} was never recorded as posted here; give the version "
            "printed by `facegate notice hash` (the sign shows its first 16 characters)"
        )
    current = notices[-1]
    if found[0].version != current.version:
        raise ValueError(
            f"notice version {given[:16]} was replaced by {current.version[:16]}; take consent "
            "under the notice posted now"
        )
    return found[0]


SIGN_FORMATS = ("pdf", "png", "html")


def note_rendered(
    state_dir: Path, version: str, *, lang: str, fmt: str, page: str, now: float
) -> None:
    """Remember that a sign of ``version`` was rendered (language, format, paper, time).

    Raises:
        StoreError: the state folder cannot be written.
    """
    if not _VERSION_RE.match(version) or fmt not in SIGN_FORMATS:
        raise ValueError("a rendered sign needs a 64-hex version and one of pdf, png, html")
    folder = Path(state_dir) / NOTICES_DIR
    line = json.dumps({"lang": lang, "format": fmt, "page": page, "at": now}, sort_keys=True)
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(
            folder / f"{version}.renders.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600
        )
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
    except OSError as exc:
        raise StoreError(f"cannot note the rendered sign in {folder}: {exc.strerror}") from None


def rendered_formats(state_dir: Path, version: str) -> list[str]:
    """The sign formats rendered for ``version`` (``[]`` when none, or unreadable)."""
    if not _VERSION_RE.match(version):
        return []
    path = Path(state_dir) / NOTICES_DIR / f"{version}.renders.jsonl"
    out: list[str] = []
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return []
    for raw in text.splitlines():
        try:
            fmt = json.loads(raw).get("format")
        except (ValueError, AttributeError):
            continue
        if fmt in SIGN_FORMATS:
            out.append(fmt)
    return out
