"""The daemon's state: the encrypted store, the signed audit trail, and retention.

``open_state`` opens both (the key from the caller or the configured key file); ``apply_retention``
applies the retention periods and says whether face templates were deleted (the face path's
gallery and the policy snapshot must then be refreshed).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from ..audit import AuditLog, open_audit_log
from ..clock import Clock
from ..compliance.records import current_notice
from ..config import FacegateConfig
from ..errors import StoreError
from ..store import Store, open_store, purge_expired, resolve_key_path
from ..store.retention import DAY_S, Reconsent
from ..store.rights import consents_to_renew
from .recording import BUFFER_EVENTS, WRITE_ERRORS

__all__ = [
    "PURGE_EVERY_S",
    "PURGE_RETRY_S",
    "apply_retention",
    "close_state",
    "open_state",
    "reconsent_rule",
]

PURGE_EVERY_S = 86_400.0  # retention runs at start and then daily (an internal schedule)
PURGE_RETRY_S = 3_600.0  # after a purge that could not write (a full disk)

logger = logging.getLogger(__name__)


def open_state(
    cfg: FacegateConfig, clock: Clock, master_key: bytes | None = None
) -> tuple[Store, AuditLog]:
    """The store and the audit trail in ``<state_dir>/audit``.

    Raises:
        MasterKeyError: no key given and none (or a bad one) in the configured key file.
    """
    if master_key is not None:
        store = Store(cfg.store.state_dir, master_key, clock=clock)
    else:
        key_path = resolve_key_path(cfg.store.key_file, cfg.store.state_dir)
        store = open_store(key_path, cfg.store.state_dir, clock=clock)
    try:
        a = cfg.audit
        audit = open_audit_log(
            store,
            cfg.store.state_dir,
            clock=clock,
            max_bytes=a.max_file_bytes,
            batch=a.sign_every_records,
            sign_every_s=a.sign_every_s,
            keep_years=cfg.retention.record_years,
            buffer_limit=BUFFER_EVENTS,  # a full disk: records wait in memory, in order
        )
    except BaseException:
        store.close()
        raise
    return store, audit


def close_state(store: Store | None, audit: AuditLog | None) -> None:
    """The audit trail's ``stop`` record and its last signature, then the store."""
    if audit is not None:
        try:
            audit.append("service", event="stop")
            audit.close()
        except Exception:  # the store must still be closed
            logger.exception("could not close the audit log")
    if store is not None:
        store.close()


def note_filing_count(store: Store, audit: AuditLog | None, cfg: FacegateConfig) -> None:
    """At start and daily with the purge: record the first day the count of people with a face
    reaches the filing threshold (the 30 working days of Measures Art. 15 run from it)."""
    from ..compliance.device import local_today
    from ..compliance.ledger import Ledger
    from ..errors import FacegateError

    try:
        count = store.count_people_with_face()
        if Ledger(cfg.store.state_dir).note_count(count, cfg.filing.threshold, local_today(cfg)):
            logger.warning(
                "%d people with a face reached the filing threshold %d today: file with the "
                "provincial CAC within 30 working days (`facegate filing report`)",
                count,
                cfg.filing.threshold,
            )
            if audit is not None:
                audit.append("filing_threshold", count=count, threshold=cfg.filing.threshold)
    except FacegateError as exc:
        logger.warning("filing threshold crossing not recorded: %s", exc)


def apply_retention(
    store: Store,
    audit: AuditLog | None,
    cfg: FacegateConfig,
    on_error: Callable[[BaseException, str], None] | None = None,
) -> bool | None:
    """Apply the retention periods now; ``True`` when face templates were deleted.

    A purge or checkpoint that cannot write (a full disk) goes to ``on_error`` (the
    actuator's write alarm) and returns ``None`` (the purge did not run): the daemon carries
    on; without ``on_error`` it is raised.
    """
    note_filing_count(store, audit, cfg)
    retention = cfg.retention
    rule = reconsent_rule(cfg)
    try:
        report = purge_expired(
            store,
            event_days=retention.event_days,
            record_years=retention.record_years,
            template_days=retention.template_days,
            reconsent=rule,
        )
    except WRITE_ERRORS as exc:
        if on_error is None:
            raise
        on_error(exc, "retention purge")
        return None
    if report.checkpoint_error is not None and on_error is not None:
        failure = StoreError(f"WAL checkpoint after the purge: {report.checkpoint_error}")
        failure.__cause__ = store.checkpoint_error
        on_error(failure, "checkpoint")
    if report.anything:
        if audit is not None:
            audit.append(
                "retention",
                templates=report.templates,
                events=report.events,
                records=report.records,
                people=report.people,
                consents=report.consents,
                requests=report.requests,
            )
        logger.info(
            "retention: deleted %d expired templates, %d old events, %d old records",
            report.templates,
            report.events,
            report.records,
        )
    if rule is not None and (due := len(consents_to_renew(store, rule.current_version))):
        logger.warning(
            "%d people consented under an older notice; their faces expire on %s unless they "
            "consent again (`facegate person reconsent-due`)",
            due,
            dt.datetime.fromtimestamp(rule.deadline, dt.UTC).date().isoformat(),
        )
    return bool(report.templates or report.people)


def reconsent_rule(cfg: FacegateConfig) -> Reconsent | None:
    """The current notice and the day older consents stop covering a face (None: no notice)."""
    current = current_notice(cfg.store.state_dir)
    if current is None:
        return None
    return Reconsent(current.version, current.recorded_at + cfg.retention.reconsent_days * DAY_S)
