"""``doors:`` — the doors this device drives: lock relay, access rules and door hardware.

A door exists in this one validated form. ``facegate.policy`` derives the pure policy that
``decide()`` uses from it, and ``facegate.gate`` builds the door's devices from ``gate``.

.. code-block:: yaml

    doors:
      - id: main
        relay: {pin: 17, active_high: false}
        access:
          rules:
            - {schedule: daytime, modes: "face|card|pin"}
          default: [face+pin, card+pin]        # at night: two factors
        lockout: {max_failures: 5, base_backoff_s: 30, max_backoff_s: 240}
        gate:
          lock_type: fail_secure
          door_contact: {pin: 5}
          exit_button: {pin: 6}

Cross-field errors name the key path, e.g. ``doors -> main -> access -> rules[0] -> schedule``.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field, model_validator

from .access import AccessConfig, AntiPassbackConfig, FaceLimitConfig, LockoutConfig
from .base import Section
from .calendar import NAME_PATTERN, CalendarConfig
from .gate import DoorGateConfig
from .liveness import LivenessMode

__all__ = ["DoorConfig", "RelayConfig", "door_problems"]


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
        pattern=NAME_PATTERN,
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


def door_problems(calendar: CalendarConfig, doors: Sequence[DoorConfig]) -> list[str]:
    """What is wrong between the calendar and the doors, one line each, naming the key path.

    Repeated or reserved schedule names, holidays or door rules naming an unknown schedule,
    repeated door ids and a door-hardware GPIO used at two doors. Empty when all is well.
    """
    problems = calendar.problems()
    known = calendar.names()
    ids = [d.id for d in doors]
    for door_id in sorted({d for d in ids if ids.count(d) > 1}):
        problems.append(f"doors: {door_id!r} is defined more than once")
    pins: dict[int, str] = {}
    for door in doors:
        for j, rule in enumerate(door.access.rules):
            if rule.schedule not in known:
                problems.append(
                    f"doors -> {door.id} -> access -> rules[{j}] -> schedule: "
                    f"unknown schedule {rule.schedule!r}"
                )
        for key, pin in door.gate.pins():
            where = f"doors -> {door.id} -> gate -> {key}"
            if pin in pins:
                problems.append(f"{where}: GPIO {pin} is already used by {pins[pin]}")
            pins[pin] = where
    return problems
