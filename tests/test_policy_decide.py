"""``decide()``: every mode × credential combination, schedules, validity, lockouts, passback.

The mode table below is written out by hand (not derived from the code under test): for each
mode and each scenario it lists what every step must decide, as ``reason:factors``.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from facegate.clock import FakeClock
from facegate.policy.decide import REASONS, Decision, decide
from facegate.policy.lockout import AntiPassbackPolicy, FaceLimitPolicy, LockoutPolicy
from facegate.policy.modes import AccessMode, Factor
from facegate.policy.schedule import Holiday, ScheduleBook, Validity, WeeklySchedule
from facegate.policy.snapshot import (
    AccessEvent,
    CardPresented,
    DoorPolicy,
    ExitRequest,
    FaceMatch,
    LivenessRefused,
    ModeRule,
    Person,
    PinResolved,
    PolicySnapshot,
)

SH = ZoneInfo("Asia/Shanghai")
# Wednesday 7 January 2026, 12:00 in Shanghai.
NOON = datetime(2026, 1, 7, 12, 0, tzinfo=SH)
ALL: frozenset[Factor] = frozenset({"face", "card", "pin"})

PEOPLE = {
    "alice": Person("alice", ALL),  # face, card and PIN
    "bob": Person("bob", frozenset({"card", "pin"})),  # declined face: card and PIN only
    "carol": Person("carol", ALL),
    "vera": Person("vera", frozenset({"pin"}), Validity.day_pass(date(2026, 1, 7), SH)),
    "eve": Person("eve", frozenset({"pin"}), Validity(None, datetime(2026, 1, 1, tzinfo=SH))),
    "nina": Person("nina", frozenset({"pin"}), Validity(datetime(2026, 2, 1, tzinfo=SH), None)),
    "cleo": Person("cleo", frozenset({"pin"}), schedule="cleaning"),
    "dora": Person("dora", frozenset({"pin"}), doors=frozenset({"side"})),
}
CARDS = {"card-alice": "alice", "card-bob": "bob", "card-carol": "carol"}
BOOK = ScheduleBook(
    {
        "daytime": WeeklySchedule.build(
            "daytime",
            {d: ["07:00-22:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
        ),
        "cleaning": WeeklySchedule.build(
            "cleaning", {"wed": ["22:00-02:00"], "thu": ["10:00-11:00"]}
        ),
    },
    (Holiday(date(2026, 1, 8), "works outing", frozenset({"cleaning"})),),
)


def _door(modes: tuple[AccessMode, ...], door: str = "main", **kw: object) -> DoorPolicy:
    return DoorPolicy(door, default_modes=modes, second_factor_s=15.0, **kw)  # type: ignore[arg-type]


class Gate:
    """Feeds events to ``decide`` and carries the state forward, like the main loop."""

    def __init__(self, *doors: DoorPolicy, at: datetime = NOON) -> None:
        self.clock = FakeClock(start=1000.0, wall=at.timestamp())
        self.snapshot = PolicySnapshot({d.door: d for d in doors}, PEOPLE, CARDS, BOOK, SH)

    def send(self, event: AccessEvent) -> Decision:
        decision = decide(event, self.snapshot, self.clock)
        self.snapshot = self.snapshot.with_state(decision.state)
        return decision

    def wait(self, seconds: float) -> None:
        self.clock.advance(seconds)


def face(who: str | None, door: str = "main") -> FaceMatch:
    return FaceMatch(door, who, 0.9 if who else 0.2)


def card(owner: str | None, door: str = "main", reader: str = "card1") -> CardPresented:
    return CardPresented(door, reader, f"card-{owner}" if owner else "card-unknown")


def pin(who: str | None, door: str = "main", reader: str = "kp1") -> PinResolved:
    return PinResolved(door, reader, who)


def code(d: Decision) -> str:
    return f"{d.reason}:{'+'.join(d.factors)}"


# -- The mode × credential table ---------------------------------------------------------------

WAIT = None  # a 16 s pause: longer than second_factor_s

SCENARIOS: dict[str, list[AccessEvent | None]] = {
    "face": [face("alice")],
    "face_unknown": [face(None)],
    "face_not_enrolled": [face("bob")],  # a stale match for someone without a template
    "card": [card("alice")],
    "card_unknown": [card(None)],
    "pin": [pin("alice")],
    "pin_wrong": [pin(None)],
    "card_pin": [card("alice"), pin("alice")],
    "pin_card": [pin("alice"), card("alice")],
    "card_wrongpin": [card("alice"), pin(None)],
    "card_otherpin": [card("alice"), pin("bob")],
    "card_timeout_pin": [card("alice"), WAIT, pin("alice")],
    "face_pin": [face("alice"), pin("alice")],
    "pin_face": [pin("alice"), face("alice")],
    "face_wrongpin": [face("alice"), pin(None)],
    "face_otherpin": [face("alice"), pin("bob")],
    "face_timeout_pin": [face("alice"), WAIT, pin("alice")],
    "face_card": [face("alice"), card("alice")],
    "noface_card_pin": [card("bob"), pin("bob")],
    "noface_pin": [pin("bob")],
}

G, SFR, MNA = "granted", "second_factor_required", "mode_not_allowed"
MISMATCH = "credential_mismatch"

TABLE: dict[str, dict[str, str]] = {
    "face": {
        "face": f"{G}:face",
        "face_unknown": "unknown_face:face",
        "face_not_enrolled": "unknown_face:face",
        "card": f"{MNA}:card",
        "card_unknown": f"{MNA}:card",
        "pin": f"{MNA}:pin",
        "pin_wrong": f"{MNA}:pin",
        "card_pin": f"{MNA}:card | {MNA}:pin",
        "pin_card": f"{MNA}:pin | {MNA}:card",
        "card_wrongpin": f"{MNA}:card | {MNA}:pin",
        "card_otherpin": f"{MNA}:card | {MNA}:pin",
        "card_timeout_pin": f"{MNA}:card | {MNA}:pin",
        "face_pin": f"{G}:face | {MNA}:pin",
        "pin_face": f"{MNA}:pin | {G}:face",
        "face_wrongpin": f"{G}:face | {MNA}:pin",
        "face_otherpin": f"{G}:face | {MNA}:pin",
        "face_timeout_pin": f"{G}:face | {MNA}:pin",
        "face_card": f"{G}:face | {MNA}:card",
        "noface_card_pin": f"{MNA}:card | {MNA}:pin",
        "noface_pin": f"{MNA}:pin",
    },
    "card": {
        "face": f"{MNA}:face",
        "face_unknown": f"{MNA}:face",
        "face_not_enrolled": f"{MNA}:face",
        "card": f"{G}:card",
        "card_unknown": "unknown_card:card",
        "pin": f"{MNA}:pin",
        "pin_wrong": f"{MNA}:pin",
        "card_pin": f"{G}:card | {MNA}:pin",
        "pin_card": f"{MNA}:pin | {G}:card",
        "card_wrongpin": f"{G}:card | {MNA}:pin",
        "card_otherpin": f"{G}:card | {MNA}:pin",
        "card_timeout_pin": f"{G}:card | {MNA}:pin",
        "face_pin": f"{MNA}:face | {MNA}:pin",
        "pin_face": f"{MNA}:pin | {MNA}:face",
        "face_wrongpin": f"{MNA}:face | {MNA}:pin",
        "face_otherpin": f"{MNA}:face | {MNA}:pin",
        "face_timeout_pin": f"{MNA}:face | {MNA}:pin",
        "face_card": f"{MNA}:face | {G}:card",
        "noface_card_pin": f"{G}:card | {MNA}:pin",
        "noface_pin": f"{MNA}:pin",
    },
    "pin": {
        "face": f"{MNA}:face",
        "face_unknown": f"{MNA}:face",
        "face_not_enrolled": f"{MNA}:face",
        "card": f"{MNA}:card",
        "card_unknown": f"{MNA}:card",
        "pin": f"{G}:pin",
        "pin_wrong": "wrong_pin:pin",
        "card_pin": f"{MNA}:card | {G}:pin",
        "pin_card": f"{G}:pin | {MNA}:card",
        "card_wrongpin": f"{MNA}:card | wrong_pin:pin",
        "card_otherpin": f"{MNA}:card | {G}:pin",
        "card_timeout_pin": f"{MNA}:card | {G}:pin",
        "face_pin": f"{MNA}:face | {G}:pin",
        "pin_face": f"{G}:pin | {MNA}:face",
        "face_wrongpin": f"{MNA}:face | wrong_pin:pin",
        "face_otherpin": f"{MNA}:face | {G}:pin",
        "face_timeout_pin": f"{MNA}:face | {G}:pin",
        "face_card": f"{MNA}:face | {MNA}:card",
        "noface_card_pin": f"{MNA}:card | {G}:pin",
        "noface_pin": f"{G}:pin",
    },
    "card+pin": {
        "face": f"{MNA}:face",
        "face_unknown": f"{MNA}:face",
        "face_not_enrolled": f"{MNA}:face",
        "card": f"{SFR}:card",
        "card_unknown": "unknown_card:card",
        "pin": f"{SFR}:pin",
        "pin_wrong": "wrong_pin:pin",
        "card_pin": f"{SFR}:card | {G}:card+pin",
        "pin_card": f"{SFR}:pin | {G}:card+pin",
        "card_wrongpin": f"{SFR}:card | wrong_pin:pin",
        "card_otherpin": f"{SFR}:card | {MISMATCH}:card+pin",
        "card_timeout_pin": f"{SFR}:card | {SFR}:pin",
        "face_pin": f"{MNA}:face | {SFR}:pin",
        "pin_face": f"{SFR}:pin | {MNA}:face",
        "face_wrongpin": f"{MNA}:face | wrong_pin:pin",
        "face_otherpin": f"{MNA}:face | {SFR}:pin",
        "face_timeout_pin": f"{MNA}:face | {SFR}:pin",
        "face_card": f"{MNA}:face | {SFR}:card",
        "noface_card_pin": f"{SFR}:card | {G}:card+pin",
        "noface_pin": f"{SFR}:pin",
    },
    "face+pin": {
        "face": f"{SFR}:face",
        "face_unknown": "unknown_face:face",
        "face_not_enrolled": "unknown_face:face",
        "card": f"{MNA}:card",
        "card_unknown": f"{MNA}:card",
        "pin": f"{SFR}:pin",
        "pin_wrong": "wrong_pin:pin",
        "card_pin": f"{MNA}:card | {SFR}:pin",
        "pin_card": f"{SFR}:pin | {MNA}:card",
        "card_wrongpin": f"{MNA}:card | wrong_pin:pin",
        "card_otherpin": f"{MNA}:card | {SFR}:pin",
        "card_timeout_pin": f"{MNA}:card | {SFR}:pin",
        "face_pin": f"{SFR}:face | {G}:face+pin",
        "pin_face": f"{SFR}:pin | {G}:face+pin",
        "face_wrongpin": f"{SFR}:face | wrong_pin:pin",
        "face_otherpin": f"{SFR}:face | {MISMATCH}:face+pin",
        "face_timeout_pin": f"{SFR}:face | {SFR}:pin",
        "face_card": f"{SFR}:face | {MNA}:card",
        "noface_card_pin": f"{MNA}:card | {SFR}:pin",
        "noface_pin": f"{SFR}:pin",
    },
    "face|card|pin": {
        "face": f"{G}:face",
        "face_unknown": "unknown_face:face",
        "face_not_enrolled": "unknown_face:face",
        "card": f"{G}:card",
        "card_unknown": "unknown_card:card",
        "pin": f"{G}:pin",
        "pin_wrong": "wrong_pin:pin",
        "card_pin": f"{G}:card | {G}:pin",
        "pin_card": f"{G}:pin | {G}:card",
        "card_wrongpin": f"{G}:card | wrong_pin:pin",
        "card_otherpin": f"{G}:card | {G}:pin",
        "card_timeout_pin": f"{G}:card | {G}:pin",
        "face_pin": f"{G}:face | {G}:pin",
        "pin_face": f"{G}:pin | {G}:face",
        "face_wrongpin": f"{G}:face | wrong_pin:pin",
        "face_otherpin": f"{G}:face | {G}:pin",
        "face_timeout_pin": f"{G}:face | {G}:pin",
        "face_card": f"{G}:face | {G}:card",
        "noface_card_pin": f"{G}:card | {G}:pin",
        "noface_pin": f"{G}:pin",
    },
    "card|pin": {
        "face": f"{MNA}:face",
        "face_unknown": f"{MNA}:face",
        "face_not_enrolled": f"{MNA}:face",
        "card": f"{G}:card",
        "card_unknown": "unknown_card:card",
        "pin": f"{G}:pin",
        "pin_wrong": "wrong_pin:pin",
        "card_pin": f"{G}:card | {G}:pin",
        "pin_card": f"{G}:pin | {G}:card",
        "card_wrongpin": f"{G}:card | wrong_pin:pin",
        "card_otherpin": f"{G}:card | {G}:pin",
        "card_timeout_pin": f"{G}:card | {G}:pin",
        "face_pin": f"{MNA}:face | {G}:pin",
        "pin_face": f"{G}:pin | {MNA}:face",
        "face_wrongpin": f"{MNA}:face | wrong_pin:pin",
        "face_otherpin": f"{MNA}:face | {G}:pin",
        "face_timeout_pin": f"{MNA}:face | {G}:pin",
        "face_card": f"{MNA}:face | {G}:card",
        "noface_card_pin": f"{G}:card | {G}:pin",
        "noface_pin": f"{G}:pin",
    },
    # Two factors after face *or* card: the shape that makes face+pin lawful (Art. 10).
    "face+pin,card+pin": {
        "face": f"{SFR}:face",
        "face_unknown": "unknown_face:face",
        "face_not_enrolled": "unknown_face:face",
        "card": f"{SFR}:card",
        "card_unknown": "unknown_card:card",
        "pin": f"{SFR}:pin",
        "pin_wrong": "wrong_pin:pin",
        "card_pin": f"{SFR}:card | {G}:card+pin",
        "pin_card": f"{SFR}:pin | {G}:card+pin",
        "card_wrongpin": f"{SFR}:card | wrong_pin:pin",
        "card_otherpin": f"{SFR}:card | {MISMATCH}:card+pin",
        "card_timeout_pin": f"{SFR}:card | {SFR}:pin",
        "face_pin": f"{SFR}:face | {G}:face+pin",
        "pin_face": f"{SFR}:pin | {G}:face+pin",
        "face_wrongpin": f"{SFR}:face | wrong_pin:pin",
        "face_otherpin": f"{SFR}:face | {MISMATCH}:face+pin",
        "face_timeout_pin": f"{SFR}:face | {SFR}:pin",
        "face_card": f"{SFR}:face | {SFR}:card",
        "noface_card_pin": f"{SFR}:card | {G}:card+pin",
        "noface_pin": f"{SFR}:pin",
    },
}

CASES = [
    pytest.param(modes, scenario, expected, id=f"{modes}-{scenario}")
    for modes, row in TABLE.items()
    for scenario, expected in row.items()
]


def test_table_covers_every_mode_and_scenario() -> None:
    single = {m for m in TABLE if "," not in m}
    assert single == {m.value for m in AccessMode}
    for row in TABLE.values():
        assert set(row) == set(SCENARIOS)


@pytest.mark.parametrize(("modes", "scenario", "expected"), CASES)
def test_mode_by_credential(modes: str, scenario: str, expected: str) -> None:
    gate = Gate(_door(tuple(AccessMode(m) for m in modes.split(","))))
    got = []
    for step in SCENARIOS[scenario]:
        if step is WAIT:
            gate.wait(16.0)
            continue
        decision = gate.send(step)
        assert decision.reason in REASONS
        assert decision.granted is (decision.reason == "granted")
        got.append(code(decision))
    assert " | ".join(got) == expected


# -- Two-factor details ---------------------------------------------------------------------

TWO = (AccessMode.FACE_PIN, AccessMode.CARD_PIN)


def test_second_factor_just_inside_and_just_outside_the_window() -> None:
    gate = Gate(_door((AccessMode.CARD_PIN,)))
    gate.send(card("alice"))
    gate.wait(14.999)
    assert gate.send(pin("alice")).granted
    gate.send(card("alice"))
    gate.wait(15.0)
    assert code(gate.send(pin("alice"))) == f"{SFR}:pin"


def test_wrong_pin_ends_the_pending_card() -> None:
    gate = Gate(_door((AccessMode.CARD_PIN,)))
    gate.send(card("alice"))
    assert gate.send(pin(None)).reason == "wrong_pin"
    assert code(gate.send(pin("alice"))) == f"{SFR}:pin"  # the card must be shown again


def test_passers_by_face_does_not_displace_a_pending_card() -> None:
    gate = Gate(_door(TWO))
    gate.send(card("alice"))
    carol = gate.send(face("carol"))
    assert code(carol) == f"{SFR}:face" and carol.subject == "carol"
    assert code(gate.send(pin("alice"))) == f"{G}:card+pin"


def test_face_then_own_card_then_pin() -> None:
    gate = Gate(_door(TWO))
    gate.send(face("alice"))
    gate.send(card("alice"))
    assert code(gate.send(pin("alice"))) == f"{G}:card+pin"


def test_pending_is_per_door() -> None:
    gate = Gate(_door((AccessMode.CARD_PIN,)), _door((AccessMode.CARD_PIN,), "side"))
    gate.send(card("alice"))
    assert code(gate.send(pin("alice", door="side"))) == f"{SFR}:pin"


def test_pending_state_is_returned_not_kept() -> None:
    gate = Gate(_door((AccessMode.CARD_PIN,)))
    before = gate.snapshot
    first = gate.send(card("alice"))
    assert before.state.pending == {}  # the input snapshot is untouched
    assert set(first.state.pending) == {"main"}
    # Replaying the second factor against the *old* snapshot finds no pending card.
    assert decide(pin("alice"), before, gate.clock).reason == SFR
    assert decide(pin("alice"), gate.snapshot, gate.clock).granted


def test_decide_is_deterministic() -> None:
    gate = Gate(_door((AccessMode.CARD_PIN,)))
    gate.send(card("alice"))
    a = decide(pin("alice"), gate.snapshot, gate.clock)
    b = decide(pin("alice"), gate.snapshot, gate.clock)
    assert a == b and a.state == b.state


# -- Equal fallback ----------------------------------------------------------------------------


def test_no_face_gets_in_exactly_like_a_face() -> None:
    gate = Gate(_door((AccessMode.ANY,)))
    by_face = gate.send(face("alice"))
    by_card = gate.send(card("bob"))
    by_pin = gate.send(pin("bob"))
    for other in (by_card, by_pin):
        assert other.granted and other.reason == by_face.reason == "granted"
        assert other.alarms == by_face.alarms == ()
        assert dataclasses.replace(other, factors=(), subject=None, reader=None) == (
            dataclasses.replace(by_face, factors=(), subject=None, reader=None)
        )


def test_exit_request_is_always_granted() -> None:
    gate = Gate(DoorPolicy("main", default_modes=()))
    d = gate.send(ExitRequest("main"))
    assert d.granted and d.reason == "exit" and d.factors == ()


def test_a_face_that_failed_liveness_is_refused_through_decide() -> None:
    gate = Gate(_door((AccessMode.ANY,)))
    d = gate.send(LivenessRefused("main", "flat"))
    assert not d.granted and d.reason == "liveness" and d.factors == ("face",)
    assert d.alarms == () and d.subject is None and d.door == "main"
    attack = gate.send(LivenessRefused("main", "model", attack="3 faces failed liveness"))
    assert [(a.kind, a.door, a.detail) for a in attack.alarms] == [
        ("presentation_attack", "main", "3 faces failed liveness")
    ]
    assert gate.send(face("alice")).granted  # a refusal is not an unknown face: no rate limit
    assert gate.send(LivenessRefused("nowhere")).reason == "unknown_door"


def test_unknown_door() -> None:
    gate = Gate(_door((AccessMode.ANY,)))
    d = gate.send(pin("alice", door="nowhere"))
    assert not d.granted and d.reason == "unknown_door"


# -- Schedules and validity --------------------------------------------------------------------

DAY_NIGHT = DoorPolicy(
    "main",
    rules=(ModeRule("daytime", (AccessMode.ANY,)),),
    default_modes=(AccessMode.CARD_PIN,),
)


def test_door_mode_follows_its_schedule_window() -> None:
    assert Gate(DAY_NIGHT).send(face("alice")).granted
    night = Gate(DAY_NIGHT, at=datetime(2026, 1, 7, 23, 0, tzinfo=SH))
    assert night.send(face("alice")).reason == MNA
    assert night.send(card("alice")).reason == SFR
    assert night.send(pin("alice")).granted


def test_door_closed_outside_its_windows() -> None:
    door = DoorPolicy("main", rules=(ModeRule("daytime", (AccessMode.ANY,)),), default_modes=())
    d = Gate(door, at=datetime(2026, 1, 7, 6, 59, tzinfo=SH)).send(pin("alice"))
    assert d.reason == "outside_schedule" and not d.granted
    assert Gate(door, at=datetime(2026, 1, 7, 7, 0, tzinfo=SH)).send(pin("alice")).granted


@pytest.mark.parametrize(
    ("when", "reason"),
    [
        (datetime(2026, 1, 7, 23, 30, tzinfo=SH), "granted"),  # Wed 22:00-02:00
        (datetime(2026, 1, 8, 1, 59, tzinfo=SH), "granted"),  # ... crossing midnight
        (datetime(2026, 1, 8, 2, 0, tzinfo=SH), "outside_schedule"),
        (datetime(2026, 1, 7, 21, 59, tzinfo=SH), "outside_schedule"),
        (datetime(2026, 1, 8, 10, 30, tzinfo=SH), "outside_schedule"),  # Thursday is a holiday
        (datetime(2026, 1, 15, 10, 30, tzinfo=SH), "granted"),  # next Thursday
    ],
)
def test_person_schedule(when: datetime, reason: str) -> None:
    assert Gate(_door((AccessMode.ANY,)), at=when).send(pin("cleo")).reason == reason


def test_validity_reasons() -> None:
    gate = Gate(_door((AccessMode.ANY,)))
    assert gate.send(pin("vera")).granted
    assert gate.send(pin("eve")).reason == "expired"
    assert gate.send(pin("nina")).reason == "not_yet_valid"
    tomorrow = Gate(_door((AccessMode.ANY,)), at=datetime(2026, 1, 8, 0, 0, tzinfo=SH))
    assert tomorrow.send(pin("vera")).reason == "expired"
    yesterday = Gate(_door((AccessMode.ANY,)), at=datetime(2026, 1, 6, 23, 59, tzinfo=SH))
    assert yesterday.send(pin("vera")).reason == "not_yet_valid"


def test_genuine_but_refused_credentials_do_not_count_as_failures() -> None:
    gate = Gate(_door((AccessMode.ANY,), lockout=LockoutPolicy(max_failures=2)))
    for _ in range(5):
        assert gate.send(pin("eve")).reason == "expired"
    assert gate.send(pin("alice")).granted


def test_door_not_allowed() -> None:
    gate = Gate(_door((AccessMode.ANY,)), _door((AccessMode.ANY,), "side"))
    assert gate.send(pin("dora")).reason == "door_not_allowed"
    assert gate.send(pin("dora", door="side")).granted


# -- Lockout and face rate limit ---------------------------------------------------------------


def test_wrong_pins_lock_the_reader_with_growing_backoff() -> None:
    gate = Gate(_door((AccessMode.ANY,), lockout=LockoutPolicy(5, 30.0, 100.0, 600.0)))
    for i in range(4):
        d = gate.send(pin(None))
        assert d.reason == "wrong_pin" and d.alarms == (), i
    fifth = gate.send(pin(None))
    assert fifth.reason == "wrong_pin"
    assert [a.kind for a in fifth.alarms] == ["lockout"]
    assert "30 s" in fifth.alarms[0].detail
    # Locked: even the right PIN is not judged; other readers still work.
    assert gate.send(pin("alice")).reason == "locked_out"
    assert gate.send(card("alice")).granted
    gate.wait(29.9)
    assert gate.send(pin("alice")).reason == "locked_out"
    gate.wait(0.1)
    assert gate.send(pin("alice")).granted
    # The next streak doubles the lockout, then the cap applies.
    lengths = []
    for _ in range(3):
        for _ in range(5):
            d = gate.send(pin(None))
        lengths.append(d.alarms[0].detail)
        gate.wait(200)
    assert ["60 s" in lengths[0], "100 s" in lengths[1], "100 s" in lengths[2]] == [True] * 3


def test_unknown_cards_lock_the_card_reader() -> None:
    gate = Gate(_door((AccessMode.ANY,), lockout=LockoutPolicy(max_failures=3)))
    gate.send(card(None))
    gate.send(card(None))
    assert [a.kind for a in gate.send(card(None)).alarms] == ["lockout"]
    assert gate.send(card("alice")).reason == "locked_out"
    assert gate.send(pin("alice")).granted


def test_success_resets_the_failure_count() -> None:
    gate = Gate(_door((AccessMode.ANY,), lockout=LockoutPolicy(max_failures=3)))
    for _ in range(10):
        gate.send(pin(None))
        gate.send(pin(None))
        assert gate.send(pin("alice")).granted


def test_mismatched_second_factor_counts_as_a_failure() -> None:
    gate = Gate(_door((AccessMode.CARD_PIN,), lockout=LockoutPolicy(max_failures=2)))
    gate.send(card("alice"))
    assert gate.send(pin("bob")).reason == MISMATCH
    gate.send(card("alice"))
    d = gate.send(pin("bob"))
    assert [a.kind for a in d.alarms] == ["lockout"]


def test_unknown_faces_are_rate_limited_per_door() -> None:
    limit = FaceLimitPolicy(max_unknown=3, window_s=60.0, cooldown_s=30.0)
    gate = Gate(_door((AccessMode.ANY,), face_limit=limit), _door((AccessMode.ANY,), "side"))
    for _ in range(3):
        assert gate.send(face(None)).alarms == ()
    tripped = gate.send(face(None))
    assert [a.kind for a in tripped.alarms] == ["face_rate_limited"]
    assert gate.send(face("alice")).reason == "rate_limited"
    assert gate.send(pin("alice")).granted  # PIN and card keep working
    assert gate.send(face("alice", door="side")).granted  # other doors unaffected
    gate.wait(30.0)
    assert gate.send(face("alice")).granted


def test_unknown_faces_spread_out_are_not_limited() -> None:
    gate = Gate(_door((AccessMode.ANY,), face_limit=FaceLimitPolicy(3, 60.0, 30.0)))
    for _ in range(20):
        assert gate.send(face(None)).reason == "unknown_face"
        gate.wait(21.0)


# -- Lockouts per kind, bounded (issue 14: a lockout must not lock residents out) -------------

GW = "gw"  # one Wiegand reader with a keypad: cards and PINs arrive from the same reader id


def _lock(gate: Gate, kind: str, reader: str = GW) -> bool:
    state = gate.snapshot.state.lockouts.get((reader, kind))  # type: ignore[call-overload]
    return state is not None and state.locked(gate.clock.monotonic())


def test_wrong_pins_lock_pin_entry_only_and_cards_and_faces_still_open() -> None:
    gate = Gate(_door((AccessMode.ANY,), lockout=LockoutPolicy(max_failures=3)))
    for _ in range(2):
        assert gate.send(pin(None, reader=GW)).alarms == ()
    tripped = gate.send(pin(None, reader=GW))
    assert [a.kind for a in tripped.alarms] == ["lockout"]
    detail = tripped.alarms[0].detail
    assert detail == "pin: PIN entry at reader gw locked for 30 s after 3 failures"
    assert _lock(gate, "pin") and not _lock(gate, "card")
    assert gate.send(pin("alice", reader=GW)).reason == "locked_out"
    # The same reader's card slot and the camera are not locked: residents still get in.
    assert gate.send(card("alice", reader=GW)).granted
    assert gate.send(card("bob", reader=GW)).granted
    assert gate.send(face("carol")).granted
    # An unknown card during the PIN lock is judged (and counted) as a card, not refused.
    assert gate.send(card(None, reader=GW)).reason == "unknown_card"
    gate.wait(30.0)
    assert gate.send(pin("alice", reader=GW)).granted


def test_unknown_cards_lock_card_reads_only_and_pins_and_faces_still_open() -> None:
    gate = Gate(_door((AccessMode.ANY,), lockout=LockoutPolicy(max_failures=3)))
    for _ in range(2):
        gate.send(card(None, reader=GW))
    tripped = gate.send(card(None, reader=GW))
    assert [a.kind for a in tripped.alarms] == ["lockout"]
    assert tripped.alarms[0].detail.startswith("card: card reads at reader gw locked for 30 s")
    assert _lock(gate, "card") and not _lock(gate, "pin")
    assert gate.send(pin("alice", reader=GW)).granted
    assert gate.send(face("carol")).granted
    assert gate.send(pin(None, reader=GW)).reason == "wrong_pin"  # judged, not locked_out


def test_a_card_lock_refuses_enrolled_cards_too() -> None:
    """A brute force on card numbers ends with an enrolled number: judging enrolled cards
    during the lock would let it run at the reader's full speed, so they wait as well."""
    gate = Gate(_door((AccessMode.ANY,), lockout=LockoutPolicy(max_failures=3)))
    for _ in range(3):
        gate.send(card(None, reader=GW))
    for _ in range(50):  # numbers tried during the lock: none judged, the hit included
        assert gate.send(card(None, reader=GW)).reason == "locked_out"
    assert gate.send(card("alice", reader=GW)).reason == "locked_out"
    assert gate.send(card("alice", reader="card2")).granted  # another reader is not locked
    gate.wait(30.0)
    assert gate.send(card("alice", reader=GW)).granted


