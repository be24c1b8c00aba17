"""Run the checklist before the gate starts; any FAIL refuses the start (exit 3).

Called by ``facegate run`` after the configuration loads and before any device opens, so a
refused start never energises a relay. Every WARN and FAIL goes to the journal, one line
each, without names or biometrics.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import FacegateError
from .checks import CheckResult, Status, failures, run_checks, summary
from .facts import AuditFact, ComplianceFacts, DoorFacts, gather_facts

if TYPE_CHECKING:
    from ..config import FacegateConfig
    from ..config.filing import FilingConfig
    from ..config.notice import NoticeConfig

__all__ = ["ComplianceRefused", "enforce_startup_checklist"]

logger = logging.getLogger(__name__)


class ComplianceRefused(FacegateError):
    """A rule of the start-up checklist FAILed; ``results`` holds the whole checklist."""

    def __init__(self, message: str, results: list[CheckResult]) -> None:
        super().__init__(message)
        self.results = results


def enforce_startup_checklist(
    cfg: FacegateConfig,
    notice: NoticeConfig | None = None,
    filing: FilingConfig | None = None,
    facts: ComplianceFacts | None = None,
    *,
    doors: DoorFacts | None = None,
    admin_socket: Path | None = None,
    audit_verify: Callable[[], AuditFact | bool] | None = None,
    **more: Any,
) -> list[CheckResult]:
    """Check every rule; log WARN and FAIL rows; raise on any FAIL.

    Args:
        cfg: the configuration.
        notice: the notice section; None reads ``cfg.notice`` (once wired), else missing.
        filing: the filing section; None reads ``cfg.filing``, else the defaults.
        facts: live state; None gathers it from this device with ``gather_facts`` and the
            three arguments below.
        doors: per-door facts or a callable computing them from ``cfg`` (Art. 10).
        admin_socket: the admin socket's path, when it exists at this point.
        audit_verify: verifies the audit chain; returns whether it is intact.
        **more: the rest of ``device.device_inputs`` for ``gather_facts`` (door problems,
            whether the daemon answers, today's date).

    Returns:
        The checklist, when nothing FAILed.

    Raises:
        ComplianceRefused: at least one rule FAILed (``facegate run`` exits 3).
    """
    if notice is None:
        notice = getattr(cfg, "notice", None)
    if filing is None:
        filing = getattr(cfg, "filing", None)
    if facts is None:
        facts = gather_facts(
            cfg,
            notice=notice,
            doors=doors,
            admin_socket=admin_socket,
            audit_verify=audit_verify,
            **more,
        )
    results = run_checks(cfg, notice, filing, facts)
    for r in results:
        if r.status is Status.FAIL:
            logger.error("compliance %s (%s) FAIL: %s", r.rule_id, r.article, r.reason)
        elif r.status is Status.WARN:
            logger.warning("compliance %s (%s) WARN: %s", r.rule_id, r.article, r.reason)
    failed = failures(results)
    if failed:
        first = failed[0]
        raise ComplianceRefused(
            f"refusing to start: {len(failed)} compliance rule(s) FAIL, first {first.rule_id} "
            f"({first.article}): {first.reason}; see `facegate compliance check`",
            results,
        )
    logger.info("compliance checklist: %s", summary(results))
    return results
