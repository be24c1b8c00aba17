"""``doors[].gate`` — the hardware around one door's lock: contact, exit button, tamper, siren.

The lock relay's own pin stays in ``doors[].relay`` (``facegate.config.doors``).
"""

from __future__ import annotations

from typing import Literal, TypeAlias, get_args

from pydantic import Field, model_validator

from .base import Section

__all__ = [
    "ALARM_KINDS",
    "DEFAULT_SIREN_KINDS",
    "LOCK_TYPES",
    "AlarmKind",
    "AlarmRelayConfig",
    "DisplayConfig",
    "DoorGateConfig",
    "InputPinConfig",
    "LockType",
    "OutputPinConfig",
    "SpeakerConfig",
]

LockType: TypeAlias = Literal["fail_secure", "fail_safe"]
"""``fail_secure``: locked without power (strike); ``fail_safe``: released (maglock)."""
LOCK_TYPES: tuple[LockType, ...] = ("fail_secure", "fail_safe")

AlarmKind: TypeAlias = Literal[
    "door_forced",
    "door_held",
    "tamper",
    "lockout",
    "face_rate_limited",
    "passback",
    "presentation_attack",
    "face_down",
]
"""What an alarm is about.

``door_forced``: the door opened with no grant and no exit request. ``door_held``: the door
stayed open longer than ``held_open_s``. ``tamper``: a reader or enclosure tamper switch opened.
``lockout``: PIN entry (wrong PINs) or card reads (unknown cards) locked at one reader; the
detail starts with ``pin:`` or ``card:``.
``face_rate_limited``: too many unknown faces at a door in a short time.
``passback``: a credential was used twice in the same direction (anti-passback).
``presentation_attack``: several faces failed liveness at a door in a short time (photos or
screens held up to the camera).
``face_down``: face recognition is down at the camera's door (camera, models, face path or a
rule of the Measures); PIN, card and the exit button keep working. Latched while it lasts.
"""

ALARM_KINDS: frozenset[str] = frozenset(get_args(AlarmKind))

DEFAULT_SIREN_KINDS: frozenset[AlarmKind] = frozenset({"door_forced", "tamper"})
"""Latched alarms that sound the siren; ``door_held`` only beeps at the door by default."""


class InputPinConfig(Section):
    """A switch input on a GPIO pin (switch to ground, internal pull-up)."""

    pin: int = Field(ge=0, le=27, description="BCM GPIO number.")
    contact: Literal["nc", "no"] | None = Field(
        default=None,
        description=(
            "`nc`: the switch conducts in the resting state (door shut, enclosure closed); "
            "`no`: it conducts when active. Default: `nc`, but `no` for the exit button."
        ),
    )
    pull_up: bool = Field(default=True, description="Use the internal pull-up resistor.")
    bounce_s: float = Field(default=0.05, ge=0.0, le=1.0, description="Debounce time.")


class OutputPinConfig(Section):
    """A buzzer or LED on a GPIO pin."""

    pin: int = Field(ge=0, le=27, description="BCM GPIO number.")
    active_high: bool = Field(default=True, description="True when a high pin switches it on.")


class AlarmRelayConfig(OutputPinConfig):
    """The second relay: siren or alarm panel input."""

    max_on_s: float | None = Field(
        default=180.0,
        ge=1.0,
        le=3600.0,
        description="Silence the siren after this long (the alarm stays raised); null = never.",
    )