def test_a_mismatched_pin_counts_against_pin_entry_not_card_reads() -> None:
    gate = Gate(_door((AccessMode.CARD_PIN,), lockout=LockoutPolicy(max_failures=2)))
    for _ in range(2):
        assert gate.send(card("alice", reader=GW)).reason == SFR
        last = gate.send(pin("bob", reader=GW))
        assert last.reason == MISMATCH
    assert last.alarms[0].detail.startswith("pin: PIN entry at reader gw")
    assert _lock(gate, "pin") and not _lock(gate, "card")
    # A PIN alone is refused; a PIN answering a waiting card is judged (see below).
    assert gate.send(pin("carol", reader=GW)).reason == "locked_out"
    assert gate.send(card("carol", reader=GW)).reason == SFR
    assert gate.send(pin("carol", reader=GW)).granted


def test_a_mismatch_after_a_pending_pin_counts_against_that_pin_entry() -> None:
    gate = Gate(_door((AccessMode.CARD_PIN,), lockout=LockoutPolicy(max_failures=2)))
    for _ in range(2):
        assert gate.send(pin("alice")).reason == SFR  # typed at kp1
        last = gate.send(card("bob"))  # at card1
        assert last.reason == MISMATCH
    assert last.alarms[0].detail.startswith("pin: PIN entry at reader kp1")
    assert _lock(gate, "pin", "kp1") and not _lock(gate, "card", "card1")


