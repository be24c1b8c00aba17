"""One enrolment request for the CLI and the admin socket: the same checks and defaults."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import pytest

from facegate.config import load_config_text
from facegate.service.enrol_request import (
    CHILD_ADVICE,
    DAY_S,
    EnrolmentForm,
    EnrolmentInputError,
    EnrolmentRefused,
    assemble_enrolment,
    generated_pin_length,
)
from helpers import post_notice

STATE = Path(tempfile.mkdtemp(prefix="facegate-enrol-request-"))
atexit.register(shutil.rmtree, STATE, ignore_errors=True)  # the posted notice lives here
CFG = load_config_text(
    "site: {name: T, kind: residential_compound, purpose: Open the gate for residents.}\n"
    "camera: {type: replay, path: /tmp}\n"
    "doors: [{id: main, relay: {pin: 17}}, {id: side, relay: {pin: 18}}]\n"
    "readers: [{id: r1, type: wiegand, door: main, d0: 22, d1: 23}]\n"
    f"store: {{state_dir: {STATE}}}\n"
)
NOW = 1_800_000_000.0  # 2027
POSTED = post_notice(STATE, now=NOW - 100 * DAY_S)
CONSENT = {
    "consent_method": "paper-form",
    "notice_version": POSTED,
    "taken_by": "admin",
    "consent_ref": "F-0142",
    "adult": True,
}
GUARDIAN = {"guardian_name": "G", "guardian_relation": "mother", "guardian_method": "paper-form"}


def test_a_face_needs_separate_consent_and_gets_the_retention_expiry() -> None:
    with pytest.raises(EnrolmentInputError, match="separate consent: give --notice-version"):
        assemble_enrolment(
            EnrolmentForm(
                face=True, consent_method="paper-form", taken_by="admin", consent_ref="F-1"
            ),
            CFG,
            NOW,
        )
    request = assemble_enrolment(EnrolmentForm(face=True, **CONSENT), CFG, NOW)
    assert request.consent is not None and request.consent.scope == "main,side"
    assert request.consent.reference == "F-0142"
    assert request.expires_at == NOW + CFG.retention.template_days * DAY_S
    assert request.identity is None and not request.minor and request.guardian is None
    given = assemble_enrolment(EnrolmentForm(face=True, expires_at=NOW + 5, **CONSENT), CFG, NOW)
    assert given.expires_at == NOW + 5


def test_a_guardian_is_required_for_a_minor_and_recorded_only_for_one() -> None:
    child = {**CONSENT, "adult": False}
    with pytest.raises(EnrolmentRefused, match=r"guardian.*card or PIN first"):
        assemble_enrolment(EnrolmentForm(face=True, birth_year=2020, **child), CFG, NOW)
    with pytest.raises(EnrolmentRefused, match="guardian"):  # half a guardian is none
        assemble_enrolment(
            EnrolmentForm(face=True, minor=True, guardian_name="G", **child), CFG, NOW
        )
    child = {**CONSENT, "adult": False}
    minor = assemble_enrolment(EnrolmentForm(face=True, minor=True, **child, **GUARDIAN), CFG, NOW)
    assert minor.advice == (CHILD_ADVICE,) and minor.age == "child"
    assert minor.minor and minor.guardian is not None and minor.guardian.relation == "mother"
    adult = assemble_enrolment(
        EnrolmentForm(face=True, birth_year=1980, **child, **GUARDIAN), CFG, NOW
    )
    assert adult.identity is not None and not adult.minor and adult.guardian is None


def test_pin_or_card_only_needs_no_consent_and_keeps_nothing_biometric() -> None:
    with pytest.raises(EnrolmentInputError, match="nothing to enrol"):
        assemble_enrolment(EnrolmentForm(face=False), CFG, NOW)
    request = assemble_enrolment(
        EnrolmentForm(face=False, credentials=True, name="V", valid_until=NOW + DAY_S),
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
        EnrollArgs(name="N", guardian_method="m", pin="1234", adult=True).model_dump(),
        face=False,
        credentials=True,
    )
    assert form.name == "N" and form.guardian_method == "m" and form.credentials
    assert form.adult


# -- issue 15, finding 6: consent records are evidence --------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"notice_version": "deadbeef"}, "never recorded as posted"),
        ({"notice_version": "v1"}, "never recorded as posted"),
        ({"consent_method": "x"}, "--consent-method must be one of paper-form"),
        ({"taken_by": "x y"}, "--taken-by must be the operator's id"),
        ({"taken_by": " "}, "separate consent: give --taken-by|operator's id"),
        ({"adult": False}, "age asked explicitly"),
        ({"consent_ref": None}, "separate consent: give --consent-ref"),
        ({"consent_ref": "form no 12"}, "--consent-ref must be the signed form's number"),
    ],
)
def test_a_consent_that_is_not_evidence_is_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(EnrolmentInputError, match=message):
        assemble_enrolment(EnrolmentForm(face=True, **{**CONSENT, **change}), CFG, NOW)  # type: ignore[arg-type]


def test_the_short_form_on_the_sign_names_the_posted_notice_in_full() -> None:
    request = assemble_enrolment(
        EnrolmentForm(face=True, **{**CONSENT, "notice_version": POSTED[:16].upper()}), CFG, NOW
    )
    assert request.consent is not None and request.consent.notice_version == POSTED


def test_consent_under_a_replaced_notice_is_refused(tmp_path: Path) -> None:
    cfg = CFG.model_copy(update={"store": CFG.store.model_copy(update={"state_dir": tmp_path})})
    old = post_notice(tmp_path, now=NOW - 10 * DAY_S)
    new = post_notice(tmp_path, now=NOW - DAY_S, wording=" Changed.")
    with pytest.raises(EnrolmentInputError, match="was replaced by"):
        assemble_enrolment(EnrolmentForm(face=True, **{**CONSENT, "notice_version": old}), cfg, NOW)
    ok = assemble_enrolment(
        EnrolmentForm(face=True, **{**CONSENT, "notice_version": new}), cfg, NOW
    )
    assert ok.consent is not None and ok.consent.notice_version == new


def test_no_notice_recorded_means_no_face(tmp_path: Path) -> None:
    cfg = CFG.model_copy(update={"store": CFG.store.model_copy(update={"state_dir": tmp_path})})
    with pytest.raises(EnrolmentInputError, match="no notice version is recorded"):
        assemble_enrolment(EnrolmentForm(face=True, **CONSENT), cfg, NOW)


def test_adult_contradicting_a_birth_year_is_refused() -> None:
    with pytest.raises(EnrolmentInputError, match="--adult contradicts"):
        assemble_enrolment(EnrolmentForm(face=True, birth_year=2020, **CONSENT), CFG, NOW)


# -- issue 15, finding 5: dates and birth years within bounds -------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"expires_at": NOW - DAY_S}, "--expires is in the past"),
        ({"expires_at": NOW + 13 * 365 * DAY_S}, "more than retention.template_days"),
        ({"valid_until": NOW - 1}, "--valid-until is in the past"),
        ({"valid_until": NOW + 30 * 366 * DAY_S}, "more than 20 years"),
        ({"birth_year": 2150, "adult": False}, "--birth-year 2150 is not plausible"),
        ({"birth_year": 1850, "adult": False}, "--birth-year 1850 is not plausible"),
    ],
)
def test_dates_out_of_bounds_are_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(EnrolmentInputError, match=message):
        assemble_enrolment(EnrolmentForm(face=True, **{**CONSENT, **change}), CFG, NOW)  # type: ignore[arg-type]


def test_a_face_never_outlives_the_persons_validity() -> None:
    until = NOW + 30 * DAY_S
    request = assemble_enrolment(EnrolmentForm(face=True, valid_until=until, **CONSENT), CFG, NOW)
    assert request.expires_at == until
