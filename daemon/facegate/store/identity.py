"""Who a person is, for the admin only: sealed at rest with the person's own key."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Identity"]


@dataclass(slots=True, frozen=True)
class Identity:
    """Who the person is, for the admin only. Every field optional; sealed at rest."""

    name: str | None = None
    unit: str | None = None
    phone: str | None = None
    birth_year: int | None = None

    def __repr__(self) -> str:  # never print personal data by accident
        return "Identity(<sealed>)"