def test_a_grant_clears_the_counts_of_the_locks_it_used() -> None:
    gate = Gate(_door((AccessMode.CARD_PIN,), lockout=LockoutPolicy(max_failures=3)))
    for _ in range(2):
        gate.send(card(None, reader=GW))
        gate.send(card("alice", reader=GW))
        gate.send(pin(None, reader=GW))
    assert gate.send(card("alice", reader=GW)).reason == SFR
    assert gate.send(pin("alice", reader=GW)).granted
    lockouts = gate.snapshot.state.lockouts
    assert lockouts[(GW, "pin")].failures == 0 and lockouts[(GW, "card")].failures == 0


# A two-factor door during a PIN lock: the PIN that answers a waiting card or face is judged.


def _flood_pins(gate: Gate, reader: str = GW) -> None:
    while not _lock(gate, "pin", reader):
        gate.send(pin(None, reader=reader))


@pytest.mark.parametrize("first", ["card", "face"])
def test_a_two_factor_door_still_opens_for_a_resident_during_a_pin_lock(first: str) -> None:
    mode = AccessMode.CARD_PIN if first == "card" else AccessMode.FACE_PIN
    gate = Gate(_door((mode,), lockout=LockoutPolicy(max_failures=3)))
    _flood_pins(gate)
    assert gate.send(pin("alice", reader=GW)).reason == "locked_out"  # a PIN alone: refused
    opener = card("alice", reader=GW) if first == "card" else face("alice")
    assert gate.send(opener).reason == SFR
    assert code(gate.send(pin("alice", reader=GW))) == f"{G}:{first}+pin"
    assert _lock(gate, "pin")  # the keypad's lock is untouched


