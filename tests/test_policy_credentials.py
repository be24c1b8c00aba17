"""PIN hashing (Argon2id), keyed card hashes, the credential index, and no secrets anywhere."""

from __future__ import annotations

import logging
import pickle

import nacl.pwhash.argon2id as argon2id
import pytest

from facegate.policy import credentials as cred
from facegate.policy.credentials import (
    CardNumber,
    CredentialError,
    CredentialIndex,
    CredentialKeys,
    Pin,
    PinRecord,
)
from facegate.policy.snapshot import CardPresented, PinResolved, PolicySnapshot

# The cheapest Argon2id settings keep most tests fast; one test uses the real cost.
FAST = {"opslimit": argon2id.OPSLIMIT_MIN, "memlimit": argon2id.MEMLIMIT_MIN}
SECRET_PIN = "739184"
SECRET_CARD = "0413A2B1C9"
KEY_A = bytes(range(32))
KEY_B = bytes(range(1, 33))


def test_same_pin_verifies_wrong_pin_fails_with_the_real_cost() -> None:
    stored = cred.hash_pin(Pin(SECRET_PIN))
    assert stored.startswith("$argon2id$")
    assert f"m={cred.PIN_MEMLIMIT // 1024},t={cred.PIN_OPSLIMIT}" in stored
    assert cred.verify_pin(stored, Pin(SECRET_PIN))
    assert not cred.verify_pin(stored, Pin("739185"))
    assert SECRET_PIN not in stored


def test_hashes_are_salted() -> None:
    assert cred.hash_pin(Pin("1234"), **FAST) != cred.hash_pin(Pin("1234"), **FAST)


def test_malformed_hash_never_verifies() -> None:
    assert not cred.verify_pin("not a hash", Pin("1234"))
    assert not cred.verify_pin("", Pin("1234"))


def test_needs_rehash() -> None:
    assert cred.needs_rehash(cred.hash_pin(Pin("1234"), **FAST))
    assert not cred.needs_rehash(cred.hash_pin(Pin("1234")))
    assert cred.needs_rehash("garbage")


def test_card_hash_is_keyed() -> None:
    card = CardNumber(SECRET_CARD)
    a = cred.hash_card(card, KEY_A)
    assert a == cred.hash_card(CardNumber(SECRET_CARD), KEY_A)
    assert a != cred.hash_card(card, KEY_B)  # different key → different hash
    assert a != cred.hash_card(CardNumber("0413A2B1CA"), KEY_A)
    assert len(a) == 64 and int(a, 16) >= 0
    assert SECRET_CARD.lower() not in a.lower()
    assert cred.hash_card(CardNumber(SECRET_CARD.encode()), KEY_A) == a
    with pytest.raises(CredentialError):
        cred.hash_card(card, b"short")


def test_pin_tag_is_keyed_and_differs_from_card_hash() -> None:
    tag = cred.pin_tag(Pin(SECRET_PIN), KEY_A)
    assert tag == cred.pin_tag(Pin(SECRET_PIN), KEY_A)
    assert tag != cred.pin_tag(Pin(SECRET_PIN), KEY_B)
    with pytest.raises(CredentialError):
        cred.pin_tag(Pin(SECRET_PIN), b"")


def test_derive_keys() -> None:
    keys = cred.derive_keys(KEY_A)
    assert keys == cred.derive_keys(KEY_A)
    assert keys.card_key != keys.pin_key
    assert keys != cred.derive_keys(KEY_B)
    with pytest.raises(CredentialError):
        cred.derive_keys(b"x" * 16)
    with pytest.raises(CredentialError):
        CredentialKeys(b"x", b"y")


@pytest.mark.parametrize("bad", ["12a4", "123", "1" * 13, "", "12 34", "١٢٣٤"])
def test_bad_pins_are_refused_without_echoing_them(bad: str) -> None:
    with pytest.raises(CredentialError) as info:
        Pin(bad)
    if bad:
        assert bad not in str(info.value)


def test_bad_card_numbers() -> None:
    with pytest.raises(CredentialError):
        CardNumber(b"")
    with pytest.raises(CredentialError):
        CardNumber("x" * 65)


def test_secrets_never_in_repr_str_or_pickle() -> None:
    pin, card = Pin(SECRET_PIN), CardNumber(SECRET_CARD)
    keys = cred.derive_keys(KEY_A)
    tag = cred.pin_tag(pin, keys.pin_key)
    card_hash = cred.hash_card(card, keys.card_key)
    record = PinRecord("p-1", tag, cred.hash_pin(pin, **FAST))
    index = CredentialIndex({card_hash: "p-1"}, [record])
    texts = [
        repr(pin),
        str(pin),
        f"{pin}",
        repr(card),
        str(card),
        repr(keys),
        repr(record),
        repr(index),
        repr(CardPresented("main", "card1", card_hash)),
        repr(PinResolved("main", "kp1", "p-1")),
        repr(PolicySnapshot({}, cards={card_hash: "p-1"})),
    ]
    for text in texts:
        assert SECRET_PIN not in text and SECRET_CARD not in text
        assert tag not in text and card_hash not in text
        assert keys.card_key.hex() not in text and keys.pin_key.hex() not in text
    assert repr(pin) == "Pin(<redacted>)" and repr(card) == "CardNumber(<redacted>)"
    with pytest.raises(TypeError):
        pickle.dumps(pin)
    with pytest.raises(TypeError):
        pickle.dumps(card)


