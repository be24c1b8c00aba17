"""``store:`` — the encrypted state on this device."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from .base import Section

__all__ = ["StoreConfig"]


class StoreConfig(Section):
    """Where templates, consents and events live, and the key that seals them."""

    state_dir: Path = Field(
        default=Path("/var/lib/facegate"),
        description="State folder (systemd StateDirectory=, mode 0700). Holds facegate.db.",
    )
    key_file: Path | None = Field(
        default=None,
        description=(
            "Master key file (32 random bytes, mode 0600). Left out: the first that exists of "
            "$CREDENTIALS_DIRECTORY/facegate-master-key (systemd), "
            "/etc/credstore/facegate-master-key (install.sh) and <state_dir>/master.key."
        ),
    )

    @field_validator("state_dir")
    @classmethod
    def _state_dir_is_a_folder(cls, state_dir: Path) -> Path:
        if state_dir.exists() and not state_dir.is_dir():
            raise ValueError(f"{state_dir} exists and is not a folder")
        return state_dir
