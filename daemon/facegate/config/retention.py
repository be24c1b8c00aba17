"""``retention:`` — how long each kind of data is kept (2025 Measures Art. 8, 9).

The bounds are the product's reading of the law, not SQLite's limits: a face is kept no
longer than the purpose needs (Measures Art. 8; PIPL Art. 19), so at most two years before the
person is enrolled again; pseudonymised access events at most 180 days; processing records
(consents, withdrawals, deletions, requests) at least the three years PIPL Art. 56 asks of
assessment records and at most five; people enrolled under an older notice get 7 to 90 days to
consent again (PIPL Art. 14) before their face expires.
"""

from __future__ import annotations

from pydantic import Field

from .base import Section

__all__ = [
    "MAX_EVENT_DAYS",
    "MAX_RECONSENT_DAYS",
    "MAX_RECORD_YEARS",
    "MAX_TEMPLATE_DAYS",
    "MIN_RECONSENT_DAYS",
    "MIN_RECORD_YEARS",
    "RetentionConfig",
]

MAX_TEMPLATE_DAYS = 730
MAX_EVENT_DAYS = 180
MIN_RECORD_YEARS, MAX_RECORD_YEARS = 3, 5
MIN_RECONSENT_DAYS, MAX_RECONSENT_DAYS = 7, 90


class RetentionConfig(Section):
    """Retention periods; the daemon purges on start and once a day."""

    template_days: int = Field(
        default=730,
        ge=1,
        le=MAX_TEMPLATE_DAYS,
        description=(
            "Default life of a face template from enrolment, in days (set a person's own expiry "
            "at enrolment when residency or consent ends sooner). Expired templates are deleted."
        ),
    )
    event_days: int = Field(
        default=90,
        ge=1,
        le=MAX_EVENT_DAYS,
        description=(
            "Access events (pseudonymised: they keep the person's pseudonym) older than this "
            "many days are deleted."
        ),
    )
    record_years: int = Field(
        default=3,
        ge=MIN_RECORD_YEARS,
        le=MAX_RECORD_YEARS,
        description=(
            "Processing records (consent given or withdrawn, deletions, purges, rights requests) "
            "and ended consent records are kept exactly this many years, then deleted; the law "
            "asks for at least three."
        ),
    )
    reconsent_days: int = Field(
        default=30,
        ge=MIN_RECONSENT_DAYS,
        le=MAX_RECONSENT_DAYS,
        description=(
            "When a new notice is recorded as posted, people who consented under an older one "
            "have this many days to consent again; then their face expires (PIN/card stay)."
        ),
    )
