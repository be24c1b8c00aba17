"""``audit:``, ``admin:`` and ``watchdog:`` — the appliance's security and liveness sections.

These back 2025 Measures Art. 14 (security audit, access control, authorization management,
intrusion detection) and the systemd watchdog.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from .base import Section

__all__ = ["AdminConfig", "AuditConfig", "WatchdogConfig"]

RoleName = Literal["auditor", "operator", "admin"]


def _default_groups() -> dict[str, RoleName]:
    return {"facegate-admin": "admin"}


class AuditConfig(Section):
    """The signed, hash-chained audit log in ``<state_dir>/audit``."""

    max_file_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=64 * 1024,
        le=256 * 1024 * 1024,
        description="A log file is closed (signed) and a new one started at this size.",
    )
    sign_every_records: int = Field(
        default=64, ge=1, le=10_000, description="A signature record after this many records."
    )
    sign_every_s: float = Field(
        default=60.0,
        ge=1.0,
        le=3600.0,
        description="Unsigned records are signed after at most this many seconds.",
    )


class AdminConfig(Section):
    """The admin socket and who may use it (roles by peer uid/gid, never by password)."""

    socket: Path = Field(
        default=Path("/run/facegate/admin.sock"),
        description="Socket path (in systemd's RuntimeDirectory=).",
    )
    group: str | None = Field(
        default="facegate-admin",
        max_length=32,
        description="Group owning the socket (mode 0660); empty: the daemon's own group.",
    )
    groups: dict[str, RoleName] = Field(
        default_factory=_default_groups,
        description="Group name → role (auditor, operator, admin) for callers in that group.",
    )
    uids: dict[int, RoleName] = Field(
        default_factory=dict, description="uid → role for single accounts."
    )
    root_is_admin: bool = Field(default=True, description="uid 0 has the admin role.")
    max_request_bytes: int = Field(
        default=64 * 1024, ge=1024, le=1024 * 1024, description="Largest accepted request."
    )
    timeout_s: float = Field(
        default=10.0, ge=0.5, le=300.0, description="Deadline for each whole admin request."
    )
    max_clients: int = Field(default=8, ge=1, le=64, description="Connections served at once.")

    @field_validator("socket")
    @classmethod
    def _socket_is_a_file_path(cls, socket: Path) -> Path:
        if not socket.is_absolute():
            raise ValueError("give an absolute path, such as /run/facegate/admin.sock")
        if socket.is_dir():
            raise ValueError(f"{socket} is a folder; name the socket file in it")
        return socket

    @field_validator("uids")
    @classmethod
    def _uids_are_valid(cls, uids: dict[int, str]) -> dict[int, str]:
        for uid in uids:
            if uid < 0 or uid > 2**32 - 2:
                raise ValueError(f"admin -> uids: {uid} is not a uid")
        return uids


class WatchdogConfig(Section):
    """When the daemon counts as alive, and camera/clock alarms (service/health.py)."""

    frame_stale_s: float = Field(
        default=5.0, ge=0.5, le=120.0, description="No frame for this long: camera lost."
    )
    tick_stale_s: float = Field(
        default=2.0, ge=0.1, le=60.0, description="Main loop silent this long: stalled."
    )
    dark_level: float = Field(
        default=12.0,
        ge=0.0,
        le=128.0,
        description="Mean brightness (0–255) below which it is dark.",
    )
    dark_s: float = Field(default=30.0, ge=1.0, le=3600.0, description="Dark this long: alarm.")
    frozen_s: float = Field(
        default=10.0, ge=1.0, le=600.0, description="Identical frames this long: camera frozen."
    )
    integrity_every_s: float = Field(
        default=300.0,
        ge=10.0,
        le=86400.0,
        description=(
            "How often the config and model files are fingerprinted again and the database is "
            "checked for changes made outside facegate."
        ),
    )
    clock_tolerance_s: float = Field(
        default=2.0, ge=0.1, le=3600.0, description="Wall-clock jump that raises an alarm."
    )
