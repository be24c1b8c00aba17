"""One enrolment request, checked and assembled the same way for the CLI and the admin socket.

``facegate enroll`` (writing the store itself, or sending the request to the running daemon)
and the daemon's ``enroll`` command both turn what the admin typed into the inputs of
:func:`facegate.store.enroll_person` here, so the two ways in cannot drift apart: a face needs
separate consent (Art. 6), a minor's face a guardian's (Art. 7), a face without an expiry date
keeps it for ``retention.template_days``, a PIN already in use is refused before anything is
written, and a guardian is recorded only for a minor.

Consent is evidence (issue 15): the notice version must be the one recorded as posted on this
device (``facegate notice hash --record`` / ``notice render``), the method comes from a fixed
list, the taker is an operator id, and the person's age is asked explicitly for a face (a birth
year, or an attested adult or child). ``--expires`` and ``--valid-until`` must lie in the future
and within their bounds; a birth year must be a plausible past year.

The checks are pure but for reading the recorded notice versions; the PIN and card are hashed
with the device keys the caller passes.
"""

from __future__ import annotations

import re
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
    "CHILD_ADVICE",
    "CONSENT_METHODS",
    "DAY_S",
    "FORM_FIELDS",
    "MAX_AGE_YEARS",
    "MAX_VALIDITY_YEARS",
    "OPERATOR_ID",
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
# How consent (and a guardian's consent) was given: a fixed list, so the record means something.
CONSENT_METHODS = ("paper-form", "e-signature", "tablet-signature")
OPERATOR_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")  # who took it: an operator id
# The signed form's number or the e-signature's id, linking the record to the signed consent.
CONSENT_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,63}$")
MAX_AGE_YEARS = 120  # a birth year further back is a typo
MAX_VALIDITY_YEARS = 20  # a --valid-until further out is a typo
CHILD_ADVICE = (
    "GB/T 41819-2022 advises not to use face recognition for children where another way "
    "works: offer a card or PIN first (enrol with --card/--pin and no face)"
)
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
    "adult",
    "consent_ref",
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
    adult: bool = False
    consent_ref: str | None = None

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
    age: str | None = None  # how the age was established: "born YYYY", "adult", "child"
    advice: tuple[str, ...] = ()  # to show the operator (GB/T 41819 for children)

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
            age=self.age,
        )


def assemble_enrolment(form: EnrolmentForm, cfg: FacegateConfig, now: float) -> EnrolmentRequest:
    """Check ``form`` and assemble the request.

    Raises:
        EnrolmentInputError: nothing to enrol, a face without the person's separate consent,
            a notice version not recorded as posted, a consent method or taker not allowed,
            no explicit age for a face, a date or birth year out of bounds.
        EnrolmentRefused: a face of someone who may be under 14 without a guardian's consent.
    """
    _check_dates(form, cfg, now)
    identity = Identity(form.name, form.unit, form.phone, form.birth_year)
    has_identity = any(v is not None for v in (form.name, form.unit, form.phone, form.birth_year))
    person = identity if has_identity else None
    minor = is_minor(identity, form.minor, now, cfg.enrollment.minor_age)
    if form.adult and (form.minor or minor):
        raise EnrolmentInputError(
            "--adult contradicts --minor or a birth year that makes the person under "
            f"{cfg.enrollment.minor_age}"
        )
    age = (
        f"born {form.birth_year}"
        if form.birth_year is not None
        else "child"
        if form.minor
        else "adult"
        if form.adult
        else None
    )
    advice = (CHILD_ADVICE,) if minor else ()
    if not form.face:
        if not form.credentials:
            raise EnrolmentInputError(
                "nothing to enrol: give --photo/--camera for a face, or --pin/--generate-pin/--card"
            )
        # PIN and/or card only: nothing biometric, so no consent is needed (Art. 10).
        return EnrolmentRequest(person, minor, None, None, None, form.valid_until, age)
    missing = [
        flag
        for flag, value in (
            ("--consent-method", form.consent_method),
            ("--notice-version", form.notice_version),
            ("--taken-by", form.taken_by),
            ("--consent-ref", form.consent_ref),
        )
        if not value
    ]
    if missing:
        raise EnrolmentInputError(
            f"a face needs the person's separate consent: give {', '.join(missing)}"
        )
    assert form.consent_method and form.notice_version and form.taken_by and form.consent_ref
    if age is None:
        raise EnrolmentInputError(
            "a face needs the person's age asked explicitly: give --birth-year, or --adult "
            f"(attested {cfg.enrollment.minor_age} or older) or --minor (under "
            f"{cfg.enrollment.minor_age}: a guardian consents)"
        )
    method = check_consent_method(form.consent_method, "--consent-method")
    taken_by = check_operator(form.taken_by)
    version = posted_notice_version(cfg, form.notice_version)
    guardian = None
    if minor:  # a guardian's name is stored only where the law asks for it
        if not (form.guardian_name and form.guardian_relation and form.guardian_method):
            raise EnrolmentRefused(
                "this person may be under 14, so their face needs a guardian's consent "
                "(Art. 7): give --guardian-name, --guardian-relation and "
                "--guardian-consent-method. Nothing was stored. " + CHILD_ADVICE + "."
            )
        guardian = GuardianConsent(
            form.guardian_name,
            form.guardian_relation,
            check_consent_method(form.guardian_method, "--guardian-consent-method"),
        )
    consent = ConsentInput(
        method,
        version,
        taken_by,
        form.scope or ",".join(d.id for d in cfg.doors),
        check_consent_ref(form.consent_ref),
    )
    expires = form.expires_at
    if expires is None:
        expires = now + cfg.retention.template_days * DAY_S
    if form.valid_until is not None:  # a face never outlives the person's access
        expires = min(expires, form.valid_until)
    return EnrolmentRequest(
        person, minor, consent, guardian, expires, form.valid_until, age, advice
    )


