"""The result type every liveness signal returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["SignalResult", "SignalStatus"]

SignalStatus = Literal["live", "spoof", "inconclusive"]


@dataclass(slots=True, frozen=True)
class SignalResult:
    """One signal's opinion on a track so far.

    Attributes:
        status: ``live`` (evidence of a live face), ``spoof`` (evidence of an attack) or
            ``inconclusive``.
        score: The signal's own score (meaning documented by each signal).
        detail: A short, non-personal explanation.
    """

    status: SignalStatus
    score: float
    detail: str = ""
