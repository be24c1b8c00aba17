"""Home Assistant MQTT discovery for a gate's doors: lock state, alarms, counters.

Per door: a ``lock`` entity (state ``LOCKED``/``UNLOCKED``; with ``remote_unlock`` on, an
``UNLOCK`` command that the gate carries out as a recorded, audited remote unlock, which the
broker's ACL lets only the ``homeassistant`` user send), one ``binary_sensor`` per alarm kind
and ``sensor`` counters of granted and denied attempts. Never a name and never a pseudonym:
the payloads carry door ids, states and counts only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ALARM_KINDS", "DoorState", "discovery", "state_messages"]

ALARM_KINDS = ("door_forced", "door_held", "tamper", "face_down")
COUNTERS = ("granted", "denied")

Message = tuple[str, str, bool]  # topic, payload, retained


@dataclass(slots=True)
class DoorState:
    locked: bool = True
    alarms: set[str] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))


def _base(compound: str, gate: str) -> str:
    return f"facegate/{compound}/{gate}/ha"


def _device(compound: str, gate: str) -> dict[str, Any]:
    return {
        "identifiers": [f"facegate-{compound}-{gate}"],
        "name": f"facegate {gate}",
        "manufacturer": "facegate",
        "model": "access gate",
    }


def discovery(compound: str, gate: str, doors: list[str], *, remote_unlock: bool) -> list[Message]:
    """The retained discovery configurations of a gate's doors."""
    base, device = _base(compound, gate), _device(compound, gate)
    availability = f"{base}/availability"
    out: list[Message] = []
    for door in doors:
        uid = f"facegate_{compound}_{gate}_{door}".replace("-", "_")
        lock: dict[str, Any] = {
            "name": f"door {door}",
            "unique_id": f"{uid}_lock",
            "state_topic": f"{base}/{door}/state",
            "availability_topic": availability,
            "device": device,
        }
        if remote_unlock:
            lock |= {
                "command_topic": f"{base}/{door}/unlock",
                "payload_unlock": "UNLOCK",
                "payload_lock": "LOCK",  # ignored: a door locks again by itself
            }
        out.append((f"homeassistant/lock/{gate}/{door}/config", json.dumps(lock), True))
        for kind in ALARM_KINDS:
            sensor = {
                "name": f"door {door} {kind.replace('_', ' ')}",
                "unique_id": f"{uid}_{kind}",
                "state_topic": f"{base}/{door}/alarm/{kind}",
                "device_class": "tamper" if kind == "tamper" else "problem",
                "availability_topic": availability,
                "device": device,
            }
            out.append(
                (
                    f"homeassistant/binary_sensor/{gate}/{door}_{kind}/config",
                    json.dumps(sensor),
                    True,
                )
            )
        for counter in COUNTERS:
            sensor = {
                "name": f"door {door} {counter}",
                "unique_id": f"{uid}_{counter}",
                "state_topic": f"{base}/{door}/counter/{counter}",
                "state_class": "total_increasing",
                "availability_topic": availability,
                "device": device,
            }
            out.append(
                (f"homeassistant/sensor/{gate}/{door}_{counter}/config", json.dumps(sensor), True)
            )
    return out


def state_messages(compound: str, gate: str, door: str, state: DoorState) -> list[Message]:
    """The retained state topics of one door."""
    base = f"{_base(compound, gate)}/{door}"
    out: list[Message] = [(f"{base}/state", "LOCKED" if state.locked else "UNLOCKED", True)]
    out += [
        (f"{base}/alarm/{kind}", "ON" if kind in state.alarms else "OFF", True)
        for kind in ALARM_KINDS
    ]
    out += [(f"{base}/counter/{c}", str(state.counts[c]), True) for c in COUNTERS]
    return out
