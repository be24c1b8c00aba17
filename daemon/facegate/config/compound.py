"""``compound:`` — this gate as one of a compound's gates (optional).

Without this section nothing changes: the gate opens no connection. With it, the daemon also
runs the compound link (``compound/link.py``): enrolments and withdrawals from the office
arrive over the compound's broker, events and alarms go to the office. The link is never on
the way of a decision; a broker that is away only delays what goes to the office.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from .base import Section

__all__ = ["CompoundConfig"]

_ID = r"^[a-z][a-z0-9-]{0,31}$"


class CompoundConfig(Section):
    """Where the compound's broker is and who this gate is there."""

    name: str = Field(pattern=_ID, description="The compound's name (as given to `compound init`).")
    device: str = Field(
        pattern=_ID, description="This gate's id in the compound (as given to `compound join`)."
    )
    broker: str = Field(
        min_length=1,
        description="The broker's LAN address (the office node's, as given to `compound init`).",
    )
    port: int = Field(default=8883, ge=1, le=65535, description="The broker's TLS port.")
    dir: Path | None = Field(
        default=None,
        description="This gate's compound folder (TLS key, certificates, the office's public "
        "key, the event outbox); default `<store.state_dir>/compound`.",
    )
    outbox_limit: int = Field(
        default=10_000,
        ge=100,
        le=1_000_000,
        description="Events kept on disk while the broker is away; beyond it the oldest go "
        "(counted, and the count reaches the office).",
    )
    home_assistant: bool = Field(
        default=False,
        description="Publish Home Assistant MQTT discovery for each door: lock state, alarms, "
        "counters (never a name or a pseudonym).",
    )
    remote_unlock: bool = Field(
        default=False,
        description="With home_assistant: let Home Assistant's unlock command release a door "
        "(a recorded, audited remote unlock; only the broker's `homeassistant` user may send it).",
    )
