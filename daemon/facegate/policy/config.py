"""Pydantic models for the access policy and the door hardware around the lock.

Kept here, beside the code they configure, until they are wired into ``facegate.config``.
Each per-door part is its own model so it can be embedded in ``doors[]`` as it stands:

.. code-block:: yaml

    timezone: Asia/Shanghai
    schedules:
      - name: daytime
        windows: {daily: ["07:00-22:00"]}
      - name: cleaners
        windows: {weekdays: ["08:00-12:00"], sat: ["22:00-02:00"]}
    holidays:
      - {date: 2026-02-17, name: Spring Festival, schedules: [cleaners]}   # closed
    doors:
      - id: main
        access:
          rules:
            - {schedule: daytime, modes: "face|card|pin"}
          default: [face+pin, card+pin]        # at night: two factors
        lockout: {max_failures: 5, base_backoff_s: 30, max_backoff_s: 900}
        gate:
          lock_type: fail_secure
          held_open_s: 30
          door_contact: {pin: 5}
          exit_button: {pin: 6}
          tamper: {pin: 13}
          alarm_relay: {pin: 19}
          buzzer: {pin: 26}
          led: {pin: 21}

The lock relay's own pin stays in ``doors[].relay`` (``facegate.config.doors``).
Cross-field errors name the key path, e.g. ``doors -> main -> access -> rules[0] -> schedule``.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..gate.events import DEFAULT_SIREN_KINDS, AlarmKind
from ..gate.lock import LockType
from .lockout import AntiPassbackPolicy, FaceLimitPolicy, LockoutPolicy
from .modes import AccessMode
from .schedule import ALWAYS, WEEKDAYS, Holiday, ScheduleBook, TimeWindow, WeeklySchedule
from .snapshot import DoorPolicy, ModeRule

__all__ = [
    "AccessConfig",
    "AccessRuleConfig",
    "AlarmRelayConfig",
    "AntiPassbackConfig",
    "DisplayConfig",
    "DoorGateConfig",
    "DoorPolicyConfig",
    "FaceLimitConfig",
    "HolidayConfig",
    "InputPinConfig",
    "LockoutConfig",
    "OutputPinConfig",
    "PolicyConfig",
    "ScheduleConfig",
]

_DAY_GROUPS: dict[str, tuple[str, ...]] = {
    "daily": WEEKDAYS,
    "weekdays": WEEKDAYS[:5],
    "weekend": WEEKDAYS[5:],
    **{day: (day,) for day in WEEKDAYS},
}
DayKey = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun", "daily", "weekdays", "weekend"]
_NAME = r"^[a-z0-9][a-z0-9_-]{0,31}$"


class _Section(BaseModel):
    """Unknown keys are errors; values are immutable once validated."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def _modes(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class ScheduleConfig(_Section):
    """A named weekly schedule."""

    name: str = Field(
        pattern=_NAME, description="Name referenced by doors and people, e.g. `daytime`."
    )
    windows: dict[DayKey, list[str]] = Field(
        min_length=1,
        description=(
            "Weekday (`mon`…`sun`, or `daily`, `weekdays`, `weekend`) → time windows "
            "`HH:MM-HH:MM`; `22:00-06:00` crosses midnight, `00:00-24:00` is all day."
        ),
    )

    @field_validator("windows")
    @classmethod
    def _parse_windows(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for day, texts in value.items():
            if len(texts) > 8:
                raise ValueError(f"{day}: at most 8 windows per day")
            for text in texts:
                try:
                    TimeWindow.parse(text)
                except ValueError as exc:
                    raise ValueError(f"{day}: {exc}") from None
        return value

    def to_schedule(self) -> WeeklySchedule:
        """The pure schedule value."""
        per_day: dict[str, list[str]] = {day: [] for day in WEEKDAYS}
        for key, texts in self.windows.items():
            for day in _DAY_GROUPS[key]:
                per_day[day].extend(texts)
        return WeeklySchedule.build(self.name, per_day)


class HolidayConfig(_Section):
    """A date on which schedules close or follow holiday windows."""

    date: dt.date = Field(description="The local date, `YYYY-MM-DD`.")
    name: str = Field(default="", max_length=64, description="Label shown to the admin.")
    schedules: list[str] | None = Field(
        default=None,
        max_length=64,
        description="Schedules it applies to; omitted = every schedule.",
    )
    windows: list[str] = Field(
        default_factory=list,
        max_length=8,
        description="Time windows that replace the weekday's on this date; empty = closed.",
    )

    @field_validator("windows")
    @classmethod
    def _parse_windows(cls, value: list[str]) -> list[str]:
        for text in value:
            TimeWindow.parse(text)
        return value

    def to_holiday(self) -> Holiday:
        """The pure holiday value."""
        return Holiday(
            day=self.date,
            name=self.name,
            schedules=None if self.schedules is None else frozenset(self.schedules),
            windows=tuple(TimeWindow.parse(t) for t in self.windows),
        )


class AccessRuleConfig(_Section):
    """While a schedule is open, the door accepts these modes."""

    schedule: str = Field(
        pattern=_NAME, description="A schedule name (or `always`); the first open rule wins."
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


class AccessConfig(_Section):
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


class LockoutConfig(_Section):
    """Reader lockout after wrong PINs or unknown cards."""

    max_failures: int = Field(default=5, ge=1, le=20, description="Failures before a lockout.")
    base_backoff_s: float = Field(
        default=30.0, ge=1.0, le=3600.0, description="First lockout; each next one doubles."
    )
    max_backoff_s: float = Field(
        default=900.0, ge=1.0, le=86400.0, description="Longest lockout (the doubling cap)."
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
        return self

    def to_policy(self) -> LockoutPolicy:
        """The pure policy value."""
        return LockoutPolicy(
            self.max_failures, self.base_backoff_s, self.max_backoff_s, self.reset_after_s
        )


class FaceLimitConfig(_Section):
    """Unknown-face rate limit per door."""

    max_unknown: int = Field(
        default=10, ge=1, le=1000, description="Unknown faces allowed per window."
    )
    window_s: float = Field(default=60.0, ge=1.0, le=3600.0, description="The sliding window.")
    cooldown_s: float = Field(
        default=60.0, ge=1.0, le=3600.0, description="How long face stays paused once tripped."
    )

    def to_policy(self) -> FaceLimitPolicy:
        """The pure policy value."""
        return FaceLimitPolicy(self.max_unknown, self.window_s, self.cooldown_s)


class AntiPassbackConfig(_Section):
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

    def to_policy(self) -> AntiPassbackPolicy:
        """The pure policy value."""
        return AntiPassbackPolicy(self.enabled, frozenset(self.out_readers), self.reset_s)


class InputPinConfig(_Section):
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


class OutputPinConfig(_Section):
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


class DisplayConfig(_Section):
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


class DoorGateConfig(_Section):
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
    siren_on: list[AlarmKind] = Field(
        default_factory=lambda: sorted(DEFAULT_SIREN_KINDS),
        max_length=8,
        description="Latched alarms that sound the siren.",
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


class DoorPolicyConfig(_Section):
    """Access policy and door hardware of one door."""

    id: str = Field(pattern=_NAME, description="The door id (as in `doors[].id`).")
    access: AccessConfig = Field(default_factory=AccessConfig, description="Modes by window.")
    lockout: LockoutConfig = Field(default_factory=LockoutConfig, description="Reader lockout.")
    face_limit: FaceLimitConfig = Field(
        default_factory=FaceLimitConfig, description="Unknown-face rate limit."
    )
    anti_passback: AntiPassbackConfig = Field(
        default_factory=AntiPassbackConfig, description="Anti-passback (off by default)."
    )
    gate: DoorGateConfig = Field(default_factory=DoorGateConfig, description="Door hardware.")

    def to_policy(self) -> DoorPolicy:
        """The pure door policy used by ``decide()``."""
        return DoorPolicy(
            door=self.id,
            rules=tuple(ModeRule(r.schedule, tuple(r.modes)) for r in self.access.rules),
            default_modes=tuple(self.access.default),
            second_factor_s=self.access.second_factor_s,
            lockout=self.lockout.to_policy(),
            face_limit=self.face_limit.to_policy(),
            anti_passback=self.anti_passback.to_policy(),
        )


class PolicyConfig(_Section):
    """Time zone, schedules, holidays and the per-door policies."""

    timezone: str = Field(
        default="Asia/Shanghai",
        max_length=64,
        description="IANA time zone the schedules and validity dates are judged in.",
    )
    schedules: list[ScheduleConfig] = Field(
        default_factory=list, max_length=64, description="Named weekly schedules."
    )
    holidays: list[HolidayConfig] = Field(
        default_factory=list, max_length=366, description="Holiday calendar."
    )
    doors: list[DoorPolicyConfig] = Field(
        default_factory=list, max_length=16, description="Per-door policy and hardware."
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value

    @model_validator(mode="after")
    def _references(self) -> PolicyConfig:
        problems: list[str] = []
        names = [s.name for s in self.schedules]
        for name in sorted({n for n in names if names.count(n) > 1}):
            problems.append(f"schedules: {name!r} is defined more than once")
        if ALWAYS in names:
            problems.append(f"schedules: {ALWAYS!r} is built in and cannot be redefined")
        known = set(names) | {ALWAYS}
        for i, holiday in enumerate(self.holidays):
            for name in holiday.schedules or ():
                if name not in known:
                    problems.append(f"holidays -> [{i}] -> schedules: unknown schedule {name!r}")
        ids = [d.id for d in self.doors]
        for door_id in sorted({d for d in ids if ids.count(d) > 1}):
            problems.append(f"doors: {door_id!r} is defined more than once")
        pins: dict[int, str] = {}
        for door in self.doors:
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
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        """The site's time zone."""
        return zoneinfo.ZoneInfo(self.timezone)

    def schedule_book(self) -> ScheduleBook:
        """The pure schedules and holidays."""
        return ScheduleBook(
            {s.name: s.to_schedule() for s in self.schedules},
            tuple(h.to_holiday() for h in self.holidays),
        )

    def door_policies(self) -> dict[str, DoorPolicy]:
        """Door id → the pure policy used by ``decide()``."""
        return {d.id: d.to_policy() for d in self.doors}
