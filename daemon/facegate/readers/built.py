"""What a reader backend's ``build()`` returns: the adapter and the PIN assembler before it."""

from __future__ import annotations

from typing import Any

from ..config.readers import PinEntryConfig, ReaderConfig
from .pin_entry import PinAssembler, PinCollector

__all__ = ["BuiltReader", "pin_collector"]


class BuiltReader:
    """A reader adapter plus the PIN assembler in front of it (if any)."""

    def __init__(self, cfg: ReaderConfig, adapter: Any, assembler: PinAssembler | None) -> None:
        self.cfg = cfg
        self.adapter = adapter
        self.assembler = assembler

    def poll(self, now: float) -> None:
        self.adapter.poll(now)
        if self.assembler is not None:
            self.assembler.poll(now)

    def busy(self) -> bool:
        """Someone is typing a PIN on this reader (a partial entry is pending)."""
        return self.assembler is not None and self.assembler.busy()

    def close(self) -> None:
        self.adapter.close()


def pin_collector(reader_id: str, pin: PinEntryConfig) -> PinCollector:
    """A collector applying a reader's ``pin:`` entry rules."""
    return PinCollector(
        reader_id,
        min_length=pin.min_length,
        max_length=pin.max_length,
        end_keys=pin.end_keys,
        clear_keys=pin.clear_keys,
        timeout_s=pin.timeout_s,
        face_keys=pin.face_key or "",
    )
