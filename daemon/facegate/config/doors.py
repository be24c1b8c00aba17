"""``doors:`` — the doors this device drives, each with its lock relay."""

from __future__ import annotations

from pydantic import Field, model_validator

from ..policy.config import (
    AccessConfig,
    AntiPassbackConfig,
    DoorGateConfig,
    DoorPolicyConfig,
    FaceLimitConfig,
    LockoutConfig,
)
from .base import Section
from .liveness import LivenessMode

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
    access: AccessConfig = Field(
        default_factory=AccessConfig,
        description="Which credentials open the door, by schedule window (default: any).",
    )
    lockout: LockoutConfig = Field(
        default_factory=LockoutConfig, description="Brute-force defence per reader."
    )
    face_limit: FaceLimitConfig = Field(
        default_factory=FaceLimitConfig, description="Rate limit for unknown faces."
    )
    anti_passback: AntiPassbackConfig = Field(
        default_factory=AntiPassbackConfig, description="Anti-passback (off by default)."
    )
    gate: DoorGateConfig = Field(
        default_factory=DoorGateConfig,
        description="Lock type, door contact, exit button, tamper, siren, buzzer and LED.",
    )
    liveness: LivenessMode | None = Field(
        default=None,
        description="Liveness for faces at this door: off, passive or passive+challenge. "
        "Empty means the `liveness.mode` of the whole device.",
    )

    @model_validator(mode="after")
    def _relay_pin_free(self) -> DoorConfig:
        for role, pin in self.gate.pins():
            if pin == self.relay.pin:
                raise ValueError(f"gate.{role} uses GPIO {pin}, which is the lock relay's pin")
        return self

    def policy_config(self) -> DoorPolicyConfig:
        """This door's rules in the access policy's own form."""
        return DoorPolicyConfig(
            id=self.id,
            access=self.access,
            lockout=self.lockout,
            face_limit=self.face_limit,
            anti_passback=self.anti_passback,
            gate=self.gate,
        )
