"""The bounded argument types of the admin commands (shared by every handler module).

Every argument is checked against a bounded schema before a handler runs: times are finite
and between 2000 and 2100, strings are bounded and hold no control characters.
"""

from __future__ import annotations

import math
import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

__all__ = [
    "EARLIEST",
    "LATEST",
    "Text50",
    "Text100",
    "Text200",
    "Text500",
    "Timestamp",
]

EARLIEST = 946_684_800.0  # 2000-01-01T00:00:00Z
LATEST = 4_102_444_800.0  # 2100-01-01T00:00:00Z


def _time(value: float) -> float:
    if not (math.isfinite(value) and EARLIEST <= value < LATEST):
        raise ValueError("a time must be seconds since 1970 between 2000-01-01 and 2100-01-01")
    return value


# A point in time: a finite float between 2000 and 2100 (never NaN, Infinity or year 9999).
Timestamp = Annotated[float, Field(allow_inf_nan=False), AfterValidator(_time)]

# Control characters (C0, C1, DEL), lone surrogates, line/paragraph separators and bidi overrides:
# nothing a person's name or a form needs, and each can garble a terminal or a stored row.
_FORBIDDEN_TEXT = re.compile(
    "[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def _plain(text: str) -> str:
    if _FORBIDDEN_TEXT.search(text):
        raise ValueError("text must not contain control characters")
    return text


# Bounded strings of printable text.
Text50 = Annotated[str, Field(max_length=50), AfterValidator(_plain)]
Text100 = Annotated[str, Field(max_length=100), AfterValidator(_plain)]
Text200 = Annotated[str, Field(max_length=200), AfterValidator(_plain)]
Text500 = Annotated[str, Field(max_length=500), AfterValidator(_plain)]


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, hide_input_in_errors=True)
