"""One enrolment request, checked and assembled the same way for the CLI and the admin socket.

``facegate enroll`` (writing the store itself, or sending the request to the running daemon)
and the daemon's ``enroll`` command both turn what the admin typed into the inputs of
:func:`facegate.store.enroll_person` here, so the two ways in cannot drift apart: a face needs
separate consent (Art. 6), a minor's face a guardian's (Art. 7), a face without an expiry date
keeps it for ``retention.template_days``, a PIN already in use is refused before anything is
written, and a guardian is recorded only for a minor.

The checks are pure; the PIN and card are hashed with the device keys the caller passes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, FacegateError
from ..policy.credentials import CardNumber, Pin, generate_pin, hash_card, hash_pin, pin_tag
from ..readers.cards import card_raw
from ..store import (
    ConsentInput,
    CredentialInput,
    GuardianConsent,
    Identity,
    enroll_person,
    is_minor,
)

if TYPE_CHECKING:
    import numpy as np

    from ..config import FacegateConfig
    from ..policy.credentials import CredentialKeys
    from ..store import Enrolled, Store

__all__ = [
    "DAY_S",
    "FORM_FIELDS",
    "EnrolmentForm",
    "EnrolmentInputError",
    "EnrolmentRefused",
    "EnrolmentRequest",
    "assemble_enrolment",
    "card_input",
    "credential_inputs",
    "generated_pin_length",
    "pin_input",
    "taken_pin_tags",
    "unique_pin",
]

DAY_S = 86_400.0
# The person's fields of a form, named as the admin socket's ``enroll`` command takes them.
FORM_FIELDS = (
    "name",
    "unit",
    "phone",
    "birth_year",
    "minor",
    "consent_method",
    "notice_version",
    "taken_by",
    "scope",
    "guardian_name",
    "guardian_relation",
    "guardian_method",
    "expires_at",
    "valid_until",
)


class EnrolmentInputError(ConfigError):
    """The request is incomplete or contradictory (a usage error); nothing was stored."""


class EnrolmentRefused(FacegateError):
    """A rule of the 2025 Measures forbids this enrolment as given; nothing was stored."""


@dataclass(slots=True, frozen=True)
class EnrolmentForm:
    """What the admin gave, as typed (command-line flags or admin-socket fields).

    ``face``: templates come with the request; ``credentials``: a PIN or a card does.
    """

    face: bool
    credentials: bool = False
    name: str | None = None
    unit: str | None = None
    phone: str | None = None
    birth_year: int | None = None
    minor: bool = False
    consent_method: str | None = None
    notice_version: str | None = None
    taken_by: str | None = None
    scope: str | None = None
    guardian_name: str | None = None
    guardian_relation: str | None = None
    guardian_method: str | None = None
    expires_at: float | None = None
    valid_until: float | None = None

    @classmethod
    def of(cls, fields: Mapping[str, Any], *, face: bool, credentials: bool) -> EnrolmentForm:
        """A form from the ``FORM_FIELDS`` in ``fields`` (other keys are ignored)."""
        given = {k: fields[k] for k in FORM_FIELDS if k in fields}
        return cls(face=face, credentials=credentials, **given)

    def __repr__(self) -> str:  # never print personal data by accident
        return f"EnrolmentForm(face={self.face}, credentials={self.credentials}, <fields>)"


@dataclass(slots=True, frozen=True)
class EnrolmentRequest:
    """A checked request: what :func:`facegate.store.enroll_person` stores for the person."""

    identity: Identity | None
    minor: bool
    consent: ConsentInput | None
    guardian: GuardianConsent | None
    expires_at: float | None
    valid_until: float | None

    def enroll(
        self,
        store: Store,
        *,
        credentials: tuple[CredentialInput, ...] = (),
        templates: np.ndarray | None = None,
        space: str | None = None,
    ) -> Enrolled:
        """Write the person in one transaction (see :func:`facegate.store.enroll_person`)."""
        return enroll_person(
            store,
            identity=self.identity,
            minor=self.minor,
            consent=self.consent,
            guardian=self.guardian,
            templates=templates,
            space=space,
            expires_at=self.expires_at,
            credentials=credentials,
            valid_until=self.valid_until,
        )


def assemble_enrolment(form: EnrolmentForm, cfg: FacegateConfig, now: float) -> EnrolmentRequest:
    """Check ``form`` and assemble the request.

    Raises:
        EnrolmentInputError: nothing to enrol, or a face without the person's separate consent.
        EnrolmentRefused: a face of someone who may be under 14 without a guardian's consent.
    """
    identity = Identity(form.name, form.unit, form.phone, form.birth_year)
    has_identity = any(v is not None for v in (form.name, form.unit, form.phone, form.birth_year))
    person = identity if has_identity else None
    minor = is_minor(identity, form.minor, now, cfg.enrollment.minor_age)
    if not form.face:
        if not form.credentials:
            raise EnrolmentInputError(
                "nothing to enrol: give --photo/--camera for a face, or --pin/--generate-pin/--card"
            )
        # PIN and/or card only: nothing biometric, so no consent is needed (Art. 10).
        return EnrolmentRequest(person, minor, None, None, None, form.valid_until)
    missing = [
        flag
        for flag, value in (
            ("--consent-method", form.consent_method),
            ("--notice-version", form.notice_version),
            ("--taken-by", form.taken_by),
        )
        if not value
    ]
    if missing:
        raise EnrolmentInputError(
            f"a face needs the person's separate consent: give {', '.join(missing)}"
        )
    assert form.consent_method and form.notice_version and form.taken_by
    guardian = None
    if minor:  # a guardian's name is stored only where the law asks for it
        if not (form.guardian_name and form.guardian_relation and form.guardian_method):
            raise EnrolmentRefused(
                "this person may be under 14, so their face needs a guardian's consent "
                "(Art. 7): give --guardian-name, --guardian-relation and "
                "--guardian-consent-method. Nothing was stored."
            )
        guardian = GuardianConsent(form.guardian_name, form.guardian_relation, form.guardian_method)
    consent = ConsentInput(
        form.consent_method,
        form.notice_version,
        form.taken_by,
        form.scope or ",".join(d.id for d in cfg.doors),
    )
    expires = form.expires_at
    if expires is None:
        expires = now + cfg.retention.template_days * DAY_S
    return EnrolmentRequest(person, minor, consent, guardian, expires, form.valid_until)


def generated_pin_length(cfg: FacegateConfig) -> int:
    """Digits of a generated PIN: what the first reader with a keypad accepts, 6 to 12."""
    keypads = [pin for reader in cfg.readers if (pin := getattr(reader, "pin", None)) is not None]
    return max(6, min(12, keypads[0].max_length)) if keypads else 6


def taken_pin_tags(store: Store) -> set[str]:
    """The lookup tags of every enrolled PIN (never the PINs)."""
    return {lookup for _p, kind, lookup, _v in store.access_rows()[1] if kind == "pin"}


def unique_pin(cfg: FacegateConfig, keys: CredentialKeys, taken: Collection[str]) -> Pin:
    """A random PIN no one else has."""
    return generate_pin(generated_pin_length(cfg), lambda p: pin_tag(p, keys.pin_key) in taken)


def pin_input(
    keys: CredentialKeys, taken: Collection[str], pin: Pin, valid_until: float | None
) -> CredentialInput:
    """The PIN as stored: its keyed lookup tag and Argon2id hash.

    Raises:
        EnrolmentInputError: the PIN is someone else's already.
    """
    tag = pin_tag(pin, keys.pin_key)
    if tag in taken:
        raise EnrolmentInputError("choose another PIN (use --generate-pin for a unique one)")
    return CredentialInput("pin", tag, hash_pin(pin), valid_until)


def card_input(keys: CredentialKeys, card: str, valid_until: float | None) -> CredentialInput:
    """The card as stored: the keyed hash of what a reader reports for it.

    Raises:
        ConfigError: ``card`` is not a card number (see :func:`facegate.readers.cards.card_raw`).
    """
    return CredentialInput(
        "card", hash_card(CardNumber(card_raw(card)), keys.card_key), None, valid_until
    )


def credential_inputs(
    keys: CredentialKeys,
    taken: Collection[str],
    *,
    pin: Pin | None,
    card: str | None,
    valid_until: float | None,
) -> tuple[CredentialInput, ...]:
    """The PIN and card, hashed with the device keys (the raw values stop here).

    Raises:
        EnrolmentInputError: the PIN is someone else's already.
        ConfigError: ``card`` is not a card number.
    """
    creds: list[CredentialInput] = []
    if pin is not None:
        creds.append(pin_input(keys, taken, pin, valid_until))
    if card is not None:
        creds.append(card_input(keys, card, valid_until))
    return tuple(creds)
