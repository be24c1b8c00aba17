"""One row of the start-up checklist: a rule, its article, PASS / WARN / FAIL and why."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["CheckResult", "Status"]


class Status(StrEnum):
    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(slots=True, frozen=True)
class CheckResult:
    """One row of the checklist.

    Attributes:
        rule_id: stable identifier, e.g. ``site_kind``.
        article: the article of the 2025 Measures (or the law) the rule comes from.
        status: PASS, WARN or FAIL.
        reason: one line for the installer; names the key to change when it fails.
    """

    rule_id: str
    article: str
    status: Status
    reason: str
