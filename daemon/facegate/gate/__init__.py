"""Gate hardware: lock relay, door inputs, alarm and feedback outputs, the door state machine."""

from .build import build_door_runtime
from .door import Action, ClearAlarm, DoorController, Feedback, RaiseAlarm, ReleaseLock, SecureLock
from .events import (
    Alarm,
    AlarmCleared,
    DoorClosed,
    DoorOpened,
    ExitRequested,
    GateEvent,
    TamperChanged,
)
from .feedback import AlarmOutput, FeedbackDevice
from .inputs import DoorContact, ExitButton, TamperSwitch
from .lock import LockRelay, LockType
from .pins import idle_levels, make_pin_factory
from .runtime import DoorRuntime

__all__ = [
    "Action",
    "Alarm",
    "AlarmCleared",
    "AlarmOutput",
    "ClearAlarm",
    "DoorClosed",
    "DoorContact",
    "DoorController",
    "DoorOpened",
    "DoorRuntime",
    "ExitButton",
    "ExitRequested",
    "Feedback",
    "FeedbackDevice",
    "GateEvent",
    "LockRelay",
    "LockType",
    "RaiseAlarm",
    "ReleaseLock",
    "SecureLock",
    "TamperChanged",
    "TamperSwitch",
    "build_door_runtime",
    "idle_levels",
    "make_pin_factory",
]