class DisplayConfig(Section):
    """A character LCD at the door (HD44780 on an I2C backpack): the feedback in words."""

    type: Literal["hd44780_i2c"] = Field(
        default="hd44780_i2c", description="The only kind supported: HD44780 behind I2C."
    )
    address: int = Field(
        default=0x27, ge=0x03, le=0x77, description="I2C address (PCF8574: 0x27 or 0x3F)."
    )
    port: int = Field(default=1, ge=0, le=10, description="I2C bus number (1 on a Pi).")
    expander: Literal["PCF8574", "MCP23008", "MCP23017"] = Field(
        default="PCF8574", description="The backpack's port-expander chip."
    )
    cols: Literal[16, 20] = Field(default=16, description="Characters per line.")
    rows: Literal[2, 4] = Field(default=2, description="Lines.")
    hold_s: float = Field(
        default=3.0, ge=0.5, le=60.0, description="Seconds a message stays before the idle text."
    )
    idle_text: str = Field(
        default="", max_length=80, description="Shown between messages (ASCII; empty: blank)."
    )


class SpeakerConfig(Section):
    """A loudspeaker at the door (any ALSA output): the liveness challenge spoken, in
    Mandarin Chinese then English, from WAV files `facegate speech render` made beforehand
    in the state folder (``<store.state_dir>/speech``), played with ``aplay``."""

    device: str = Field(
        default="default",
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_][A-Za-z0-9_:,.=]*$",
        description="ALSA output device (`aplay -D`), e.g. `default`, `plughw:1,0` for a USB "
        "speaker (`aplay -L` lists them).",
    )
    languages: tuple[Literal["zh-CN", "en"], ...] = Field(
        default=("zh-CN", "en"),
        min_length=1,
        max_length=2,
        description="Languages spoken, in this order.",
    )
    max_play_s: float = Field(
        default=8.0,
        ge=1.0,
        le=30.0,
        description="A prompt still playing after this long is stopped (the player is killed).",
    )


class DoorGateConfig(Section):
    """The hardware around one door's lock."""

    lock_type: LockType = Field(
        default="fail_secure",
        description=(
            "`fail_secure` (strike: locked without power) or `fail_safe` (maglock: released "
            "without power, and released when the daemon stops)."
        ),
    )
    held_open_s: float = Field(
        default=30.0, ge=3.0, le=3600.0, description="Door open longer than this → `door_held`."
    )
    exit_release_s: float = Field(
        default=5.0, ge=0.5, le=60.0, description="Release time for the exit button."
    )
    door_contact: InputPinConfig | None = Field(
        default=None, description="Door position switch (needed for forced/held alarms)."
    )
    exit_button: InputPinConfig | None = Field(default=None, description="Request-to-exit button.")
    tamper: InputPinConfig | None = Field(default=None, description="Reader/enclosure tamper.")
    alarm_relay: AlarmRelayConfig | None = Field(default=None, description="Siren relay.")
    buzzer: OutputPinConfig | None = Field(default=None, description="Buzzer at the door.")
    led: OutputPinConfig | None = Field(default=None, description="LED at the door.")
    display: DisplayConfig | None = Field(
        default=None,
        description="Character LCD showing the feedback and liveness challenges in words.",
    )
    speaker: SpeakerConfig | None = Field(
        default=None,
        description="Loudspeaker speaking the liveness challenges (ALSA, `aplay`); none: silent.",
    )
    siren_on: list[AlarmKind] = Field(
        default_factory=lambda: sorted(DEFAULT_SIREN_KINDS),
        max_length=9,
        description="Latched alarms that sound the siren (add face_down to hear a dead camera).",
    )

    @model_validator(mode="after")
    def _distinct_pins(self) -> DoorGateConfig:
        seen: dict[int, str] = {}
        for name, pin in self.pins():
            if pin in seen:
                raise ValueError(f"{name} and {seen[pin]} both use GPIO {pin}")
            seen[pin] = name
        return self

    def pins(self) -> list[tuple[str, int]]:
        """(key, BCM pin) of every configured input and output."""
        parts = ("door_contact", "exit_button", "tamper", "alarm_relay", "buzzer", "led")
        found = []
        for name in parts:
            part = getattr(self, name)
            if part is not None:
                found.append((name, part.pin))
        if self.display is not None and self.display.port == 1:
            found += [("display.sda", 2), ("display.scl", 3)]  # the Pi's I2C bus 1
        return found
