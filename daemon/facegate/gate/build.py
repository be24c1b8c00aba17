"""Build one door's runtime from its configuration (lock, inputs, siren, buzzer/LED, display,
speaker).

Devices are opened lock first: if any later device fails to open, the ones already open are
closed again (the lock into its safe state) before the error propagates, so a bad pin never
leaves a half-built door with a live relay.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..clock import Clock, SystemClock
from .display import LcdFactory, TextDisplay
from .door import DoorController
from .feedback import AlarmOutput, FeedbackDevice
from .inputs import ContactType, DoorContact, ExitButton, InputAdapter, TamperSwitch
from .lock import LockRelay
from .runtime import DoorRuntime
from .speaker import Speaker

if TYPE_CHECKING:
    from ..config.gate import DoorGateConfig

__all__ = ["build_door_runtime"]


def build_door_runtime(
    door: str,
    gate: DoorGateConfig,
    *,
    relay_pin: int,
    relay_active_high: bool = True,
    release_s: float = 3.0,
    pin_factory: Any = None,
    clock: Clock | None = None,
    lcd_factory: LcdFactory | None = None,
    speech: Path | None = None,
) -> DoorRuntime:
    """Open every device of one door and bind them to a fresh controller.

    Args:
        door: door id.
        gate: the door's hardware section.
        relay_pin: the lock relay's BCM pin (``doors[].relay.pin``).
        relay_active_high: the relay board's polarity (``doors[].relay.active_high``).
        release_s: release time per grant (``doors[].relay.pulse_s``).
        pin_factory: gpiozero pin factory.
        clock: time source shared by every device.
        lcd_factory: builds the display's LCD (a fake in the demo and tests).
        speech: the folder of rendered spoken prompts (``<state_dir>/speech``); without it a
            configured speaker stays silent.

    Raises:
        GateError: a device could not be opened (everything opened so far is closed).
    """
    clock = clock or SystemClock()
    opened: list[Any] = []
    try:
        lock = LockRelay(
            relay_pin,
            lock_type=gate.lock_type,
            active_high=relay_active_high,
            release_s=release_s,
            pin_factory=pin_factory,
            clock=clock,
            name=door,
        )
        opened.append(lock)
        inputs: list[InputAdapter] = []
        contact = tamper = None
        defaults: tuple[tuple[type[InputAdapter], Any, ContactType], ...] = (
            (DoorContact, gate.door_contact, "nc"),
            (ExitButton, gate.exit_button, "no"),
            (TamperSwitch, gate.tamper, "nc"),
        )
        for kind, cfg, default_contact in defaults:
            if cfg is None:
                continue
            device = kind(
                cfg.pin,
                door=door,
                pull_up=cfg.pull_up,
                contact=cfg.contact or default_contact,
                bounce_s=cfg.bounce_s,
                pin_factory=pin_factory,
                clock=clock,
            )
            opened.append(device)
            inputs.append(device)
            if isinstance(device, DoorContact):
                contact = device
            elif isinstance(device, TamperSwitch):
                tamper = device
        alarm = None
        if gate.alarm_relay is not None:
            a = gate.alarm_relay
            alarm = AlarmOutput(
                a.pin,
                active_high=a.active_high,
                max_on_s=a.max_on_s,
                pin_factory=pin_factory,
                clock=clock,
                name=door,
            )
            opened.append(alarm)
        feedback = None
        if gate.buzzer is not None or gate.led is not None:
            feedback = FeedbackDevice(
                gate.buzzer.pin if gate.buzzer is not None else None,
                gate.led.pin if gate.led is not None else None,
                buzzer_active_high=gate.buzzer.active_high if gate.buzzer is not None else True,
                led_active_high=gate.led.active_high if gate.led is not None else True,
                pin_factory=pin_factory,
                clock=clock,
                name=door,
            )
            opened.append(feedback)
        display = None
        if gate.display is not None:
            d = gate.display
            display = TextDisplay(
                address=d.address,
                port=d.port,
                expander=d.expander,
                cols=d.cols,
                rows=d.rows,
                hold_s=d.hold_s,
                idle_text=d.idle_text,
                lcd_factory=lcd_factory,
                clock=clock,
                name=door,
            )
            opened.append(display)
        speaker = None
        if gate.speaker is not None and speech is not None:
            speaker = Speaker(
                gate.speaker.device,
                speech,
                gate.speaker.languages,
                max_play_s=gate.speaker.max_play_s,
                clock=clock,
                name=door,
            )
            opened.append(speaker)
        controller = DoorController(
            door,
            held_open_s=gate.held_open_s,
            exit_release_s=gate.exit_release_s,
            door_open=contact.is_open if contact is not None else False,
            tampered=tamper.tampered if tamper is not None else False,
        )
        return DoorRuntime(
            controller,
            lock,
            inputs=inputs,
            alarm_output=alarm,
            feedback=feedback,
            display=display,
            speaker=speaker,
            siren_kinds=gate.siren_on,
            clock=clock,
        )
    except BaseException:
        for device in opened:
            device.close()
        raise
