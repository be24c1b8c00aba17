"""Access modes and the start-up check that face is never the only way in (Art. 10)."""

from __future__ import annotations

import logging

import pytest

from facegate.config.doors import DoorConfig
from facegate.policy.checks import check_doors
from facegate.policy.modes import (
    AccessMode,
    accepts,
    alternatives,
    completes,
    could_complete,
    needs_reader,
)
from facegate.policy.snapshot import DoorPolicy, ModeRule

M = AccessMode
ALL_READERS = {"camera", "card", "keypad"}


def test_alternatives_of_each_mode() -> None:
    assert alternatives([M.ANY]) == (frozenset({"face"}), frozenset({"card"}), frozenset({"pin"}))
    assert alternatives([M.CARD_PIN, M.FACE_PIN]) == (
        frozenset({"card", "pin"}),
        frozenset({"face", "pin"}),
    )
    assert alternatives([M.CARD, M.CARD_OR_PIN]) == (frozenset({"card"}), frozenset({"pin"}))
    assert [m.value for m in M] == [
        "face",
        "card",
        "pin",
        "card+pin",
        "face+pin",
        "face|card|pin",
        "card|pin",
    ]


def test_accepts_completes_could_complete() -> None:
    assert accepts([M.CARD_PIN], "pin") and not accepts([M.CARD_PIN], "face")
    assert completes([M.CARD_PIN], ["card", "pin"]) and not completes([M.CARD_PIN], ["card"])
    assert could_complete([M.CARD_PIN], ["card"]) and not could_complete(
        [M.CARD_PIN], ["card", "pin"]
    )
    assert not could_complete([M.CARD], ["card"])
    assert completes([M.ANY], ["face", "pin"])  # extra factors do no harm
    assert needs_reader("face") == "camera" and needs_reader("pin") == "keypad"


def _door(*modes: AccessMode, door: str = "main") -> DoorPolicy:
    return DoorPolicy(door, default_modes=modes)


def test_face_only_door_is_refused() -> None:
    problems = check_doors([_door(M.FACE)], {"main": ALL_READERS})
    assert len(problems) == 1
    assert problems[0].startswith("doors -> main -> access -> default:")
    assert "Art. 10" in problems[0]


def test_face_plus_pin_alone_is_refused() -> None:
    # Face is mandatory there, so someone who declines face cannot get in at all.
    assert check_doors([_door(M.FACE_PIN)], {"main": ALL_READERS})


def test_any_mode_without_keypad_or_card_reader_is_refused() -> None:
    problems = check_doors([_door(M.ANY)], {"main": {"camera"}})
    assert any("Art. 10" in p for p in problems)


@pytest.mark.parametrize(
    ("modes", "readers"),
    [
        ((M.ANY,), {"camera", "keypad"}),
        ((M.ANY,), {"camera", "card"}),
        ((M.FACE_PIN, M.CARD_PIN), {"camera", "card", "keypad"}),
        ((M.FACE, M.CARD_OR_PIN), {"camera", "keypad"}),
        ((M.CARD_PIN,), {"card", "keypad"}),
        ((M.ANY,), {"keypad"}),  # no camera: face simply unused
    ],
)
def test_doors_with_an_equal_alternative_pass(
    modes: tuple[AccessMode, ...], readers: set[str]
) -> None:
    assert check_doors([_door(*modes)], {"main": readers}) == []


def test_face_plus_pin_with_card_plus_pin_needs_the_card_reader_to_work() -> None:
    door = _door(M.FACE_PIN, M.CARD_PIN)
    # The card reader failed to open: card+pin is not reachable, so face is compulsory.
    problems = check_doors([door], {"main": {"camera", "keypad"}})
    assert any("Art. 10" in p for p in problems)


def test_every_window_is_checked_and_named() -> None:
    door = DoorPolicy(
        "main",
        rules=(ModeRule("daytime", (M.ANY,)), ModeRule("night", (M.FACE,))),
        default_modes=(M.CARD_OR_PIN,),
    )
    problems = check_doors([door], {"main": ALL_READERS})
    assert len(problems) == 1 and problems[0].startswith("doors -> main -> access -> rules[1]:")


def test_a_window_nobody_can_use() -> None:
    problems = check_doors([_door(M.CARD_PIN)], {"main": {"card"}})
    assert problems and "no mode of this window can be used" in problems[0]


def test_missing_door_in_readers_and_unknown_reader_kinds() -> None:
    problems = check_doors([_door(M.CARD_OR_PIN)], {})
    assert problems
    problems = check_doors([_door(M.CARD_OR_PIN)], {"main": {"keypad", "retina"}})
    assert problems == ["doors -> main: unknown reader kind(s) ['retina']"]


def test_unreachable_alternative_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    assert check_doors([_door(M.ANY)], {"main": {"camera", "keypad"}}) == []
    assert "'card' cannot be used" in caplog.text


def test_closed_door_only_has_the_exit_button() -> None:
    assert check_doors([_door()], {"main": set()}) == []


def test_accepts_configured_doors() -> None:
    cfg = DoorConfig.model_validate(
        {"id": "gate", "relay": {"pin": 17}, "access": {"default": "face"}}
    )
    problems = check_doors([cfg], {"gate": ALL_READERS})
    assert len(problems) == 1 and "doors -> gate" in problems[0]
    ok = DoorConfig.model_validate({"id": "gate", "relay": {"pin": 17}})  # default face|card|pin
    assert check_doors([ok], {"gate": {"camera", "keypad"}}) == []
