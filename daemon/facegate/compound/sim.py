"""A compound on one machine: an office, a broker on a localhost port, N gates on their own stores.

For the tests, ``facegate demo --compound`` and ``scripts/compound_scale.py``: every step is
the real one (``init_office``, ``join_request``, ``admit``, ``install_grant``; a real
Mosquitto with TLS and the ACL; a ``GateLink`` per gate on its own ``Store``), only the
doors are missing. Nothing listens beyond 127.0.0.1.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..clock import Clock
from ..store import Store
from .apply import GateKeys
from .broker import BrokerProcess, free_port
from .gate import StoreGate, office_key
from .link import GateLink, LinkSettings
from .mqtt import Endpoint
from .office import Office
from .setup import admit, init_office, install_grant, join_request

__all__ = ["SimCompound", "SimGate"]

ADDRESS = "127.0.0.1"


@dataclass
class SimGate:
    device: str
    folder: Path
    state: Path
    master_key: bytes
    store: Store | None = None
    link: GateLink | None = None
    gate: StoreGate | None = None

    def start(self, compound: str, port: int, *, clock: Clock | None = None) -> None:
        self.store = Store(self.state, self.master_key, clock=clock)
        self.gate = StoreGate(self.store, self.device, office_key(self.folder))
        settings = LinkSettings(
            compound,
            self.endpoint(port),
            self.folder / "outbox.db",
            office=office_key(self.folder),
            doors=("main",),
            home_assistant=True,
        )
        self.link = GateLink(settings, self.gate)
        self.link.start()

    def endpoint(self, port: int) -> Endpoint:
        f = self.folder
        return Endpoint(
            self.device, ADDRESS, port, f / "ca.crt", f / "device.crt", f / "device.key"
        )

    def stop(self) -> None:
        if self.link is not None:
            self.link.stop()
        if self.store is not None:
            self.store.close()
        self.link = self.store = self.gate = None


@dataclass
class SimCompound:
    root: Path
    name: str = "estate"
    gates: dict[str, SimGate] = field(default_factory=dict)
    port: int = 0
    broker: BrokerProcess | None = None
    office: Office | None = None

    @property
    def office_dir(self) -> Path:
        return self.root / "office"

    def create(self, devices: list[str]) -> None:
        """The office's folder, then each gate's join, the office's grant, its install."""
        self.port = free_port(ADDRESS)
        init_office(self.office_dir, self.name, ADDRESS, self.port, home_assistant=True)
        for device in devices:
            folder, state = self.root / device / "compound", self.root / device / "state"
            gate = SimGate(device, folder, state, os.urandom(32))
            store = Store(state, gate.master_key)
            try:
                request = join_request(folder, device, self.name, GateKeys.from_store(store))
            finally:
                store.close()
            install_grant(folder, admit(self.office_dir, request), device)
            self.gates[device] = gate

    def start_broker(self) -> None:
        self.broker = BrokerProcess(
            self.office_dir / "broker" / "mosquitto.conf", ADDRESS, self.port
        )
        self.broker.start()

    def start_office(self, **kw: Any) -> Office:
        self.office = Office(self.office_dir, host=ADDRESS, port=self.port, **kw)
        self.office.start()
        return self.office

    def close(self) -> None:
        for gate in self.gates.values():
            gate.stop()
        if self.office is not None:
            self.office.stop()
            self.office = None
        if self.broker is not None:
            self.broker.stop()
            self.broker = None
