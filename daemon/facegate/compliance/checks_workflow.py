"""Checklist rows for doors, filing and the impact assessment (Art. 10, 15, 9).

* ``face_only_window`` runs ``policy.check_doors`` through the facts, the same check that
  keeps ``facegate run`` from processing faces, so ``compliance check`` can never say "ready"
  for a door ``run`` refuses.
* ``filing`` counts people with a face against the legal 100,000 (the configuration may only
  lower it). From the day the count is first seen at or above it (recorded in the
  compliance ledger), the handler has 30 working days: WARN with the deadline until then,
  FAIL after it without a filing reference. A change of purpose or method after filing asks
  for a change filing; a cancelled filing for a new one.
* ``pia`` WARNs until a signed impact assessment covers the current processing scope, and
  again after a change of purpose or method, or after a recorded security incident.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..config.filing import FilingConfig
from .facts import ComplianceFacts
from .ledger import FILING_WORKING_DAYS, add_working_days
from .result import CheckResult, Status

if TYPE_CHECKING:
    from ..config import FacegateConfig

__all__ = ["door_windows_rule", "filing_rule", "pia_rule"]


def door_windows_rule(_c: FacegateConfig, _n: Any, _f: Any, facts: ComplianceFacts) -> CheckResult:
    art = "Art. 10"
    if facts.door_problems is None:
        return CheckResult(
            "face_only_window", art, Status.WARN, "door time windows were not checked here"
        )
    if facts.door_problems:
        first = facts.door_problems[0]
        more = f" (+{len(facts.door_problems) - 1} more)" if len(facts.door_problems) > 1 else ""
        return CheckResult(
            "face_only_window",
            art,
            Status.FAIL,
            f"face would be the only way in: {first}{more}; `facegate run` processes no face",
        )
    return CheckResult(
        "face_only_window", art, Status.PASS, "every time window that takes faces takes PIN or card"
    )


def filing_rule(
    _c: FacegateConfig, _n: Any, filing: FilingConfig, facts: ComplianceFacts
) -> CheckResult:
    art = "Art. 15"
    if facts.store_error is not None:
        return CheckResult("filing", art, Status.WARN, "the store could not be read; not counted")
    n, limit = facts.people_with_face, filing.threshold
    ledger = facts.ledger
    reference = filing.reference or ledger.filing_reference
    if reference:
        if ledger.filing_scope and facts.scope and ledger.filing_scope != facts.scope:
            return CheckResult(
                "filing",
                art,
                Status.WARN,
                f"filed ({reference}), but the purpose or method changed since: file the change "
                "with the CAC and record it (`facegate filing change`)",
            )
        return CheckResult(
            "filing", art, Status.PASS, f"{n} people with a face; filed ({reference})"
        )
    if n >= limit or ledger.filing_crossed_on is not None:
        crossed = ledger.filing_crossed_on or facts.today
        if crossed is None:
            return CheckResult(
                "filing",
                art,
                Status.FAIL,
                f"{n} people with a face ≥ {limit} and no filing reference "
                "(`facegate filing report`, then `facegate filing record --reference …`)",
            )
        deadline = add_working_days(crossed, FILING_WORKING_DAYS, facts.holidays)
        today = facts.today or crossed
        was = "" if n >= limit else f" (now {n})"
        if today > deadline:
            return CheckResult(
                "filing",
                art,
                Status.FAIL,
                f"the count reached {limit} on {crossed.isoformat()}{was}; the filing was due "
                f"by {deadline.isoformat()} ({FILING_WORKING_DAYS} working days) and none is "
                "recorded: file and run `facegate filing record --reference …`",
            )
        return CheckResult(
            "filing",
            art,
            Status.WARN,
            f"the count reached {limit} on {crossed.isoformat()}{was}: file with the provincial "
            f"CAC by {deadline.isoformat()} ({FILING_WORKING_DAYS} working days; "
            "`facegate filing report`)",
        )
    if ledger.filing_cancelled:
        return CheckResult(
            "filing", art, Status.PASS, f"{n} people with a face (< {limit}); filing cancelled"
        )
    if n >= filing.warn_fraction * limit:
        return CheckResult(
            "filing",
            art,
            Status.WARN,
            f"{n} people with a face, {n / limit:.0%} of the {limit} filing threshold",
        )
    return CheckResult("filing", art, Status.PASS, f"{n} people with a face (< {limit})")


def pia_rule(_c: FacegateConfig, _n: Any, _f: Any, facts: ComplianceFacts) -> CheckResult:
    art = "Art. 9"
    ledger = facts.ledger
    if not ledger.pia_scopes:
        return CheckResult(
            "pia",
            art,
            Status.WARN,
            "no signed impact assessment: `facegate pia render`, complete and approve it, then "
            "`facegate pia sign FILE --by …`",
        )
    covering = [at for scope, at in ledger.pia_scopes if scope == facts.scope]
    if facts.scope is not None and not covering:
        return CheckResult(
            "pia",
            art,
            Status.WARN,
            "the purpose or method changed since the last signed impact assessment: reassess "
            "and sign again (`facegate pia sign`)",
        )
    last = max(covering) if covering else ledger.last_pia_at
    if ledger.last_incident_at is not None and last is not None and ledger.last_incident_at > last:
        return CheckResult(
            "pia",
            art,
            Status.WARN,
            "a security incident was recorded after the last signed impact assessment: "
            "reassess and sign again (`facegate pia sign`)",
        )
    return CheckResult("pia", art, Status.PASS, "a signed impact assessment covers this processing")
