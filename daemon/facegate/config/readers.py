"""``readers:`` — PIN and card readers, each serving one door; ``type:`` picks the adapter."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from .base import Section

__all__ = [
    "ButtonReaderConfig",
    "HidReaderConfig",
    "KeypadReaderConfig",
    "OsdpReaderConfig",
    "PinEntryConfig",
    "ReaderConfig",
    "WiegandReaderConfig",
]

_ID = r"^[a-z0-9][a-z0-9_-]{0,31}$"


class PinEntryConfig(Section):
    """How key presses become a PIN (like ESPHome's key_collector)."""

    min_length: int = Field(default=4, ge=4, le=12, description="Fewest digits in a PIN.")
    max_length: int = Field(default=8, ge=4, le=12, description="Most digits in a PIN.")
    end_keys: str = Field(default="#", max_length=4, description="Keys that finish an entry.")
    clear_keys: str = Field(default="*", max_length=4, description="Keys that clear an entry.")
    timeout_s: float = Field(
        default=10.0, ge=1.0, le=120.0, description="A partial entry expires after this pause."
    )
    face_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=1,
        description=(
            "A key that asks for face entry when no PIN is being typed (`A` on a 4x4 keypad; "
            "on a Wiegand keypad the clear key `*` may double as it). Needed for "
            "`face_zone.trigger: request` unless a face button is wired. Empty: none."
        ),
    )

    @model_validator(mode="after")
    def _lengths(self) -> PinEntryConfig:
        if self.min_length > self.max_length:
            raise ValueError("min_length must not exceed max_length")
        if self.face_key is not None and (
            self.face_key.isdigit() or self.face_key in self.end_keys
        ):
            raise ValueError("face_key must not be a digit or an end key")
        return self


class _ReaderBase(Section):
    id: str = Field(pattern=_ID, description="Reader id used in events and lockouts.")
    door: str = Field(pattern=_ID, description="The door (doors[].id) this reader serves.")

    def gpio_pins(self) -> list[tuple[str, int]]:
        """(key, BCM pin) of every GPIO the reader uses; none for USB and serial readers."""
        return []


class WiegandReaderConfig(_ReaderBase):
    """A Wiegand card reader or keypad on D0/D1 (through a 5 V → 3.3 V level shifter)."""

    type: Literal["wiegand"] = Field(description="Wiegand D0/D1 on two GPIO inputs.")
    d0: int = Field(ge=0, le=27, description="BCM GPIO of the D0 (data 0) line.")
    d1: int = Field(ge=0, le=27, description="BCM GPIO of the D1 (data 1) line.")
    gap_s: float = Field(
        default=0.025, ge=0.005, le=0.5, description="Silence that ends a frame, seconds."
    )
    keypad: bool = Field(
        default=True, description="The reader also has keys (4/8-bit bursts) for PIN entry."
    )
    pin: PinEntryConfig = Field(default_factory=PinEntryConfig, description="PIN entry rules.")

    def gpio_pins(self) -> list[tuple[str, int]]:
        return [("d0", self.d0), ("d1", self.d1)]


class KeypadReaderConfig(_ReaderBase):
    """A matrix keypad wired to GPIO rows and columns."""

    type: Literal["keypad"] = Field(description="Matrix keypad on GPIO.")
    rows: list[int] = Field(min_length=1, max_length=8, description="BCM GPIOs of the rows.")
    cols: list[int] = Field(min_length=1, max_length=8, description="BCM GPIOs of the columns.")
    keys: list[str] = Field(
        default=["123", "456", "789", "*0#"],
        description="Key labels, one string per row, one character per column.",
    )
    pin: PinEntryConfig = Field(default_factory=PinEntryConfig, description="PIN entry rules.")

    @model_validator(mode="after")
    def _layout(self) -> KeypadReaderConfig:
        if len(self.keys) != len(self.rows) or any(len(r) != len(self.cols) for r in self.keys):
            raise ValueError("keys must have one string per row with one character per column")
        return self

    def gpio_pins(self) -> list[tuple[str, int]]:
        return [("rows", p) for p in self.rows] + [("cols", p) for p in self.cols]


class HidReaderConfig(_ReaderBase):
    """A USB card reader that types the card number (grabbed so keys never reach a console)."""

    type: Literal["hid"] = Field(description="USB HID 'keyboard' card reader (evdev).")
    device: Path = Field(description="Its input device, e.g. /dev/input/by-id/usb-…-event-kbd.")
    min_digits: int = Field(default=4, ge=1, le=32, description="Shortest valid card number.")
    max_digits: int = Field(default=20, ge=1, le=32, description="Longest valid card number.")


class OsdpReaderConfig(_ReaderBase):
    """An OSDP reader on RS-485 (USB adapter); the secure channel is required."""

    type: Literal["osdp"] = Field(description="OSDP over RS-485 with secure channel.")
    port: Path = Field(description="Serial device, e.g. /dev/ttyUSB0.")
    address: int = Field(default=0, ge=0, le=126, description="The reader's OSDP address.")
    scbk_file: Path = Field(
        description="File (mode 0600) holding the 16-byte secure channel base key (32 hex chars)."
    )
    baud: Literal[9600, 19200, 38400, 57600, 115200] = Field(
        default=9600, description="Line speed."
    )
    pin: PinEntryConfig = Field(default_factory=PinEntryConfig, description="PIN entry rules.")


class ButtonReaderConfig(_ReaderBase):
    """A push button at the terminal that asks for face entry (to GND, internal pull-up).

    It offers no way in by itself (not a PIN or card alternative); with
    ``face_zone.trigger: request`` the face path processes a face only after it is pressed.
    """

    type: Literal["button"] = Field(description="A 'face' push button on one GPIO input.")
    gpio: int = Field(ge=0, le=27, description="BCM GPIO of the button (other side to GND).")
    bounce_s: float = Field(default=0.05, ge=0.0, le=1.0, description="Debounce time, seconds.")

    def gpio_pins(self) -> list[tuple[str, int]]:
        return [("gpio", self.gpio)]


ReaderConfig = Annotated[
    WiegandReaderConfig
    | KeypadReaderConfig
    | HidReaderConfig
    | OsdpReaderConfig
    | ButtonReaderConfig,
    Field(discriminator="type", description="A reader; `type` selects the adapter."),
]
