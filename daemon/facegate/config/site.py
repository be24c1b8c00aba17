"""``site:`` — where facegate is installed and why (Art. 4 purpose, Art. 13 place)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from .base import Section

__all__ = ["PRIVATE_SPACE_KINDS", "SiteConfig", "SiteKind"]


class SiteKind(StrEnum):
    """The kind of place the gate guards.

    The private-space kinds are listed so that a configuration naming one is *understood*
    and then refused with the article that forbids it (2025 Measures Art. 13), rather than
    rejected as an unknown word.
    """

    RESIDENTIAL_COMPOUND = "residential_compound"
    OFFICE_BUILDING = "office_building"
    CAMPUS = "campus"
    FACTORY = "factory"
    PARKING = "parking"
    OTHER_PUBLIC_ENTRANCE = "other_public_entrance"
    # Private spaces: face recognition is forbidden there (Art. 13).
    HOTEL_ROOM = "hotel_room"
    BATHHOUSE = "bathhouse"
    CHANGING_ROOM = "changing_room"
    RESTROOM = "restroom"
    TOILET = "toilet"
    DORMITORY_ROOM = "dormitory_room"
    FITTING_ROOM = "fitting_room"


PRIVATE_SPACE_KINDS = frozenset(
    {
        SiteKind.HOTEL_ROOM,
        SiteKind.BATHHOUSE,
        SiteKind.CHANGING_ROOM,
        SiteKind.RESTROOM,
        SiteKind.TOILET,
        SiteKind.DORMITORY_ROOM,
        SiteKind.FITTING_ROOM,
    }
)


class SiteConfig(Section):
    """Identity and purpose of the installation."""

    name: str = Field(
        min_length=1,
        max_length=200,
        description="Human-readable name of the site, printed on the notice sign.",
    )
    kind: SiteKind = Field(
        description=(
            "What kind of place this gate guards. Private-space kinds (hotel_room, bathhouse, "
            "changing_room, restroom, toilet, dormitory_room, fitting_room) are refused at start "
            "(2025 Measures Art. 13)."
        ),
    )
    purpose: str = Field(
        min_length=10,
        max_length=1000,
        description=(
            "The specific purpose of face recognition here, in one or two sentences "
            "(Art. 4: a specific purpose and sufficient necessity)."
        ),
    )
