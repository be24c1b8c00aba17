"""One enrolment request for the CLI and the admin socket: the same checks and defaults."""

from __future__ import annotations

import pytest

from facegate.config import load_config_text
from facegate.service.enrol_request import (
    DAY_S,
    EnrolmentForm,
    EnrolmentInputError,
    EnrolmentRefused,
    assemble_enrolment,
    generated_pin_length,
)

CFG = load_config_text(
    "site: {name: T, kind: residential_compound, purpose: Open the gate for residents.}\n"
    "camera: {type: replay, path: /tmp}\n"
    "doors: [{id: main, relay: {pin: 17}}, {id: side, relay: {pin: 18}}]\n"
    "readers: [{id: r1, type: wiegand, door: main, d0: 22, d1: 23}]\n"
)
NOW = 1_800_000_000.0  # 2027
CONSENT = {"consent_method": "form 1", "notice_version": "v1", "taken_by": "admin"}
GUARDIAN = {"guardian_name": "G", "guardian_relation": "mother", "guardian_method": "form 2"}


def test_a_face_needs_separate_consent_and_gets_the_retention_expiry() -> None:
    with pytest.raises(EnrolmentInputError, match="separate consent: give --notice-version"):
        assemble_enrolment(
            EnrolmentForm(face=True, consent_method="form", taken_by="admin"), CFG, NOW
        )
    request = assemble_enrolment(EnrolmentForm(face=True, **CONSENT), CFG, NOW)
    assert request.consent is not None and request.consent.scope == "main,side"
    assert request.expires_at == NOW + CFG.retention.template_days * DAY_S
    assert request.identity is None and not request.minor and request.guardian is None
    given = assemble_enrolment(EnrolmentForm(face=True, expires_at=NOW + 5, **CONSENT), CFG, NOW)
    assert given.expires_at == NOW + 5


def test_a_guardian_is_required_for_a_minor_and_recorded_only_for_one() -> None:
    with pytest.raises(EnrolmentRefused, match="guardian"):
        assemble_enrolment(EnrolmentForm(face=True, birth_year=2020, **CONSENT), CFG, NOW)
    with pytest.raises(EnrolmentRefused, match="guardian"):  # half a guardian is none
        assemble_enrolment(
            EnrolmentForm(face=True, minor=True, guardian_name="G", **CONSENT), CFG, NOW
        )
    minor = assemble_enrolment(
        EnrolmentForm(face=True, minor=True, **CONSENT, **GUARDIAN), CFG, NOW
    )
    assert minor.minor and minor.guardian is not None and minor.guardian.relation == "mother"
    adult = assemble_enrolment(
        EnrolmentForm(face=True, birth_year=1980, **CONSENT, **GUARDIAN), CFG, NOW
    )
    assert adult.identity is not None and not adult.minor and adult.guardian is None


def test_pin_or_card_only_needs_no_consent_and_keeps_nothing_biometric() -> None:
    with pytest.raises(EnrolmentInputError, match="nothing to enrol"):
        assemble_enrolment(EnrolmentForm(face=False), CFG, NOW)
    request = assemble_enrolment(
        EnrolmentForm(face=False, credentials=True, name="V", valid_until=NOW + DAY_S, **CONSENT),
        CFG,
        NOW,
    )
    assert request.consent is None and request.guardian is None and request.expires_at is None
    assert request.identity is not None and request.valid_until == NOW + DAY_S
    assert "V" not in repr(EnrolmentForm(face=False, name="V"))


def test_generated_pins_fit_the_keypad() -> None:
    assert generated_pin_length(CFG) == max(6, min(12, CFG.readers[0].pin.max_length))  # type: ignore[union-attr]


def test_the_admin_socket_takes_every_field_of_the_form() -> None:
    from facegate.service.admin_commands import EnrollArgs
    from facegate.service.enrol_request import FORM_FIELDS

    assert set(FORM_FIELDS) <= set(EnrollArgs.model_fields)
    form = EnrolmentForm.of(
        EnrollArgs(name="N", guardian_method="m", pin="1234").model_dump(),
        face=False,
        credentials=True,
    )
    assert form.name == "N" and form.guardian_method == "m" and form.credentials