def test_a_stolen_card_buys_no_extra_guesses_during_a_pin_lock() -> None:
    gate = Gate(_door((AccessMode.CARD_PIN,), lockout=LockoutPolicy(max_failures=3)))
    _flood_pins(gate)
    gate.send(card("alice", reader=GW))
    assert gate.send(pin(None, reader=GW)).reason == "wrong_pin"
    gate.send(card("alice", reader=GW))
    # Bob's PIN is right for Bob, but only Alice's answers Alice's card during the lock.
    assert code(gate.send(pin("bob", reader=GW))) == f"{MISMATCH}:card+pin"
    gate.send(card("alice", reader=GW))
    third = gate.send(pin(None, reader=GW))
    assert [a.detail for a in third.alarms] == [
        "pin: PIN entry after one person's card or face at reader gw locked for 30 s after "
        "3 failures"
    ]
    assert "alice" not in third.alarms[0].detail
    gate.send(card("alice", reader=GW))
    assert gate.send(pin("alice", reader=GW)).reason == "locked_out"  # Alice's own lock
    gate.send(card("carol", reader=GW))
    assert gate.send(pin("carol", reader=GW)).granted  # Carol's card is not Alice's


def test_a_pin_lock_at_a_single_factor_door_gives_no_second_factor_way_round() -> None:
    gate = Gate(_door((AccessMode.ANY,), lockout=LockoutPolicy(max_failures=3)))
    _flood_pins(gate)
    assert gate.send(card("alice", reader=GW)).granted  # the card opens alone, nothing waits
    assert gate.send(pin("alice", reader=GW)).reason == "locked_out"


