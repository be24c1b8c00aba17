"""Per-door access rules: which credentials open the door when, and the defences around them.

Each part is its own section inside ``doors[]`` (``access``, ``lockout``, ``face_limit``,
``anti_passback``); ``facegate.policy`` turns a validated door into its pure policy.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field, field_validator, model_validator

from .base import Section
from .calendar import NAME_PATTERN

__all__ = [
    "MAX_LOCK_PER_FAILURE_S",
    "AccessConfig",
    "AccessMode",
    "AccessRuleConfig",
    "AntiPassbackConfig",
    "FaceLimitConfig",
    "LockoutConfig",
]


class AccessMode(StrEnum):
    """The credential combinations a door can require (see ``facegate.policy.modes``)."""

    FACE = "face"
    CARD = "card"
    PIN = "pin"
    CARD_PIN = "card+pin"
    FACE_PIN = "face+pin"
    ANY = "face|card|pin"
    CARD_OR_PIN = "card|pin"


MAX_LOCK_PER_FAILURE_S = 60.0
"""The most lockout one failure may buy (``max_backoff_s / max_failures``): one wrong PIN
every two minutes then holds PIN entry at most half the time (``facegate.policy.lockout``)."""


def _modes(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class AccessRuleConfig(Section):
    """While a schedule is open, the door accepts these modes."""

    schedule: str = Field(
        pattern=NAME_PATTERN, description="A schedule name (or `always`); the first open rule wins."
    )
    modes: list[AccessMode] = Field(
        min_length=1,
        max_length=7,
        description=(
            "One mode or a list; any of them opens: `face`, `card`, `pin`, `card+pin`, "
            "`face+pin`, `face|card|pin`, `card|pin`."
        ),
    )

    @field_validator("modes", mode="before")
    @classmethod
    def _as_list(cls, value: Any) -> Any:
        return _modes(value)


class AccessConfig(Section):
    """Which credentials open the door, by time window."""

    rules: list[AccessRuleConfig] = Field(
        default_factory=list, max_length=16, description="Checked in order; first open wins."
    )
    default: list[AccessMode] = Field(
        default_factory=lambda: [AccessMode.ANY],
        max_length=7,
        description="Modes when no rule is open; an empty list closes the door to credentials.",
    )
    second_factor_s: float = Field(
        default=15.0,
        ge=3.0,
        le=120.0,
        description="How long a first factor (card, face or PIN) waits for the second.",
    )

    @field_validator("default", mode="before")
    @classmethod
    def _as_list(cls, value: Any) -> Any:
        return _modes(value)


class LockoutConfig(Section):
    """Lockout after wrong PINs or unknown cards: wrong PINs lock PIN entry at that reader,
    unknown cards lock card reads at that reader; cards, PINs and faces never lock each other."""

    max_failures: int = Field(
        default=5, ge=1, le=20, description="Wrong PINs (or unknown cards) before a lockout."
    )
    base_backoff_s: float = Field(
        default=30.0, ge=1.0, le=1200.0, description="First lockout; each next one doubles."
    )
    max_backoff_s: float = Field(
        default=240.0,
        ge=1.0,
        le=1200.0,
        description=(
            "Longest lockout (the doubling cap); at most 60 s per failure "
            "(max_failures × 60), so a flood cannot hold a reader shut."
        ),
    )
    reset_after_s: float = Field(
        default=600.0,
        ge=10.0,
        le=86400.0,
        description="Quiet time after which a reader starts afresh (count and back-off).",
    )

    @model_validator(mode="after")
    def _order(self) -> LockoutConfig:
        if self.max_backoff_s < self.base_backoff_s:
            raise ValueError("max_backoff_s must be at least base_backoff_s")
        if self.max_backoff_s > self.max_failures * MAX_LOCK_PER_FAILURE_S:
            raise ValueError(
                f"max_backoff_s {self.max_backoff_s:g} with max_failures {self.max_failures} "
                f"lets one failure hold the lock {self.max_backoff_s / self.max_failures:g} s; "
                f"at most {MAX_LOCK_PER_FAILURE_S:g} s, so max_backoff_s <= "
                f"{self.max_failures * MAX_LOCK_PER_FAILURE_S:g} (a flood of wrong PINs would "
                "otherwise keep PIN entry shut most of the time)"
            )
        return self


class FaceLimitConfig(Section):
    """Unknown-face rate limit per door."""

    max_unknown: int = Field(
        default=10, ge=1, le=1000, description="Unknown faces allowed per window."
    )
    window_s: float = Field(default=60.0, ge=1.0, le=3600.0, description="The sliding window.")
    cooldown_s: float = Field(
        default=60.0, ge=1.0, le=3600.0, description="How long face stays paused once tripped."
    )


class AntiPassbackConfig(Section):
    """Anti-passback: no second entry without an exit in between."""

    enabled: bool = Field(default=False, description="Off by default.")
    out_readers: list[str] = Field(
        default_factory=list,
        max_length=16,
        description="Reader ids on the secure side (their grants count as exits).",
    )
    reset_s: float | None = Field(
        default=43200.0,
        ge=60.0,
        le=7 * 86400.0,
        description="Forget a person's direction after this long; null = never.",
    )