def test_pin_equality_is_by_value() -> None:
    assert Pin("1234") == Pin("1234") and Pin("1234") != Pin("1235")
    assert Pin("1234") != "1234"
    assert len(Pin("123456")) == 6


# -- The index ------------------------------------------------------------------------------------

KEYS = cred.derive_keys(KEY_A)


def _record(subject: str, digits: str) -> PinRecord:
    pin = Pin(digits)
    return PinRecord(subject, cred.pin_tag(pin, KEYS.pin_key), cred.hash_pin(pin, **FAST))


def _resolve(index: CredentialIndex, digits: str) -> str | None:
    pin = Pin(digits)
    return index.resolve_pin(cred.pin_tag(pin, KEYS.pin_key), pin)


def test_pin_alone_finds_its_owner() -> None:
    index = CredentialIndex(pins=[_record("p-1", "111111"), _record("p-2", "222222")])
    assert _resolve(index, "111111") == "p-1"
    assert _resolve(index, "222222") == "p-2"
    assert _resolve(index, "333333") is None


def test_pin_resolution_verifies_argon2_only_once() -> None:
    index = CredentialIndex(pins=[_record(f"p-{i}", f"{i:06d}") for i in range(50)])
    calls: list[str] = []

    def verify(stored: str, pin: Pin) -> bool:
        calls.append(stored)
        return cred.verify_pin(stored, pin)

    pin = Pin("000042")
    assert index.resolve_pin(cred.pin_tag(pin, KEYS.pin_key), pin, verify) == "p-42"
    assert len(calls) == 1  # O(1): the tag finds the candidate


def test_duplicate_pin_refused_without_naming_the_owner() -> None:
    index = CredentialIndex(pins=[_record("p-secret-owner", "111111")])
    assert index.pin_taken(_record("x", "111111").tag)
    with pytest.raises(CredentialError) as info:
        index.add_pin(_record("p-2", "111111"))
    assert "p-secret-owner" not in str(info.value) and "111111" not in str(info.value)


def test_changing_a_pin_frees_the_old_one() -> None:
    index = CredentialIndex(pins=[_record("p-1", "111111")])
    index.add_pin(_record("p-1", "999999"))
    assert _resolve(index, "111111") is None and _resolve(index, "999999") == "p-1"
    index.add_pin(_record("p-2", "111111"))
    assert _resolve(index, "111111") == "p-2"


def test_tag_match_with_failing_argon2_is_refused(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    pin = Pin(SECRET_PIN)
    # A row whose Argon2id hash belongs to another PIN: e.g. a rotated tag key.
    record = PinRecord("p-1", cred.pin_tag(pin, KEYS.pin_key), cred.hash_pin(Pin("000000"), **FAST))
    index = CredentialIndex(pins=[record])
    assert index.resolve_pin(record.tag, pin) is None
    assert "refusing" in caplog.text
    assert SECRET_PIN not in caplog.text and record.tag not in caplog.text


def test_cards_and_removal() -> None:
    index = CredentialIndex({"h1": "p-1"}, [_record("p-1", "111111")])
    assert index.subject_for_card("h1") == "p-1" and index.subject_for_card("h2") is None
    assert index.has_card("p-1") and index.has_pin("p-1")
    index.add_card("h1", "p-1")  # idempotent
    with pytest.raises(CredentialError):
        index.add_card("h1", "p-2")
    index.remove_subject("p-1")
    assert index.subject_for_card("h1") is None and _resolve(index, "111111") is None
    assert not index.has_pin("p-1") and index.cards == {}


def test_nothing_secret_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    pin, card = Pin(SECRET_PIN), CardNumber(SECRET_CARD)
    stored = cred.hash_pin(pin, **FAST)
    cred.verify_pin(stored, pin)
    cred.verify_pin(stored, Pin("000000"))
    cred.hash_card(card, KEY_A)
    index = CredentialIndex(pins=[_record("p-1", SECRET_PIN)])
    _resolve(index, SECRET_PIN)
    _resolve(index, "000000")
    for bad in ("12x", "999"):
        with pytest.raises(CredentialError):
            Pin(bad)
    for record in caplog.records:
        text = record.getMessage() + repr(record.args)
        assert SECRET_PIN not in text and SECRET_CARD not in text


# -- Sizing helpers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("population", "length"), [(0, 4), (1, 4), (10, 4), (11, 5), (1000, 6), (100_000, 8)]
)
def test_min_pin_length(population: int, length: int) -> None:
    assert cred.min_pin_length(population) == length


def test_generate_pin_avoids_taken_and_gives_up_when_full() -> None:
    taken = {Pin("1234")}
    pin = cred.generate_pin(6, lambda p: p in taken)
    assert len(pin) == 6 and pin not in taken
    with pytest.raises(CredentialError):
        cred.generate_pin(4, lambda _p: True)


def test_measure_verify_seconds() -> None:
    seconds = cred.measure_verify_seconds(rounds=1, **FAST)
    assert 0 < seconds < 5