# Flood and brute force, measured second by second through decide() with the default policy.

TWO_HOURS = 7200


def _flood(attempt_at: set[int], seconds: int, policy: LockoutPolicy | None = None) -> float:
    """Wrong PINs at the given seconds; returns the fraction of seconds PIN entry was locked."""
    gate = Gate(_door((AccessMode.ANY,), lockout=policy or LockoutPolicy()))
    locked = 0
    for second in range(seconds):
        if second in attempt_at:
            reason = gate.send(pin(None, reader=GW)).reason
            assert reason in ("wrong_pin", "locked_out")
        locked += _lock(gate, "pin")
        gate.wait(1.0)
    return locked / seconds


def test_the_issue_14_flood_kept_the_old_policy_shut() -> None:
    """The defect, reproduced on the old settings (cap 900 s): now refused by the config."""
    old = LockoutPolicy(max_failures=5, base_backoff_s=30.0, max_backoff_s=900.0)
    assert _flood(_patient_bursts(60, old), TWO_HOURS, old) > 0.95


def _patient_bursts(total: int, policy: LockoutPolicy) -> set[int]:
    """A burst of ``max_failures`` the second each lockout ends, until ``total`` are typed."""
    times, at, level = set(), 0, 0
    while len(times) < total:
        times |= {at + i for i in range(policy.max_failures)}
        level += 1
        at += policy.max_failures - 1 + int(policy.backoff(level)) + 1
    return times


