"""PINs and card numbers: how they are hashed, looked up, and kept out of every log.

Storage (DESIGN §5):

* A PIN is stored as an Argon2id string (``nacl.pwhash.argon2id.str``), which carries its own
  salt and cost, so older hashes keep verifying after the cost is raised.
* A card number is stored as a keyed BLAKE2b hash (``card_key``, 32 bytes), hex. Raw card
  numbers are never stored: with the key kept out of the database, a copied database does
  not reveal which cards open the door.

Finding whose PIN was typed (no user id on a keypad)
----------------------------------------------------
A keypad gives only digits. Verifying them against every person's Argon2id hash costs
``n × verify`` (500 residents × 50 ms = 25 s on a fast x86 core, far more on a Pi), so each PIN
also gets a *lookup tag*: ``BLAKE2b(pin, key=pin_key)``. The tag finds the one candidate in
O(1); that person's Argon2id hash is then verified. Consequences, chosen on purpose:

* **PINs are unique per device.** A PIN identifies a person on its own. Uniqueness is enforced
  at enrolment through the tag index (O(1)). Refusing a PIN because it is taken tells whoever
  chose it that it is someone's PIN, so PINs should be *generated* (:func:`generate_pin`),
  or set only by an admin, never chosen freely by residents.
* **Guessing gets easier as the population grows**: a random guess opens the door with
  probability ``n / 10**length``. :func:`min_pin_length` keeps that under 1 in 1,000 per
  guess, and the reader lockout (:mod:`facegate.policy.lockout`) caps the guesses.
* **Threat trade-off of the tag.** PINs have little entropy: anyone holding both the database
  *and* ``pin_key`` can try all 10**6 six-digit PINs against the tags in about a second. The
  tag key therefore lives with the master key (derived from it, never in the database), and
  a copied database alone gives an attacker only the Argon2id hashes, each a separate slow
  search. On a stolen device (key and database together) PINs must be considered known, with
  or without the tag, because Argon2id cannot protect a 6-digit secret for long; PINs are
  rotated after a device is lost. Argon2id on top of the tag still matters: it is the only
  check that needs no key, so an index built with a wrong or rotated key fails closed.
* ``card+pin`` and ``face+pin`` need nothing extra: the PIN still resolves to one person, and
  :func:`facegate.policy.decide.decide` checks it is the same person as the first factor.

Argon2id cost (measured with :func:`measure_verify_seconds`)
-----------------------------------------------------------
``OPSLIMIT_INTERACTIVE`` (2 passes) and ``MEMLIMIT_INTERACTIVE`` (64 MiB), libsodium's
interactive preset. Measured on the 2-core x86 build machine (Xeon, PyNaCl 1.6.2), median of
9 ``verify`` calls: 0.05-0.06 s; 32 MiB/2 passes: 0.02 s; the "moderate" preset (256 MiB,
3 passes): 0.45 s. Not yet measured on a Pi: libsodium has no NEON Argon2 code, so it runs its
portable implementation there, and a Pi 4's memory bandwidth is a fraction of a Xeon's; an
estimate of 5-10x slower puts the preset at 0.3-0.6 s. It is paid once per PIN entry (the tag
finds the candidate), so the preset stays until a Pi says otherwise: ``facegate bench`` should
report :func:`measure_verify_seconds`, and if it exceeds 0.5 s set ``PIN_MEMLIMIT`` to 32 MiB.
:func:`needs_rehash` finds hashes made with other settings, to re-hash at the next PIN change.

Secrets never reach a log: :class:`Pin` and :class:`CardNumber` print as ``Pin(<redacted>)``,
errors name only the problem, and nothing here logs a value.
"""

from __future__ import annotations

import hmac
import logging
import math
import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import nacl.encoding
import nacl.exceptions
import nacl.hash
import nacl.pwhash.argon2id as argon2id

