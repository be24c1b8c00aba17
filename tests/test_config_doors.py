"""Door and calendar configuration: parsing, bounds, cross-field checks with key paths."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from facegate.config import FacegateConfig, access, calendar, doors, gate
from facegate.config.calendar import CalendarConfig
from facegate.config.doors import DoorConfig, door_problems
from facegate.policy.build import door_policies, schedule_book
from facegate.policy.checks import check_doors
from facegate.policy.modes import AccessMode

EXAMPLE = """\
timezone: Asia/Shanghai
schedules:
  - name: daytime
    windows: {daily: ["07:00-22:00"]}
  - name: cleaners
    windows: {weekdays: ["08:00-12:00"], sat: ["22:00-02:00"]}
holidays:
  - {date: 2026-02-17, name: Spring Festival, schedules: [cleaners]}
doors:
  - id: main
    access:
      rules:
        - {schedule: daytime, modes: "face|card|pin"}
      default: [face+pin, card+pin]
    lockout: {max_failures: 5, base_backoff_s: 30, max_backoff_s: 240}
    anti_passback: {enabled: true, out_readers: [exit-card]}
    gate:
      lock_type: fail_safe
      held_open_s: 30
      door_contact: {pin: 5}
      exit_button: {pin: 6}
      tamper: {pin: 13}
      alarm_relay: {pin: 19}
      buzzer: {pin: 26}
      led: {pin: 21}