@pytest.mark.parametrize(
    ("name", "times"),
    [
        ("one every 2 min", set(range(0, TWO_HOURS, 120))),
        ("bursts of 5 every 10 min", {b + i for b in range(0, TWO_HOURS, 600) for i in range(5)}),
        ("bursts at each lockout's end", _patient_bursts(60, LockoutPolicy())),
    ],
)
def test_sixty_wrong_pins_in_two_hours_leave_pin_entry_open_most_of_the_time(
    name: str, times: set[int]
) -> None:
    """60 wrong PINs in two hours (issue 14: 99 % locked before) leave PIN entry open at
    least 60 % of the time: each lockout needs 5 of them and lasts at most 240 s."""
    assert len(times) == 60, name
    bound = LockoutPolicy().max_locked_s(60, escalated=True) / TWO_HOURS
    assert bound == 0.4
    assert _flood(times, TWO_HOURS) <= bound, name


def test_a_patient_brute_force_gets_at_most_the_stated_guesses_a_day() -> None:
    """An attacker typing a wrong PIN every 3 s whenever PIN entry is open, for a day."""
    policy = LockoutPolicy()
    gate = Gate(_door((AccessMode.ANY,), lockout=policy))
    judged = 0
    for _ in range(0, 86400, 3):
        if not _lock(gate, "pin"):
            judged += gate.send(pin(None, reader=GW)).reason == "wrong_pin"
        gate.wait(3.0)
    assert policy.max_guesses() == 1815  # the README's threat model quotes this number
    assert 1500 < judged <= 1815


