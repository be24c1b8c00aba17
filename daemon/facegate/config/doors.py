"""``doors:`` — the doors this device drives, each with its lock relay."""

from __future__ import annotations

from pydantic import Field

from .base import Section

__all__ = ["DoorConfig", "RelayConfig"]


class RelayConfig(Section):
    """The lock relay on a GPIO pin (BCM numbering)."""

    pin: int = Field(ge=0, le=27, description="BCM GPIO number driving the relay board input.")
    active_high: bool = Field(
        default=True,
        description="True when a high pin energises the relay; false for active-low boards.",
    )
    pulse_s: float = Field(
        default=3.0, ge=0.2, le=30.0, description="How long the lock stays released per grant."
    )


class DoorConfig(Section):
    """One door (gate, turnstile, entrance)."""

    id: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$",
        description="Short identifier used in events, e.g. `main` or `north-gate`.",
    )
    name: str = Field(
        default="",
        max_length=100,
        description="Human-readable name shown to the admin.",
    )
    relay: RelayConfig = Field(description="The lock relay of this door.")