"""


SITE = {
    "site": {"name": "Test gate", "kind": "residential_compound", "purpose": "Open the gate."},
    "camera": {"type": "replay", "path": "clip"},
}


def _config(data: dict[str, object]) -> FacegateConfig:
    """The whole configuration around a calendar (top-level keys here) and its doors."""
    cal = {k: v for k, v in data.items() if k in ("timezone", "schedules", "holidays")}
    door_list = [
        {"relay": {"pin": 17 + i}, **door}  # type: ignore[dict-item]
        for i, door in enumerate(data.get("doors", []))  # type: ignore[arg-type]
    ]
    return FacegateConfig.model_validate({**SITE, "calendar": cal, "doors": door_list})


def _load(text: str = EXAMPLE) -> FacegateConfig:
    return _config(yaml.safe_load(text))


def test_example_parses_into_pure_values() -> None:
    cfg = _load()
    book = schedule_book(cfg.calendar)
    sh = ZoneInfo("Asia/Shanghai")
    assert cfg.calendar.tz == sh
    assert book.is_open("daytime", datetime(2026, 1, 4, 7, 0, tzinfo=sh))  # a Sunday: daily
    assert book.is_open("cleaners", datetime(2026, 1, 5, 9, 0, tzinfo=sh))  # Monday
    assert not book.is_open("cleaners", datetime(2026, 2, 17, 9, 0, tzinfo=sh))  # holiday
    assert book.is_open("cleaners", datetime(2026, 1, 11, 1, 0, tzinfo=sh))  # Sat night → Sun
    door = door_policies(cfg.doors)["main"]
    assert door.rules[0].modes == (AccessMode.ANY,)
    assert door.default_modes == (AccessMode.FACE_PIN, AccessMode.CARD_PIN)
    assert door.lockout.max_failures == 5 and door.anti_passback.enabled
    assert door.anti_passback.direction("exit-card") == "out"
    gate = cfg.doors[0].gate
    assert gate.lock_type == "fail_safe" and gate.siren_on == ["door_forced", "tamper"]
    assert check_doors(cfg.doors, {"main": {"camera", "card", "keypad"}}) == []


def test_defaults() -> None:
    door = DoorConfig.model_validate({"id": "main", "relay": {"pin": 17}})
    assert door.access.default == [AccessMode.ANY]
    assert door.gate.lock_type == "fail_secure" and not door.anti_passback.enabled
    assert CalendarConfig().timezone == "Asia/Shanghai"


def test_models_are_frozen_and_forbid_extra_keys() -> None:
    cfg = _load()
    with pytest.raises(ValidationError):
        cfg.calendar.timezone = "UTC"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="extra"):
        access.LockoutConfig.model_validate({"max_failure": 3})


def _all_models() -> list[type[BaseModel]]:
    return [
        obj
        for module in (access, calendar, doors, gate)
        for obj in vars(module).values()
        if isinstance(obj, type)
        and issubclass(obj, BaseModel)
        and obj.__module__ == module.__name__
        and not obj.__name__.startswith("_")
    ]


@pytest.mark.parametrize("model", _all_models(), ids=lambda m: m.__name__)
def test_every_field_has_a_description(model: type[BaseModel]) -> None:
    assert model.model_config.get("extra") == "forbid" and model.model_config.get("frozen")
    for name, field in model.model_fields.items():
        assert field.description, f"{model.__name__}.{name}"


@pytest.mark.parametrize(
    ("section", "data"),
    [
        (access.LockoutConfig, {"max_failures": 0}),
        (access.LockoutConfig, {"base_backoff_s": 100, "max_backoff_s": 50}),
        (access.LockoutConfig, {"max_backoff_s": 301}),  # > 60 s per failure (5 failures)
        (access.LockoutConfig, {"max_failures": 20, "max_backoff_s": 1201}),
        (gate.InputPinConfig, {"pin": 28}),
        (gate.InputPinConfig, {"pin": 5, "contact": "nx"}),
        (access.AccessConfig, {"second_factor_s": 1}),
        (access.AccessConfig, {"default": "face-or-card"}),
        (gate.DoorGateConfig, {"lock_type": "magnetic"}),
        (gate.DoorGateConfig, {"held_open_s": 0}),
        (calendar.ScheduleConfig, {"name": "x", "windows": {"mon": ["25:00-26:00"]}}),
        (calendar.ScheduleConfig, {"name": "x", "windows": {"monday": ["08:00-09:00"]}}),
        (calendar.ScheduleConfig, {"name": "Bad Name", "windows": {"mon": ["08:00-09:00"]}}),
        (calendar.HolidayConfig, {"date": "2026-13-01"}),
        (DoorConfig, {"id": "main", "relay": {"pin": 17}, "gate": {"siren_on": ["fire"]}}),
    ],
)
def test_bounds(section: type[BaseModel], data: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        section.model_validate(data)


def test_lockout_cap_is_bounded_per_failure() -> None:
    """Issue 14: the old 900 s cap with 5 failures let 60 wrong PINs in two hours keep PIN
    entry shut 99 % of the time; a failure may now buy at most 60 s of lockout."""
    with pytest.raises(ValidationError, match=r"max_backoff_s <= 300 \(a flood of wrong PINs"):
        access.LockoutConfig.model_validate({"max_failures": 5, "max_backoff_s": 900})
    assert access.LockoutConfig().max_backoff_s == 240.0
    assert access.LockoutConfig(max_failures=3, max_backoff_s=180).max_backoff_s == 180.0
    assert access.LockoutConfig(max_failures=20, max_backoff_s=1200).max_backoff_s == 1200.0


def test_pins_must_differ_within_a_door() -> None:
    with pytest.raises(ValidationError, match="both use GPIO 5"):
        gate.DoorGateConfig.model_validate({"door_contact": {"pin": 5}, "buzzer": {"pin": 5}})


def test_cross_field_errors_name_the_key_path() -> None:
    data = yaml.safe_load(EXAMPLE)
    data["doors"][0]["access"]["rules"][0]["schedule"] = "nights"
    data["holidays"][0]["schedules"] = ["cleanerz"]
    data["doors"].append({"id": "side", "gate": {"buzzer": {"pin": 26}}})
    with pytest.raises(ValidationError) as info:
        _config(data)
    text = str(info.value)
    assert "doors -> main -> access -> rules[0] -> schedule: unknown schedule 'nights'" in text
    assert "holidays -> [0] -> schedules: unknown schedule 'cleanerz'" in text
    assert "doors -> side -> gate -> buzzer: GPIO 26 is already used by doors -> main" in text


def test_duplicates_and_reserved_names() -> None:
    data = {
        "schedules": [
            {"name": "a", "windows": {"mon": ["08:00-09:00"]}},
            {"name": "a", "windows": {"tue": ["08:00-09:00"]}},
            {"name": "always", "windows": {"tue": ["08:00-09:00"]}},
        ],
        "doors": [{"id": "main"}, {"id": "side"}],
    }
    with pytest.raises(ValidationError) as info:
        _config(data)
    text = str(info.value)
    assert "'a' is defined more than once" in text
    assert "'always' is built in" in text
    # Two doors with one id already fail on `doors` itself ("two doors have the id"), so
    # the key-path check is asked directly.
    cal = CalendarConfig.model_validate({"schedules": data["schedules"]})
    twins = [DoorConfig.model_validate({"id": "main", "relay": {"pin": p}}) for p in (17, 18)]
    text = "; ".join(door_problems(cal, twins))
    assert "'a' is defined more than once" in text
    assert "'always' is built in" in text
    assert "doors: 'main' is defined more than once" in text


def test_bad_timezone() -> None:
    with pytest.raises(ValidationError, match="unknown time zone"):
        CalendarConfig(timezone="Mars/Olympus")


def test_always_is_a_known_schedule() -> None:
    cfg = _config(
        {
            "doors": [
                {"id": "main", "access": {"rules": [{"schedule": "always", "modes": "card|pin"}]}}
            ]
        }
    )
    assert door_policies(cfg.doors)["main"].rules[0].schedule == "always"