__all__ = [
    "KEY_BYTES",
    "PIN_MAX_LENGTH",
    "PIN_MEMLIMIT",
    "PIN_MIN_LENGTH",
    "PIN_OPSLIMIT",
    "CardNumber",
    "CredentialError",
    "CredentialIndex",
    "CredentialKeys",
    "Pin",
    "PinRecord",
    "derive_keys",
    "generate_pin",
    "hash_card",
    "hash_pin",
    "measure_verify_seconds",
    "min_pin_length",
    "needs_rehash",
    "pin_tag",
    "verify_pin",
]

logger = logging.getLogger(__name__)

PIN_OPSLIMIT: int = argon2id.OPSLIMIT_INTERACTIVE
PIN_MEMLIMIT: int = argon2id.MEMLIMIT_INTERACTIVE
PIN_MIN_LENGTH = 4
PIN_MAX_LENGTH = 12
KEY_BYTES = 32
_MAX_GUESS_ODDS = 1_000  # a single random guess must hit someone with odds below 1 in this

_PIN_RE = re.compile(r"^[0-9]+$")
_ARGON_RE = re.compile(rb"^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=1\$")


class CredentialError(ValueError):
    """A credential is malformed or clashes with another; the message never holds it."""


class Pin:
    """A PIN as typed, kept out of reprs, strings and tracebacks' locals display.

    Args:
        digits: 4 to 12 decimal digits.

    Raises:
        CredentialError: not digits, or the wrong length (the message omits the digits).
    """

    __slots__ = ("_digits",)

    def __init__(self, digits: str) -> None:
        if not isinstance(digits, str) or not _PIN_RE.match(digits):
            raise CredentialError("a PIN must consist of decimal digits only")
        if not PIN_MIN_LENGTH <= len(digits) <= PIN_MAX_LENGTH:
            raise CredentialError(
                f"a PIN must have {PIN_MIN_LENGTH} to {PIN_MAX_LENGTH} digits, not {len(digits)}"
            )
        self._digits = digits

    def reveal(self) -> bytes:
        """The digits as bytes, for hashing only."""
        return self._digits.encode("ascii")

    def __len__(self) -> int:
        return len(self._digits)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Pin):
            return NotImplemented
        return hmac.compare_digest(self._digits, other._digits)

    def __hash__(self) -> int:
        return hash((Pin, self._digits))

    def __repr__(self) -> str:
        return "Pin(<redacted>)"

    __str__ = __repr__

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("a Pin is not picklable")


class CardNumber:
    """A card number as read, in the reader's canonical form, kept out of reprs.

    Args:
        raw: the bytes or text the reader adapter produced (e.g. a UID in hex, or a Wiegand
            facility and card number as ``"123:45678"``); readers normalise before this.

    Raises:
        CredentialError: empty or longer than 64 bytes.
    """

    __slots__ = ("_raw",)

    def __init__(self, raw: bytes | str) -> None:
        data = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
        if not 0 < len(data) <= 64:
            raise CredentialError("a card number must be 1 to 64 bytes")
        self._raw = data

    def reveal(self) -> bytes:
        """The raw bytes, for hashing only."""
        return self._raw

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CardNumber):
            return NotImplemented
        return hmac.compare_digest(self._raw, other._raw)

    def __hash__(self) -> int:
        return hash((CardNumber, self._raw))

    def __repr__(self) -> str:
        return "CardNumber(<redacted>)"

    __str__ = __repr__

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("a CardNumber is not picklable")


@dataclass(slots=True, frozen=True)
class CredentialKeys:
    """The device keys for card hashes and PIN lookup tags (32 bytes each, never logged)."""

    card_key: bytes
    pin_key: bytes

    def __post_init__(self) -> None:
        if len(self.card_key) != KEY_BYTES or len(self.pin_key) != KEY_BYTES:
            raise CredentialError(f"credential keys must be {KEY_BYTES} bytes")

    def __repr__(self) -> str:
        return "CredentialKeys(<redacted>)"


