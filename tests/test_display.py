"""The door display: feedback in words on an HD44780 over I2C (a fake LCD stands in)."""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from facegate.clock import FakeClock
from facegate.config.gate import DoorGateConfig
from facegate.errors import GateError
from facegate.gate.build import build_door_runtime
from facegate.gate.display import DEFAULT_TEXTS, TextDisplay, wrap_text


class FakeLcd:
    """Records what RPLCD's CharLCD would have put on the glass."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.rows: list[str] = []
        self.cursor_pos = (0, 0)
        self.closed = False
        self.fail_writes = False

    def clear(self) -> None:
        self.rows = [""] * self.kwargs["rows"]

    def write_string(self, text: str) -> None:
        if self.fail_writes:
            raise OSError(121, "Remote I/O error")
        row, col = self.cursor_pos
        assert col == 0 and len(text) <= self.kwargs["cols"]
        assert text.isascii(), text  # the HD44780 ROM has no Unicode
        self.rows[row] = text

    def close(self, clear: bool = False) -> None:
        self.closed = True

    @property
    def text(self) -> str:
        return " | ".join(r for r in self.rows if r)


def lcd_factory() -> tuple[list[FakeLcd], Any]:
    made: list[FakeLcd] = []

    def factory(**kwargs: Any) -> FakeLcd:
        made.append(FakeLcd(**kwargs))
        return made[-1]

    return made, factory


def test_wrap_text_fits_the_glass() -> None:
    assert wrap_text("Please turn or nod your head", 16, 2) == ["Please turn or", "nod your head"]
    assert wrap_text("a  b\n c", 16, 2) == ["a b c"]
    cut = wrap_text("one two three four five six seven eight nine ten", 10, 2)
    assert len(cut) == 2 and cut[-1].endswith("...") and all(len(x) <= 10 for x in cut)
    for text in DEFAULT_TEXTS.values():
        assert len(wrap_text(text, 16, 2)) <= 2 and "..." not in " ".join(wrap_text(text, 16, 2))


def test_a_message_holds_then_the_idle_text_returns() -> None:
    made, factory = lcd_factory()
    clock = FakeClock()
    display = TextDisplay(
        lcd_factory=factory, clock=clock, hold_s=3.0, idle_text="Face, PIN or card"
    )
    (lcd,) = made
    assert lcd.kwargs["address"] == 0x27 and lcd.kwargs["i2c_expander"] == "PCF8574"
    assert lcd.text == "Face, PIN or | card"
    display.play("denied", now=10.0)
    assert lcd.text == "Not recognised - | use PIN or card"
    display.poll(12.9)
    assert "Not recognised" in lcd.text
    display.poll(13.0)
    assert lcd.text == "Face, PIN or | card"
    display.show("Please blink", 5.0, now=20.0)
    display.poll(24.0)
    assert lcd.text == "Please blink"
    display.close()
    display.close()
    assert lcd.closed


def test_a_failing_display_never_stops_the_gate(caplog: pytest.LogCaptureFixture) -> None:
    made, factory = lcd_factory()
    display = TextDisplay(lcd_factory=factory, clock=FakeClock())
    made[0].fail_writes = True
    display.play("granted", now=1.0)  # logged, not raised
    assert "display write failed" in caplog.text


def test_a_display_that_does_not_answer_is_a_gate_error() -> None:
    def absent(**kwargs: Any) -> Any:
        raise OSError(121, "Remote I/O error")

    with pytest.raises(GateError, match="no display answers at I2C address 0x3f on bus 1"):
        TextDisplay(address=0x3F, lcd_factory=absent)


def test_without_rplcd_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_rplcd(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("RPLCD"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_rplcd)
    with pytest.raises(GateError, match=r"facegate\[pi\]"):
        TextDisplay()


def test_the_door_runtime_says_its_feedback_on_the_display() -> None:
    made, factory = lcd_factory()
    clock = FakeClock()
    gate = DoorGateConfig.model_validate({"display": {"cols": 20, "rows": 4, "hold_s": 2}})
    runtime = build_door_runtime(
        "main", gate, relay_pin=17, pin_factory=MockFactory(), clock=clock, lcd_factory=factory
    )
    (lcd,) = made
    assert (lcd.kwargs["cols"], lcd.kwargs["rows"]) == (20, 4)
    runtime.grant(now=1.0)
    assert lcd.text == "Welcome - door open"
    runtime.poll(3.5)
    assert lcd.text == ""
    runtime.prompt("challenge_turn", now=4.0)
    runtime.show_text("Bitte den Kopf drehen", 3.0, now=4.0)
    assert lcd.text == "Bitte den Kopf | drehen"
    runtime.close()
    assert lcd.closed


def test_the_display_takes_the_i2c_pins() -> None:
    with pytest.raises(ValueError, match="GPIO 2"):
        DoorGateConfig.model_validate({"display": {}, "buzzer": {"pin": 2}})
    DoorGateConfig.model_validate({"display": {"port": 0}, "buzzer": {"pin": 2}})
    with pytest.raises(ValueError):
        DoorGateConfig.model_validate({"display": {"cols": 17}})


def test_the_logged_stand_in_says_what_it_would_show(caplog: pytest.LogCaptureFixture) -> None:
    from facegate.gate.display import LoggedLcd

    caplog.set_level("INFO")
    display = TextDisplay(lcd_factory=LoggedLcd, clock=FakeClock(), hold_s=1.0)
    display.play("challenge_blink", now=0.0)
    display.poll(2.0)
    display.close()
    assert "display: Please blink" in caplog.text


def test_a_liveness_refusal_shows_its_result_on_the_display(tmp_path: Path) -> None:
    """The challenge's result at the door: a face refused by liveness reads "Face check
    failed", not "Not recognised"; other denials keep their own text."""
    from facegate.config import load_config_text
    from facegate.policy.decide import Decision
    from facegate.service.actuator import LIVENESS_REFUSED_TEXT, Actuator
    from helpers import MINIMAL_CONFIG

    made, factory = lcd_factory()
    text = MINIMAL_CONFIG.format(clip=tmp_path / "clip", state=tmp_path / "state")
    text = text.replace(
        "    relay: {pin: 17, pulse_s: 3.0}",
        "    relay: {pin: 17, pulse_s: 3.0}\n    gate: {display: {cols: 20, rows: 4}}",
    )
    actuator = Actuator(FakeClock(), "main")
    actuator.open_doors(load_config_text(text), MockFactory(), factory)
    try:
        (lcd,) = made
        actuator.act(Decision(False, "liveness", door="main"), method="face")
        assert lcd.text == "Face check failed - | use PIN or card"
        assert LIVENESS_REFUSED_TEXT.startswith("Face check failed")
        actuator.act(Decision(False, "unknown_face", door="main"), method="face")
        assert lcd.text.startswith("Not recognised")
    finally:
        actuator.close_doors()