# -- Anti-passback ---------------------------------------------------------------------------


def test_anti_passback_off_by_default() -> None:
    gate = Gate(_door((AccessMode.ANY,)))
    assert gate.send(card("alice")).granted
    assert gate.send(card("alice")).granted


def test_anti_passback_on() -> None:
    policy = AntiPassbackPolicy(enabled=True, out_readers=frozenset({"card-out"}), reset_s=3600.0)
    gate = Gate(_door((AccessMode.ANY,), anti_passback=policy))
    assert gate.send(card("alice")).granted
    second = gate.send(card("alice"))  # the card passed back through the fence
    assert second.reason == "passback" and [a.kind for a in second.alarms] == ["passback"]
    assert gate.send(card("alice", reader="card-out")).granted
    assert gate.send(card("alice")).granted
    assert gate.send(card("bob")).granted  # per person
    gate.wait(3600.0)
    assert gate.send(card("alice")).granted  # forgotten after reset_s


def test_logs_name_no_one(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    gate = Gate(_door((AccessMode.ANY,), lockout=LockoutPolicy(max_failures=2)))
    gate.send(card("alice"))
    gate.send(pin(None))
    gate.send(pin(None))
    assert "alice" not in caplog.text and "card-alice" not in caplog.text
    assert "locked out" in caplog.text