def derive_keys(master_key: bytes) -> CredentialKeys:
    """Derive the card and PIN-tag keys from the device master key (BLAKE2b, personalised).

    Rotating the master key changes both, so every card hash and PIN tag must then be
    re-enrolled; the Argon2id PIN hashes stay valid but can no longer be found by tag.
    """
    if len(master_key) != KEY_BYTES:
        raise CredentialError(f"the master key must be {KEY_BYTES} bytes")

    def sub(person: bytes) -> bytes:
        return nacl.hash.blake2b(
            b"",
            key=master_key,
            person=person,
            digest_size=KEY_BYTES,
            encoder=nacl.encoding.RawEncoder,
        )

    return CredentialKeys(card_key=sub(b"facegate-card"), pin_key=sub(b"facegate-pintag"))


def hash_card(card: CardNumber, card_key: bytes) -> str:
    """The stored form of a card number: keyed BLAKE2b-256, hex."""
    if len(card_key) != KEY_BYTES:
        raise CredentialError(f"the card key must be {KEY_BYTES} bytes")
    digest = nacl.hash.blake2b(
        card.reveal(), key=card_key, digest_size=32, encoder=nacl.encoding.HexEncoder
    )
    return digest.decode("ascii")


def pin_tag(pin: Pin, pin_key: bytes) -> str:
    """The PIN lookup tag: keyed BLAKE2b-256, hex (see the module docstring for the trade-off)."""
    if len(pin_key) != KEY_BYTES:
        raise CredentialError(f"the PIN tag key must be {KEY_BYTES} bytes")
    digest = nacl.hash.blake2b(
        pin.reveal(), key=pin_key, digest_size=32, encoder=nacl.encoding.HexEncoder
    )
    return digest.decode("ascii")


def hash_pin(pin: Pin, *, opslimit: int = PIN_OPSLIMIT, memlimit: int = PIN_MEMLIMIT) -> str:
    """The stored form of a PIN: an Argon2id string with its own salt and cost."""
    return argon2id.str(pin.reveal(), opslimit=opslimit, memlimit=memlimit).decode("ascii")


def verify_pin(stored: str, pin: Pin) -> bool:
    """Whether ``pin`` matches the Argon2id string ``stored``; False for a malformed hash."""
    try:
        return bool(argon2id.verify(stored.encode("ascii"), pin.reveal()))
    except (nacl.exceptions.InvalidkeyError, nacl.exceptions.CryptoError, UnicodeError):
        return False


def needs_rehash(
    stored: str, *, opslimit: int = PIN_OPSLIMIT, memlimit: int = PIN_MEMLIMIT
) -> bool:
    """Whether ``stored`` was made with a cost other than the current one."""
    match = _ARGON_RE.match(stored.encode("ascii", "replace"))
    if match is None:
        return True
    return int(match.group(1)) * 1024 != memlimit or int(match.group(2)) != opslimit


def measure_verify_seconds(
    *, opslimit: int = PIN_OPSLIMIT, memlimit: int = PIN_MEMLIMIT, rounds: int = 5
) -> float:
    """Median wall time of one Argon2id ``verify`` on this machine (for ``facegate bench``)."""
    pin = Pin("000000")
    stored = hash_pin(pin, opslimit=opslimit, memlimit=memlimit)
    times = []
    for _ in range(max(1, rounds)):
        start = time.perf_counter()
        verify_pin(stored, pin)
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


def min_pin_length(population: int) -> int:
    """The shortest PIN for which one random guess opens with odds below 1 in 1,000.

    With unique PINs any of ``population`` PINs opens the door, so the odds of a random guess
    are ``population / 10**length``.
    """
    needed = math.ceil(math.log10(max(1, population) * _MAX_GUESS_ODDS))
    return max(PIN_MIN_LENGTH, min(PIN_MAX_LENGTH, needed))


def generate_pin(length: int, taken: Callable[[Pin], bool] = lambda _pin: False) -> Pin:
    """A random PIN of ``length`` digits that ``taken`` does not reject.

    Raises:
        CredentialError: no free PIN found after many tries (the PIN space is too full).
    """
    for _ in range(1000):
        pin = Pin("".join(secrets.choice("0123456789") for _ in range(length)))
        if not taken(pin):
            return pin
    raise CredentialError(f"no free {length}-digit PIN found; use longer PINs")


