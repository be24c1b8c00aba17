"""The compliance workflow's own records: filing, signed impact assessments, incidents.

Kept in ``<state_dir>/compliance/ledger.json`` (mode 0600, written whole and renamed, so a
crash leaves the old file or the new one). What it holds is about the *processing*, never
about a resident: the day the enrolled count crossed the filing threshold, each filing,
change and cancellation with its reference, who approved which impact-assessment file (its
SHA-256) for which processing scope, and each recorded security incident. The checklist
reads it through :class:`LedgerFacts`; the commands that change it also append a record to
the signed audit trail (``cli/workflow.py``).

The *processing scope* is the hash of what the Measures tie a PIA and a filing to: the
purpose, the site kind and the method (detector, embedder, liveness, capture zone and
trigger, template retention). When it changes, the signed PIA no longer covers the
processing and the checklist asks for reassessment, and a filed device for a change filing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import StoreError

if TYPE_CHECKING:
    from ..config import FacegateConfig

__all__ = [
    "FILING_WORKING_DAYS",
    "LEDGER_FILE",
    "Ledger",
    "LedgerFacts",
    "add_working_days",
    "ledger_facts",
    "processing_scope",
]

LEDGER_FILE = Path("compliance") / "ledger.json"
FILING_WORKING_DAYS = 30  # Measures Art. 15: file within 30 working days of reaching 100,000


def processing_scope(cfg: FacegateConfig) -> str:
    """SHA-256 (first 16 hex digits) of the processing's purpose and method."""
    from ..config.notice import localized

    notice = cfg.notice
    zone = cfg.face_zone
    scope: dict[str, Any] = {
        "site_kind": cfg.site.kind.value,
        "purpose": " ".join(cfg.site.purpose.split()),
        "notice_purpose": [localized(notice.purpose, lang) for lang in notice.languages]
        if notice is not None
        else None,
        "detector": getattr(cfg.detector, "type", None),
        "embedder": getattr(cfg.embedder, "type", None),
        "liveness": [cfg.liveness_mode(d.id) for d in cfg.doors],
        "zone": [list(zone.region), zone.min_face_px, getattr(zone, "trigger", "zone")],
        "template_days": cfg.retention.template_days,
        "camera_door": cfg.doors[0].id,
    }
    text = json.dumps(scope, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def add_working_days(
    start: dt.date, days: int, holidays: frozenset[dt.date] = frozenset()
) -> dt.date:
    """The date ``days`` working days after ``start`` (Monday to Friday, less ``holidays``)."""
    day, left = start, days
    while left > 0:
        day += dt.timedelta(days=1)
        if day.weekday() < 5 and day not in holidays:
            left -= 1
    return day


@dataclass(slots=True, frozen=True)
class LedgerFacts:
    """What the checklist needs from the ledger (plain values; ``None`` = never happened).

    Attributes:
        filing_crossed_on: the first day the count was seen at or above the threshold.
        filing_reference: the reference of the latest filing not cancelled since.
        filing_scope: the processing scope at that filing (or its latest change filing).
        filing_cancelled: the filing was cancelled (processing ended) and not filed again.
        pia_scopes: the processing scopes covered by a signed PIA, with each signing time.
        last_pia_at: when the latest PIA was signed (epoch seconds).
        last_incident_at: when the latest security incident was recorded (epoch seconds).
        open_incidents: incidents recorded and not closed.
    """

    filing_crossed_on: dt.date | None = None
    filing_reference: str | None = None
    filing_scope: str | None = None
    filing_cancelled: bool = False
    pia_scopes: tuple[tuple[str, float], ...] = ()
    last_pia_at: float | None = None
    last_incident_at: float | None = None
    open_incidents: int = 0


class Ledger:
    """The JSON file of compliance records; every change rewrites it whole (small)."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / LEDGER_FILE
        self.data: dict[str, Any] = {"filing": [], "pia": [], "incidents": []}
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            raise StoreError(f"cannot read the compliance ledger {self.path}: {exc}") from None
        if not isinstance(raw, dict):
            raise StoreError(f"the compliance ledger {self.path} is not a JSON object")
        for key in ("filing", "pia", "incidents"):
            value = raw.get(key, [])
            self.data[key] = value if isinstance(value, list) else []
        if isinstance(raw.get("crossed_on"), str):
            self.data["crossed_on"] = raw["crossed_on"]

    def save(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = self.path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(self.data, fh, ensure_ascii=False, indent=1, sort_keys=True)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            raise StoreError(
                f"cannot write the compliance ledger {self.path}: {exc.strerror}"
            ) from None

    # -- filing --------------------------------------------------------------------------

    def note_count(self, count: int, threshold: int, today: dt.date) -> bool:
        """Record the first day the count reached the threshold; True when this call did."""
        if count < threshold or "crossed_on" in self.data:
            return False
        self.data["crossed_on"] = today.isoformat()
        self.save()
        return True

    def add_filing(
        self,
        action: str,
        *,
        on: dt.date,
        at: float,
        scope: str,
        reference: str | None,
        note: str | None,
    ) -> dict[str, Any]:
        """``action``: ``filed`` (with a reference), ``changed`` or ``cancelled``."""
        if action not in ("filed", "changed", "cancelled"):
            raise ValueError(f"unknown filing action {action!r}")
        entry = {
            "action": action,
            "on": on.isoformat(),
            "at": at,
            "scope": scope,
            "reference": reference,
            "note": note,
        }
        self.data["filing"].append(entry)
        self.save()
        return entry

    # -- impact assessments and incidents -----------------------------------------------

    def add_pia(
        self, *, sha256: str, scope: str, approved_by: str, role: str, at: float
    ) -> dict[str, Any]:
        entry = {
            "sha256": sha256,
            "scope": scope,
            "approved_by": approved_by,
            "role": role,
            "at": at,
        }
        self.data["pia"].append(entry)
        self.save()
        return entry

    def add_incident(
        self, *, at: float, kind: str, summary: str, affected: int | None
    ) -> dict[str, Any]:
        number = len(self.data["incidents"]) + 1
        entry = {
            "id": f"INC-{number:04d}",
            "at": at,
            "kind": kind,
            "summary": summary,
            "affected": affected,
            "closed_at": None,
        }
        self.data["incidents"].append(entry)
        self.save()
        return entry

    def facts(self) -> LedgerFacts:
        crossed = self.data.get("crossed_on")
        reference = scope = None
        cancelled = False
        for e in self.data["filing"]:
            if e.get("action") == "filed":
                reference, scope, cancelled = e.get("reference"), e.get("scope"), False
            elif e.get("action") == "changed" and reference is not None:
                scope = e.get("scope")
            elif e.get("action") == "cancelled":
                reference, scope, cancelled = None, None, True
        pias = tuple((str(e["scope"]), float(e["at"])) for e in self.data["pia"] if "scope" in e)
        incidents = self.data["incidents"]
        return LedgerFacts(
            filing_crossed_on=dt.date.fromisoformat(crossed) if crossed else None,
            filing_reference=reference,
            filing_scope=scope,
            filing_cancelled=cancelled,
            pia_scopes=pias,
            last_pia_at=max((at for _s, at in pias), default=None),
            last_incident_at=max((float(e["at"]) for e in incidents), default=None),
            open_incidents=sum(1 for e in incidents if e.get("closed_at") is None),
        )


def ledger_facts(state_dir: Path) -> LedgerFacts:
    """The ledger's facts; an unreadable ledger counts as empty (the checklist then WARNs)."""
    try:
        return Ledger(state_dir).facts()
    except StoreError:
        return LedgerFacts()
