"""Door contact, exit button and tamper switch on MockFactory, debounced on a FakeClock.

Wiring as installed: switch to ground with the internal pull-up, so a conducting switch reads
low. A normally-closed door contact conducts while the door is shut.
"""

from __future__ import annotations

import pytest
from gpiozero.pins.mock import MockFactory

from facegate.clock import FakeClock
from facegate.errors import GateError
from facegate.gate.events import DoorClosed, DoorOpened, ExitRequested, GateEvent, TamperChanged
from facegate.gate.inputs import DoorContact, EdgeFilter, ExitButton, TamperSwitch


@pytest.fixture
def factory() -> MockFactory:
    return MockFactory()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=100.0)


# -- EdgeFilter: the pure debouncer -------------------------------------------------------------


def test_first_edge_is_reported_at_once() -> None:
    f = EdgeFilter(0.05, initial=False)
    assert f.edge(True, 10.0) is True
    assert f.state is True


def test_bounces_inside_the_window_are_ignored() -> None:
    f = EdgeFilter(0.05, initial=False)
    assert f.edge(True, 10.0) is True
    assert f.edge(False, 10.01) is None
    assert f.edge(True, 10.02) is None
    assert f.poll(10.2) is None  # settled where it was reported
    assert f.state is True


def test_change_inside_the_window_is_reported_once_settled() -> None:
    f = EdgeFilter(0.05, initial=False)
    f.edge(True, 10.0)
    assert f.edge(False, 10.02) is None
    assert f.poll(10.06) is None  # only 0.04 s stable
    assert f.poll(10.07) is False
    assert f.poll(10.5) is None


def test_edges_far_apart_are_each_reported() -> None:
    f = EdgeFilter(0.05, initial=True)
    assert f.edge(False, 1.0) is False
    assert f.edge(True, 2.0) is True
    assert f.edge(False, 3.0) is False


def test_zero_bounce_reports_everything_and_negative_is_refused() -> None:
    f = EdgeFilter(0.0, initial=False)
    assert f.edge(True, 1.0) is True
    assert f.edge(False, 1.0) is False
    with pytest.raises(ValueError):
        EdgeFilter(-0.1, initial=False)


# -- Door contact -------------------------------------------------------------------------------


def _contact(
    factory: MockFactory, clock: FakeClock, events: list[GateEvent], bounce_s: float = 0.05
) -> DoorContact:
    return DoorContact(
        5, door="main", bounce_s=bounce_s, pin_factory=factory, clock=clock, on_event=events.append
    )


def test_door_contact_open_and_close(factory: MockFactory, clock: FakeClock) -> None:
    events: list[GateEvent] = []
    contact = _contact(factory, clock, events)
    pin = factory.pin(5)
    assert contact.is_open  # pulled up, switch not conducting: open (or a cut wire)
    pin.drive_low()
    assert events == [DoorClosed("main", 100.0)] and not contact.is_open
    clock.advance(5)
    pin.drive_high()
    assert events[-1] == DoorOpened("main", 105.0) and contact.is_open
    clock.advance(5)
    pin.drive_low()
    assert events[-1] == DoorClosed("main", 110.0)
    assert len(events) == 3


def test_door_contact_bounce_is_filtered_on_the_injected_clock(
    factory: MockFactory, clock: FakeClock
) -> None:
    events: list[GateEvent] = []
    contact = _contact(factory, clock, events, bounce_s=0.05)
    pin = factory.pin(5)
    pin.drive_low()
    clock.advance(10)
    events.clear()
    pin.drive_high()  # door opens: reported at once
    for _ in range(3):  # the reed switch chatters
        clock.advance(0.005)
        pin.drive_low()
        clock.advance(0.005)
        pin.drive_high()
    assert events == [DoorOpened("main", 110.0)]
    clock.advance(1)
    contact.poll()
    assert events == [DoorOpened("main", 110.0)]


def test_door_contact_change_during_bounce_window_settles_in_poll(
    factory: MockFactory, clock: FakeClock
) -> None:
    events: list[GateEvent] = []
    contact = _contact(factory, clock, events, bounce_s=0.05)
    pin = factory.pin(5)
    pin.drive_low()
    clock.advance(10)
    events.clear()
    pin.drive_high()
    clock.advance(0.02)
    pin.drive_low()  # closed again within the bounce window: not yet reported
    assert events == [DoorOpened("main", 110.0)]
    clock.advance(0.03)
    contact.poll()  # stable for only 0.03 s
    assert len(events) == 1 and contact.is_open
    clock.advance(0.025)
    contact.poll()
    assert isinstance(events[-1], DoorClosed) and events[-1].at == pytest.approx(110.075)
    assert not contact.is_open


def test_door_contact_normally_open_and_pull_down(factory: MockFactory, clock: FakeClock) -> None:
    events: list[GateEvent] = []
    contact = DoorContact(
        6,
        door="side",
        contact="no",
        pull_up=False,
        pin_factory=factory,
        clock=clock,
        on_event=events.append,
    )
    pin = factory.pin(6)
    assert not contact.is_open  # pulled down, NO switch not conducting: door shut
    pin.drive_high()  # switch to 3V3 conducts: with "no", that is open
    assert events == [DoorOpened("side", 100.0)]


def test_bad_contact_type(factory: MockFactory) -> None:
    with pytest.raises(GateError, match="nc or no"):
        DoorContact(5, door="main", contact="nx", pin_factory=factory)  # type: ignore[arg-type]
    with pytest.raises(GateError, match="bounce"):
        DoorContact(5, door="main", bounce_s=-1, pin_factory=factory)


def test_closed_input_reports_nothing(factory: MockFactory, clock: FakeClock) -> None:
    events: list[GateEvent] = []
    with _contact(factory, clock, events) as contact:
        pass
    assert contact._device.closed
    contact.close()  # idempotent
    assert events == []


# -- Exit button ---------------------------------------------------------------------------------


def test_exit_button_press_once_release_silent(factory: MockFactory, clock: FakeClock) -> None:
    events: list[GateEvent] = []
    button = ExitButton(6, door="main", pin_factory=factory, clock=clock, on_event=events.append)
    pin = factory.pin(6)
    assert not button.is_pressed
    pin.drive_low()  # pressed (normally open, to ground)
    clock.advance(0.002)
    pin.drive_high()  # bounce
    clock.advance(0.002)
    pin.drive_low()
    assert events == [ExitRequested("main", 100.0)]
    clock.advance(0.5)
    pin.drive_high()  # released
    clock.advance(1)
    button.poll()
    assert events == [ExitRequested("main", 100.0)]
    pin.drive_low()
    assert isinstance(events[-1], ExitRequested) and events[-1].at == pytest.approx(101.504)
    assert len(events) == 2


# -- Tamper ----------------------------------------------------------------------------------------


def test_tamper_switch(factory: MockFactory, clock: FakeClock) -> None:
    events: list[GateEvent] = []
    tamper = TamperSwitch(13, door="main", pin_factory=factory, clock=clock, on_event=events.append)
    pin = factory.pin(13)
    pin.drive_low()  # enclosure closed
    assert not tamper.tampered
    clock.advance(60)
    pin.drive_high()  # cover removed
    assert tamper.tampered and events[-1] == TamperChanged("main", 160.0, True)
    clock.advance(60)
    pin.drive_low()
    assert events[-1] == TamperChanged("main", 220.0, False)


def test_events_are_frozen_and_slotted() -> None:
    event = DoorOpened("main", 1.0)
    with pytest.raises(AttributeError):
        event.door = "x"  # type: ignore[misc]
    assert not hasattr(event, "__dict__")
