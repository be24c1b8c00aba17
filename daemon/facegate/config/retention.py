"""``retention:`` — how long each kind of data is kept (2025 Measures Art. 8, 9)."""

from __future__ import annotations

from pydantic import Field

from .base import Section

__all__ = ["RetentionConfig"]


class RetentionConfig(Section):
    """Retention periods; the daemon purges on start and once a day."""

    template_days: int = Field(
        default=730,
        ge=1,
        le=3650,
        description=(
            "Default life of a face template from enrolment, in days (set a person's own expiry "
            "at enrolment when residency or consent ends sooner). Expired templates are deleted."
        ),
    )
    event_days: int = Field(
        default=90,
        ge=1,
        le=3650,
        description=(
            "Access events (pseudonymised: they keep the person's pseudonym) older than this "
            "many days are deleted."
        ),
    )
    record_years: int = Field(
        default=3,
        ge=3,
        le=30,
        description=(
            "Processing records (consent given or withdrawn, deletions, purges) are kept at least "
            "this many years; the Measures ask for three."
        ),
    )
