"""``rights:`` — how fast a person's request about their data is answered (PIPL Art. 44-50).

PIPL Art. 50 asks for a convenient way to make requests and a timely answer, without a number
of days. The numbers in force come from elsewhere: GB/T 35273-2020 §8.7 c) answers within 30
days (or a shorter legal period); the CAC's 《App违法违规收集使用个人信息行为认定方法》
(国信办秘字〔2019〕191号) treats more than 15 working days for access, correction or deletion
as a violation. facegate takes the stricter, 15 working days, as the default and the longest
an operator may promise; a site may promise fewer. Working days are Monday to Friday; public
holidays are not skipped, so the deadline computed is never later than the legal one.
"""

from __future__ import annotations

from pydantic import Field

from .base import Section

__all__ = ["DEFAULT_RESPONSE_WORKING_DAYS", "RightsConfig"]

DEFAULT_RESPONSE_WORKING_DAYS = 15


class RightsConfig(Section):
    """The deadline for answering a rights request."""

    response_working_days: int = Field(
        default=DEFAULT_RESPONSE_WORKING_DAYS,
        ge=1,
        le=DEFAULT_RESPONSE_WORKING_DAYS,
        description=(
            "Working days (Mon-Fri) to answer a request to access, copy, correct or delete "
            "personal data; at most 15 (CAC 2019 App rules; GB/T 35273-2020 §8.7 says 30 days)."
        ),
    )