@dataclass(slots=True, frozen=True)
class PinRecord:
    """One person's PIN as stored: lookup tag and Argon2id string."""

    subject: str
    tag: str
    argon2: str

    def __repr__(self) -> str:
        return f"PinRecord(subject={self.subject!r}, tag=<redacted>, argon2=<redacted>)"


class CredentialIndex:
    """Card hashes and PIN records by pseudonym: pure lookups over what the store holds.

    Built by the service from the store's credential rows (and rebuilt when they change).
    Each person has at most one PIN; a card hash belongs to one person; PIN tags are unique.

    Args:
        cards: card hash → subject pseudonym.
        pins: PIN records, at most one per subject.

    Raises:
        CredentialError: duplicate tags or two PINs for one person.
    """

    def __init__(
        self, cards: Mapping[str, str] | None = None, pins: Iterable[PinRecord] = ()
    ) -> None:
        self._cards: dict[str, str] = dict(cards or {})
        self._pins_by_tag: dict[str, PinRecord] = {}
        self._tag_by_subject: dict[str, str] = {}
        for record in pins:
            self.add_pin(record)

    @property
    def cards(self) -> Mapping[str, str]:
        """Card hash → subject (a read-only view)."""
        return dict(self._cards)

    def subject_for_card(self, card_hash: str) -> str | None:
        """Whose card this is, or ``None``."""
        return self._cards.get(card_hash)

    def add_card(self, card_hash: str, subject: str) -> None:
        """Register a card hash for a person.

        Raises:
            CredentialError: the card is registered to someone else.
        """
        owner = self._cards.get(card_hash)
        if owner is not None and owner != subject:
            raise CredentialError("this card is already registered to another person")
        self._cards[card_hash] = subject

    def pin_taken(self, tag: str) -> bool:
        """Whether a PIN with this lookup tag exists (for enrolment and generation)."""
        return tag in self._pins_by_tag

    def add_pin(self, record: PinRecord) -> None:
        """Register or replace a person's PIN.

        Raises:
            CredentialError: another person has the same PIN (the message does not say whose).
        """
        owner = self._pins_by_tag.get(record.tag)
        if owner is not None and owner.subject != record.subject:
            raise CredentialError("PIN not accepted: choose another (PINs are unique per device)")
        old = self._tag_by_subject.pop(record.subject, None)
        if old is not None:
            del self._pins_by_tag[old]
        self._pins_by_tag[record.tag] = record
        self._tag_by_subject[record.subject] = record.tag

    def has_pin(self, subject: str) -> bool:
        """Whether the person has a PIN."""
        return subject in self._tag_by_subject

    def has_card(self, subject: str) -> bool:
        """Whether the person has at least one card."""
        return subject in self._cards.values()

    def remove_subject(self, subject: str) -> None:
        """Forget every card and the PIN of one person."""
        self._cards = {h: s for h, s in self._cards.items() if s != subject}
        tag = self._tag_by_subject.pop(subject, None)
        if tag is not None:
            del self._pins_by_tag[tag]

    def resolve_pin(
        self,
        tag: str,
        pin: Pin,
        verify: Callable[[str, Pin], bool] = verify_pin,
    ) -> str | None:
        """Whose PIN this is: find the candidate by tag, then verify its Argon2id hash.

        Args:
            tag: :func:`pin_tag` of the entered PIN.
            pin: the entered PIN.
            verify: the Argon2id check (injectable so tests stay fast).

        Returns:
            The subject pseudonym, or ``None`` for a wrong PIN.
        """
        record = self._pins_by_tag.get(tag)
        if record is None:
            return None
        if not verify(record.argon2, pin):
            # The tag matched but the slow hash did not: a rotated key or a corrupt row.
            logger.warning("PIN tag matched but the Argon2id hash did not; refusing")
            return None
        return record.subject

    def __repr__(self) -> str:
        return f"CredentialIndex(cards={len(self._cards)}, pins={len(self._pins_by_tag)})"