def check_consent_method(method: str, flag: str) -> str:
    """``method`` if it is one of :data:`CONSENT_METHODS`.

    Raises:
        EnrolmentInputError: it is not.
    """
    if method.strip() not in CONSENT_METHODS:
        raise EnrolmentInputError(f"{flag} must be one of {', '.join(CONSENT_METHODS)}")
    return method.strip()


def check_consent_ref(reference: str) -> str:
    """The signed form's number or the e-signature's id (letters, digits, ``._:/#-``).

    Raises:
        EnrolmentInputError: it is not one.
    """
    if not CONSENT_REF.fullmatch(reference.strip()):
        raise EnrolmentInputError(
            "--consent-ref must be the signed form's number or the e-signature's id "
            "(letters, digits, . _ : / # -; up to 64)"
        )
    return reference.strip()


def check_operator(taken_by: str) -> str:
    """An operator id (letters, digits, ``._@-``; no spaces), not a free-text name.

    Raises:
        EnrolmentInputError: it is not.
    """
    if not OPERATOR_ID.fullmatch(taken_by.strip()):
        raise EnrolmentInputError(
            "--taken-by must be the operator's id (letters, digits, . _ @ -; up to 64)"
        )
    return taken_by.strip()


def posted_notice_version(cfg: FacegateConfig, given: str) -> str:
    """The full hash of the notice posted now that ``given`` names.

    Raises:
        EnrolmentInputError: no notice recorded, or ``given`` is not the current one.
    """
    from ..compliance.records import resolve_notice_version

    try:
        return resolve_notice_version(cfg.store.state_dir, given).version
    except ValueError as exc:
        raise EnrolmentInputError(str(exc)) from None


def _check_dates(form: EnrolmentForm, cfg: FacegateConfig, now: float) -> None:
    """Dates in the future and within bounds; a birth year in a plausible past.

    Raises:
        EnrolmentInputError: the first one that is not.
    """
    import datetime as dt

    year = dt.datetime.fromtimestamp(now, dt.UTC).year
    if form.birth_year is not None and not (year - MAX_AGE_YEARS <= form.birth_year <= year):
        raise EnrolmentInputError(
            f"--birth-year {form.birth_year} is not plausible (give a year from "
            f"{year - MAX_AGE_YEARS} to {year})"
        )
    longest = cfg.retention.template_days
    if form.expires_at is not None:
        if form.expires_at <= now:
            raise EnrolmentInputError("--expires is in the past; give a date after today")
        if form.expires_at > now + (longest + 1) * DAY_S:
            raise EnrolmentInputError(
                f"--expires is more than retention.template_days ({longest} days) away"
            )
    if form.valid_until is not None:
        if form.valid_until <= now:
            raise EnrolmentInputError("--valid-until is in the past; give a date after today")
        if form.valid_until > now + MAX_VALIDITY_YEARS * 366 * DAY_S:
            raise EnrolmentInputError(
                f"--valid-until is more than {MAX_VALIDITY_YEARS} years away; leave it out "
                "for a permanent resident"
            )


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
