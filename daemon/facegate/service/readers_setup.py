"""Build the configured readers; every event lands in one thread-safe queue."""

from __future__ import annotations

import logging
import queue
import stat
from pathlib import Path
from typing import Any

from ..clock import Clock
from ..config.readers import (
    HidReaderConfig,
    KeypadReaderConfig,
    OsdpReaderConfig,
    PinEntryConfig,
    ReaderConfig,
    WiegandReaderConfig,
)
from ..errors import GateError
from ..readers import (
    HidCardReader,
    KeypadPinReader,
    OsdpReader,
    PinAssembler,
    PinCollector,
    ReaderEvent,
    WiegandReader,
)

__all__ = ["BuiltReader", "build_reader", "read_scbk", "reader_kinds"]

logger = logging.getLogger(__name__)


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

    def close(self) -> None:
        self.adapter.close()


def reader_kinds(cfg: ReaderConfig) -> set[str]:
    """What a reader offers a door: ``card`` and/or ``keypad``."""
    if isinstance(cfg, WiegandReaderConfig):
        return {"card", "keypad"} if cfg.keypad else {"card"}
    if isinstance(cfg, KeypadReaderConfig):
        return {"keypad"}
    if isinstance(cfg, HidReaderConfig):
        return {"card"}
    return {"card", "keypad"}


def _collector(reader_id: str, pin: PinEntryConfig) -> PinCollector:
    return PinCollector(
        reader_id,
        min_length=pin.min_length,
        max_length=pin.max_length,
        end_keys=pin.end_keys,
        clear_keys=pin.clear_keys,
        timeout_s=pin.timeout_s,
    )


def read_scbk(path: Path) -> bytes:
    """The OSDP secure channel base key: 32 hex characters in a file nobody else can read."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise GateError(f"OSDP key file {path} not found") from None
    if st.st_mode & 0o077:
        raise GateError(f"OSDP key file {path} has mode {stat.S_IMODE(st.st_mode):04o}; use 0600")
    text = path.read_text(encoding="ascii", errors="replace").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise GateError(f"OSDP key file {path} must hold 32 hexadecimal characters") from None
    if len(key) != 16:
        raise GateError(f"OSDP key file {path} must hold a 16-byte key (32 hex characters)")
    return key


def build_reader(
    cfg: ReaderConfig, inbox: queue.SimpleQueue[ReaderEvent], *, pin_factory: Any, clock: Clock
) -> BuiltReader:
    """Open one reader; its events (cards, PINs, faults) go to ``inbox``."""
    put = inbox.put
    if isinstance(cfg, WiegandReaderConfig):
        assembler = PinAssembler(put, collector=_collector(cfg.id, cfg.pin))
        adapter: Any = WiegandReader(
            cfg.d0,
            cfg.d1,
            reader_id=cfg.id,
            on_event=assembler,
            pin_factory=pin_factory,
            clock=clock,
            gap_s=cfg.gap_s,
        )
        return BuiltReader(cfg, adapter, assembler)
    if isinstance(cfg, KeypadReaderConfig):
        adapter = KeypadPinReader(
            cfg.rows,
            cfg.cols,
            cfg.keys,
            reader_id=cfg.id,
            on_event=put,
            pin_factory=pin_factory,
            clock=clock,
            collector=_collector(cfg.id, cfg.pin),
        )
        adapter.start()
        return BuiltReader(cfg, adapter, None)
    if isinstance(cfg, HidReaderConfig):
        adapter = HidCardReader(
            str(cfg.device),
            reader_id=cfg.id,
            on_event=put,
            min_digits=cfg.min_digits,
            max_digits=cfg.max_digits,
            clock=clock,
        )
        return BuiltReader(cfg, adapter, None)
    assert isinstance(cfg, OsdpReaderConfig)
    adapter = OsdpReader(
        str(cfg.port),
        address=cfg.address,
        scbk=read_scbk(cfg.scbk_file),
        reader_id=cfg.id,
        on_event=put,
        baud=cfg.baud,
        clock=clock,
        collector=_collector(cfg.id, cfg.pin),
    )
    adapter.start()
    return BuiltReader(cfg, adapter, None)
