"""Access modes: which credentials, alone or together, open a door.

A mode is a set of *alternatives*; each alternative is a set of factors that must all be
presented by the same person. A door's time window may accept several modes, and then any
alternative of any of them opens (``[face+pin, card+pin]`` is "a second factor after face or
card").

=================  =========================================
mode               alternatives
=================  =========================================
``face``           {face}
``card``           {card}
``pin``            {pin}
``card+pin``       {card, pin}
``face+pin``       {face, pin}
``face|card|pin``  {face} or {card} or {pin}
``card|pin``       {card} or {pin}
=================  =========================================

Art. 10 of the 2025 Measures: face must never be the only way in. A window that accepts face
must also accept an alternative without face, and the door needs a working reader for it;
:func:`check_doors` enforces this before the daemon starts. ``face`` and ``face+pin`` on their
own therefore never pass that check: pair them with a face-free mode in the same window (for
example ``[face+pin, card+pin]``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal, TypeAlias

from ..config.access import AccessMode

__all__ = [
    "ALTERNATIVES",
    "AccessMode",
    "Factor",
    "accepts",
    "alternatives",
    "completes",
    "could_complete",
    "modes_problems",
    "needs_reader",
    "unreachable",
]

Factor: TypeAlias = Literal["face", "card", "pin"]

_READER_FOR: dict[Factor, str] = {"face": "camera", "card": "card", "pin": "keypad"}


ALTERNATIVES: Mapping[AccessMode, tuple[frozenset[Factor], ...]] = {
    AccessMode.FACE: (frozenset({"face"}),),
    AccessMode.CARD: (frozenset({"card"}),),
    AccessMode.PIN: (frozenset({"pin"}),),
    AccessMode.CARD_PIN: (frozenset({"card", "pin"}),),
    AccessMode.FACE_PIN: (frozenset({"face", "pin"}),),
    AccessMode.ANY: (frozenset({"face"}), frozenset({"card"}), frozenset({"pin"})),
    AccessMode.CARD_OR_PIN: (frozenset({"card"}), frozenset({"pin"})),
}


def alternatives(modes: Iterable[AccessMode]) -> tuple[frozenset[Factor], ...]:
    """Every alternative of ``modes``, without duplicates, in a stable order."""
    seen: dict[frozenset[Factor], None] = {}
    for mode in modes:
        for alt in ALTERNATIVES[AccessMode(mode)]:
            seen.setdefault(alt, None)
    return tuple(seen)


def accepts(modes: Iterable[AccessMode], factor: Factor) -> bool:
    """Whether ``factor`` is part of any alternative of ``modes``."""
    return any(factor in alt for alt in alternatives(modes))


def completes(modes: Iterable[AccessMode], factors: Iterable[Factor]) -> bool:
    """Whether ``factors`` include every factor of at least one alternative."""
    have = frozenset(factors)
    return any(alt <= have for alt in alternatives(modes))


def could_complete(modes: Iterable[AccessMode], factors: Iterable[Factor]) -> bool:
    """Whether ``factors`` are a strict part of some alternative (more are needed)."""
    have = frozenset(factors)
    return any(have < alt for alt in alternatives(modes))


def needs_reader(factor: Factor) -> str:
    """The reader kind a factor needs: ``camera``, ``card`` or ``keypad``."""
    return _READER_FOR[factor]


def unreachable(modes: Iterable[AccessMode], readers: Iterable[str]) -> list[str]:
    """The alternatives of ``modes`` that need a reader kind missing from ``readers``."""
    have = frozenset(readers)
    return [
        "+".join(_ordered(alt))
        for alt in alternatives(modes)
        if any(needs_reader(f) not in have for f in alt)
    ]


def modes_problems(modes: Iterable[AccessMode], readers: Iterable[str]) -> list[str]:
    """Why one window's modes cannot be allowed, given the reader kinds the door has.

    Two problems stop the daemon: face accepted without a usable face-free alternative in the
    same window (Art. 10), and a window nobody can use. Returns messages without a key path
    (the caller adds it); empty when all is well.
    """
    mode_list = [AccessMode(m) for m in modes]
    if not mode_list:
        return []
    have = frozenset(readers)
    alts = alternatives(mode_list)
    reachable = [alt for alt in alts if all(needs_reader(f) in have for f in alt)]
    problems: list[str] = []
    if any("face" in alt for alt in alts) and not any("face" not in alt for alt in reachable):
        problems.append(
            "accepts face but offers no working PIN or card alternative; face must never be "
            "the only way in (2025 Measures Art. 10): add 'card|pin' or 'card+pin' to this "
            "window, or use 'face|card|pin', with a keypad or card reader on the door"
        )
    if not reachable:
        problems.append(
            f"no mode of this window can be used: the door has readers {sorted(have) or 'none'}"
        )
    return problems


def _ordered(factors: frozenset[Factor]) -> tuple[Factor, ...]:
    return tuple(f for f in ("face", "card", "pin") if f in factors)
