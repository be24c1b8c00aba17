"""``filing:`` — filing with the provincial cyberspace administration (2025 Measures Art. 15).

A handler storing the faces of 100,000 people or more files within 30 working days (the 2023
draft said 10,000; set ``threshold`` lower if your regulator asks for the stricter number; it
can never be set above the legal 100,000). The start-up checklist warns from
``warn_fraction`` of the threshold; from the day the count is first seen at the threshold
(recorded in ``<state_dir>/compliance/ledger.json``) it warns with the 30-working-day
deadline, and FAILs only past that deadline without a filing reference (``reference`` here,
or ``facegate filing record``).
"""

from __future__ import annotations

from pydantic import Field

from .base import Section

__all__ = ["DEFAULT_FILING_THRESHOLD", "FilingConfig"]

DEFAULT_FILING_THRESHOLD = 100_000


class FilingConfig(Section):
    """The filing threshold and, once filed, the filing number."""

    threshold: int = Field(
        default=DEFAULT_FILING_THRESHOLD,
        ge=1,
        le=DEFAULT_FILING_THRESHOLD,
        description=(
            "People with a stored face at which filing is required: 100000 in the final 2025 "
            "Measures (Art. 15), 10000 in the 2023 draft; never above 100000."
        ),
    )
    warn_fraction: float = Field(
        default=0.8,
        gt=0.0,
        le=1.0,
        description="Warn once the count reaches this fraction of `threshold` (0.8 = 80 %).",
    )
    reference: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description=(
            "The filing number given by the cyberspace administration (or record it with "
            "`facegate filing record`). Needed within 30 working days of the count reaching "
            "`threshold`."
        ),
    )
