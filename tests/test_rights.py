"""Issue 15: rights that work (finding 4), retention as the law reads it (finding 5), consent
as evidence (finding 6). Each test here fails on the code before the fix."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from facegate.admin import Role
from facegate.cli import main
from facegate.clock import FakeClock
from facegate.compliance.periods import period_sentences
from facegate.config.retention import RetentionConfig
from facegate.config.rights import RightsConfig
from facegate.errors import StoreError
from facegate.service.rights import export_document, request_due, rights_handlers
from facegate.store import (
    ConsentInput,
    CredentialInput,
    GuardianConsent,
    Identity,
    Store,
    crypto,
    enroll_person,
    purge_expired,
    withdraw,
)
from facegate.store.people_index import find_people
from facegate.store.requests import answer_request, list_requests, record_request
from facegate.store.retention import Reconsent
from facegate.store.rights import Correction, consents_to_renew, correct_person, renew_consent
from facegate.store.schema import MIGRATIONS
from helpers import make_config

NOW = 1_800_000_000.0  # 2027-01-15
DAY = 86_400.0
YEAR = 365.25 * DAY
SPACE = "dlib"
OLD, NEW = "a" * 64, "b" * 64
CONSENT = ConsentInput("paper-form", OLD, "admin", "main", "F-0001")


def templates(seed: int, k: int = 2) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(k, 128)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(wall=NOW)


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Any:
    s = Store(tmp_path / "state", os.urandom(32), clock=clock)
    yield s
    s.close()


def face(store: Store, seed: int, **kw: Any) -> str:
    kw.setdefault("consent", CONSENT)
    kw.setdefault("expires_at", NOW + 700 * DAY)
    return enroll_person(store, templates=templates(seed), space=SPACE, **kw).pseudonym


def card(store: Store, lookup: str, **kw: Any) -> str:
    until = kw.pop("valid_until", None)
    cred = CredentialInput("card", lookup, None, until)
    return enroll_person(store, credentials=(cred,), valid_until=until, **kw).pseudonym


def count(store: Store, table: str) -> int:
    return int(store.query(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


# -- finding 4: rights that work ------------------------------------------------------------


def test_find_by_name_or_unit_decrypts_only_the_matches(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    zhang = card(store, "c1", identity=Identity("Zhang Wei 张伟", "3-101"))
    li = card(store, "c2", identity=Identity("Li Na", "3-102"))
    card(store, "c3", identity=Identity("Zhang Wei 张伟", "9-909"))
    opened: list[str] = []
    real = crypto.open_sealed

    def spy(key: bytes, blob: bytes, *, what: str) -> bytes:
        opened.append(what)
        return real(key, blob, what=what)

    monkeypatch.setattr(crypto, "open_sealed", spy)
    found = find_people(store, name="ＺＨＡＮＧ  wei·张伟", unit="3 101")  # width, case, spaces
    assert [p for p, _ in found] == [zhang]
    assert found[0][1] is not None and found[0][1].unit == "3-101"
    assert opened.count("identity record") == 1  # nobody else's identity was opened
    assert [p for p, _ in find_people(store, unit="3-102")] == [li]
    assert len(find_people(store, name="zhang wei 张伟")) == 2
    assert find_people(store, name="Wang") == []
    with pytest.raises(ValueError, match="name or a unit"):
        find_people(store)
    tokens = [r[0] for r in store.query("SELECT token FROM person_index")]
    assert tokens and not any("zhang" in t or "3101" in t for t in tokens)  # keyed, not plain


def test_a_v2_store_is_migrated_indexed_and_every_face_gets_an_expiry(
    tmp_path: Path, clock: FakeClock
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    master, data_key = os.urandom(32), crypto.new_data_key()
    db = sqlite3.connect(state / "facegate.db")
    for statements in MIGRATIONS[:2]:
        for sql in statements:
            db.execute(sql)
    db.execute("PRAGMA user_version = 2")
    taken = NOW - 10 * DAY
    db.execute(
        "INSERT INTO people (pseudonym, wrapped_key, created_at) VALUES (?, ?, ?)",
        ("p-0000000000000001", crypto.seal(master, data_key), taken),
    )
    ident = json.dumps({"name": "Wang Fang", "unit": "5-1", "phone": None, "birth_year": None})
    db.execute(
        "INSERT INTO identities VALUES (?, ?)",
        ("p-0000000000000001", crypto.seal(data_key, ident.encode())),
    )
    db.execute(
        "INSERT INTO consents (consent_id, pseudonym, given_at, method, notice_version, taken_by,"
        " scope, separate) VALUES ('c-1', 'p-0000000000000001', ?, 'form', 'v', 'x', 'main', 1)",
        (taken,),
    )
    db.execute(  # the old admin-socket path: a template that never expires
        "INSERT INTO templates (pseudonym, consent_id, space, dim, sealed, created_at, expires_at)"
        " VALUES ('p-0000000000000001', 'c-1', 'dlib', 128, x'00', ?, NULL)",
        (taken,),
    )
    db.commit()
    db.close()
    with Store(state, master, clock=clock) as store:
        assert store.query("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        (expiry,) = store.query("SELECT expires_at FROM templates").fetchone()
        assert expiry == pytest.approx(taken + 730 * DAY)
        assert [p for p, _ in find_people(store, name="wang fang")] == ["p-0000000000000001"]
        with pytest.raises(sqlite3.IntegrityError, match="needs an expiry"):
            store.query(
                "INSERT INTO templates (pseudonym, consent_id, space, dim, sealed, created_at)"
                " VALUES ('p-0000000000000001', 'c-1', 'dlib', 128, x'00', 0)"
            )


def test_export_is_signed_and_holds_what_the_law_lists(store: Store, tmp_path: Path) -> None:
    from nacl.exceptions import BadSignatureError
    from nacl.signing import VerifyKey

    from facegate.store import Event

    cfg = make_config(tmp_path)
    pin = CredentialInput("pin", "tag", "hash")
    person = face(
        store, 1, identity=Identity("Zhang Wei", "3-101", "138", 1980), credentials=(pin,)
    )
    store.record_event(Event(NOW, "main", "face", "granted", person, 0.9, "match"))
    doc = export_document(store, cfg, person, "en")
    VerifyKey(bytes.fromhex(doc["public_key"])).verify(
        doc["document"].encode(), bytes.fromhex(doc["signature"])
    )
    with pytest.raises(BadSignatureError):
        VerifyKey(bytes.fromhex(doc["public_key"])).verify(
            doc["document"].replace("3-101", "3-102").encode(), bytes.fromhex(doc["signature"])
        )
    record = json.loads(doc["document"])["record"]
    assert record["identity"] == {
        "name": "Zhang Wei",
        "unit": "3-101",
        "phone": "138",
        "birth_year": 1980,
    }
    assert record["face"] == {"templates": 2, "expires_at": NOW + 700 * DAY}
    assert record["consents"][0]["notice_version"] == OLD
    assert record["consents"][0]["reference"] == "F-0001"  # links to the signed form
    assert [c["kind"] for c in record["credentials"]] == ["pin"]
    assert [e["result"] for e in record["events"]] == ["granted"]
    assert "hash" not in doc["document"] and "tag" not in doc["document"]  # never a PIN hash
    zh = export_document(store, cfg, person, "zh-CN")["lines"]
    assert any("人脸特征模板: 2" in line for line in zh)
    kinds = [r[0] for r in store.query("SELECT kind FROM processing_records")]
    assert kinds.count("person_exported") == 2


def test_correction_reindexes_shortens_validity_and_records_only_field_names(
    store: Store,
) -> None:
    pin = CredentialInput("pin", "tag", "hash")
    person = face(store, 2, identity=Identity("Old Name", "1-1"), credentials=(pin,))
    changed = correct_person(store, person, Correction(name="New Name", valid_until=NOW + 10 * DAY))
    assert changed == ["name", "valid_until"]
    assert find_people(store, name="old name") == []
    assert [p for p, _ in find_people(store, name="new name")] == [person]
    assert store.query("SELECT MAX(expires_at) FROM templates").fetchone()[0] == NOW + 10 * DAY
    assert store.query("SELECT valid_until FROM credentials").fetchone()[0] == NOW + 10 * DAY
    detail = store.query(
        "SELECT detail FROM processing_records WHERE kind = 'person_corrected'"
    ).fetchone()[0]
    assert json.loads(detail) == {"fields": ["name", "valid_until"]} and "New" not in detail
    with pytest.raises(StoreError, match="nothing to correct"):
        correct_person(store, person, Correction(name="New Name"))
    with pytest.raises(StoreError, match="guardian"):  # a face of a child needs a guardian
        correct_person(store, person, Correction(birth_year=2020))


def test_the_request_log_tracks_the_15_working_day_deadline(
    store: Store, clock: FakeClock, tmp_path: Path
) -> None:
    cfg = make_config(tmp_path)
    assert cfg.rights.response_working_days == 15
    with pytest.raises(ValidationError):
        RightsConfig(response_working_days=16)  # never promise more than the law allows
    tz = cfg.calendar.tz
    monday = dt.datetime(2027, 3, 1, 10, 0, tzinfo=tz).timestamp()
    due = request_due(cfg, monday)
    assert dt.datetime.fromtimestamp(due, tz) == dt.datetime(2027, 3, 22, 23, 59, 59, tzinfo=tz)
    person = card(store, "c9")
    rid = record_request(
        store,
        kind="access",
        pseudonym=person,
        channel="phone",
        received_at=monday,
        due_at=due,
        recorded_by="admin",
    )
    (req,) = list_requests(store, open_only=True)
    assert req.request_id == rid and not req.overdue(monday + DAY)
    assert req.overdue(due + 1)
    clock.advance(due + DAY - clock.time())
    answer_request(store, rid, answered_by="op2", outcome="done")
    (req,) = list_requests(store)
    assert req.answered_by == "op2" and req.overdue(due + 100 * DAY)  # answered late: shows
    assert list_requests(store, open_only=True) == []
    with pytest.raises(StoreError, match="already answered"):
        answer_request(store, rid, answered_by="op2", outcome="done")
    with pytest.raises(StoreError, match="kind of request"):
        record_request(
            store,
            kind="gossip",
            pseudonym=None,
            channel="phone",
            received_at=monday,
            due_at=due,
            recorded_by="admin",
        )


def test_rights_commands_on_the_socket_have_roles(store: Store, tmp_path: Path) -> None:
    class Control:
        cfg = make_config(tmp_path)
        clock = FakeClock(wall=NOW)

        def __init__(self) -> None:
            self.store = store
            self.changed: list[tuple[str, str]] = []

        def on_loop(self, handler: Any) -> Any:
            return handler

        def people_changed(self, kind: str, pseudonym: str) -> None:
            self.changed.append((kind, pseudonym))

    control = Control()
    handlers = rights_handlers(control)  # type: ignore[arg-type]
    roles = {name: h.role for name, h in handlers.items()}
    assert roles["person.find"] is roles["person.export"] is roles["person.update"] is Role.ADMIN
    # Recording and answering change the log: operator. Reading it (pseudonyms, kinds and
    # deadlines, no identity) is an auditor's job too (the console's request page, issue 18).
    assert roles["request.record"] is roles["request.answer"] is Role.OPERATOR
    assert roles["request.list"] is roles["person.reconsent_due"] is Role.AUDITOR
    assert roles["person.reconsent"] is Role.OPERATOR
    person = card(store, "c7", identity=Identity("Zhao Lei", "7-1"))

    def call(command: str, **args: Any) -> dict[str, Any]:
        h = handlers[command]
        model = h.args_model(**args) if h.args_model is not None else args
        return h.func(model, None)  # type: ignore[arg-type]

    assert call("person.find", name="zhao lei")["people"][0]["person"] == person
    assert call("person.update", person=person, unit="7-2")["changed"] == ["unit"]
    assert control.changed == [("correction", person)]
    rid = call("request.record", kind="copy", channel="email", recorded_by="admin")["request"]
    assert call("request.list", open_only=True)["requests"][0]["request"] == rid
    call("request.answer", request=rid, answered_by="admin", outcome="done")
    assert call("request.list", open_only=True)["requests"] == []


# -- finding 5: retention as the law reads it -----------------------------------------------


def test_a_face_never_outlives_validity_and_goes_with_its_identity(
    store: Store, clock: FakeClock
) -> None:
    person = face(store, 3, identity=Identity("Tenant"), valid_until=NOW + 30 * DAY)
    assert store.query("SELECT MAX(expires_at) FROM templates").fetchone()[0] == NOW + 30 * DAY
    clock.advance(31 * DAY)
    report = purge_expired(store, event_days=90, record_years=3, template_days=730)
    assert report.templates == 2 and report.people == 1
    assert count(store, "people") == count(store, "identities") == 0
    assert count(store, "person_index") == 0
    assert person in report.people_without_face


def test_a_shorter_template_days_applies_to_faces_already_stored(
    store: Store, clock: FakeClock
) -> None:
    face(store, 4, credentials=(CredentialInput("pin", "t4", "h"),))
    clock.advance(100 * DAY)
    assert purge_expired(store, event_days=90, record_years=3, template_days=365).templates == 0
    report = purge_expired(store, event_days=90, record_years=3, template_days=90)
    assert report.templates == 2 and report.people == 0  # the PIN still lets them in
    assert count(store, "people") == 1


def test_pin_and_card_only_people_past_validity_are_purged_with_identity(
    store: Store, clock: FakeClock
) -> None:
    card(store, "visitor", identity=Identity("Visitor", "guest"), valid_until=NOW + 5 * DAY)
    card(store, "resident", identity=Identity("Resident", "1-1"))
    clock.advance(DAY)
    assert purge_expired(store, event_days=90, record_years=3).people == 0
    clock.advance(5 * DAY)
    assert purge_expired(store, event_days=90, record_years=3).people == 1
    assert count(store, "people") == count(store, "identities") == count(store, "credentials") == 1
    clock.advance(10 * YEAR)
    assert purge_expired(store, event_days=90, record_years=3).people == 0  # no end date: stays


def test_consent_records_are_kept_exactly_the_record_period(store: Store, clock: FakeClock) -> None:
    person = face(store, 5, credentials=(CredentialInput("pin", "t5", "h"),))
    withdraw(store, person)
    clock.advance(3 * YEAR - DAY)
    assert purge_expired(store, event_days=90, record_years=3).consents == 0
    assert count(store, "consents") == 1
    clock.advance(2 * DAY)
    assert purge_expired(store, event_days=90, record_years=3).consents == 1
    assert count(store, "consents") == 0


def test_no_path_stores_a_template_without_an_expiry(store: Store) -> None:
    with pytest.raises(StoreError, match="needs an expiry"):
        enroll_person(store, consent=CONSENT, templates=templates(6), space=SPACE)
    with pytest.raises(TypeError):
        store.enroll_many(
            [templates(7)],
            space=SPACE,
            method="m",
            notice_version="v",  # type: ignore[call-arg]
            taken_by="t",
            scope="s",
        )
    assert count(store, "templates") == count(store, "people") == 0


@pytest.mark.parametrize(
    "field",
    [
        {"template_days": 3650},
        {"template_days": 731},
        {"event_days": 3650},
        {"record_years": 30},
        {"record_years": 2},
        {"reconsent_days": 365},
    ],
)
def test_retention_bounds_match_what_the_sign_promises(field: dict[str, int]) -> None:
    with pytest.raises(ValidationError):
        RetentionConfig(**field)


def test_retention_periods_state_the_configured_numbers() -> None:
    periods = {
        p.kind: p
        for p in period_sentences(RetentionConfig(template_days=365, event_days=30, record_years=4))
    }
    assert "365" in periods["face_template"].zh and "365 days" in periods["face_template"].en
    assert "30" in periods["events"].en and "4 years" in periods["consent"].en
    assert "validity" in periods["face_template"].en and "identity" in periods


def test_faces_under_an_older_notice_expire_after_the_renewal_deadline(
    store: Store, clock: FakeClock
) -> None:
    pin = (CredentialInput("pin", "t8", "h"),)
    renewed = face(store, 8, credentials=pin)
    late = face(store, 9, credentials=(CredentialInput("pin", "t9", "h"),))
    current = face(store, 10, consent=ConsentInput("paper-form", NEW, "admin", "main"))
    rule = Reconsent(NEW, NOW + 30 * DAY)
    assert {r.pseudonym for r in consents_to_renew(store, NEW)} == {renewed, late}
    renew_consent(store, renewed, ConsentInput("tablet-signature", NEW, "op2", "main", "T-9"))
    refs = store.query("SELECT reference FROM consents WHERE pseudonym = ?", (renewed,))
    assert "T-9" in [r[0] for r in refs]
    assert {r.pseudonym for r in consents_to_renew(store, NEW)} == {late}
    clock.advance(29 * DAY)
    assert purge_expired(store, event_days=90, record_years=3, reconsent=rule).templates == 0
    clock.advance(2 * DAY)
    report = purge_expired(store, event_days=90, record_years=3, reconsent=rule)
    assert report.people_without_face == [late] and report.templates == 2
    left = {r[0] for r in store.query("SELECT DISTINCT pseudonym FROM templates")}
    assert left == {renewed, current}


def test_a_guardian_consent_is_not_renewed_without_the_guardian(store: Store) -> None:
    child = face(store, 11, minor=True, guardian=GuardianConsent("G", "mother", "paper-form"))
    with pytest.raises(StoreError, match="guardian"):
        renew_consent(store, child, ConsentInput("paper-form", NEW, "admin", "main"))


# -- finding 6 and the CLI: consent as evidence, with the daemon stopped ----------------------


def _cli_config(tmp_path: Path) -> str:
    from test_compliance_helpers import config_text

    path = tmp_path / "gate.yaml"
    path.write_text(config_text(tmp_path / "state"))
    return str(path)


def _audit_kinds(state: Path) -> list[str]:
    kinds = []
    for path in sorted((state / "audit").glob("*.jsonl")):
        kinds += [json.loads(line)["kind"] for line in path.read_text().splitlines() if line]
    return kinds


def test_cli_rights_round_trip_with_the_daemon_stopped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _cli_config(tmp_path)
    state = tmp_path / "state"
    assert main(["keys", "init", "-c", cfg]) == 0
    base = ["enroll", "-c", cfg, "--generate-pin", "--name", "Zhang Wei", "--unit", "3-101"]
    assert main([*base, "--expires", "2020-01-01"]) == 2
    assert "--expires is in the past" in capsys.readouterr().err
    assert main([*base, "--birth-year", "2150"]) == 2
    assert "--birth-year 2150 is not plausible" in capsys.readouterr().err
    assert main([*base, "--valid-until", "2099-01-01"]) == 2
    capsys.readouterr()
    assert main(base) == 0
    out = capsys.readouterr().out
    person = next(w for w in out.split() if w.startswith("p-"))
    assert "enrolment" in _audit_kinds(state)  # audited though no daemon runs
    assert main(["person", "find", "-c", cfg, "--name", "zhang wei"]) == 0
    assert person in capsys.readouterr().out
    export = tmp_path / "export.json"
    assert main(["person", "export", "-c", cfg, person, "--lang", "en", "--out", str(export)]) == 0
    assert "Zhang Wei" in capsys.readouterr().out
    doc = json.loads(export.read_text())
    assert json.loads(doc["document"])["record"]["person"] == person and doc["signature"]
    assert main(["person", "update", "-c", cfg, person, "--unit", "3-102"]) == 0
    assert "corrected" in capsys.readouterr().out
    assert main(["person", "find", "-c", cfg, "--unit", "3 102"]) == 0
    assert person in capsys.readouterr().out
    assert main(["person", "update", "-c", cfg, person, "--birth-year", "2150"]) == 2
    capsys.readouterr()
    assert {"export", "correction"} <= set(_audit_kinds(state))
    record = ["request", "record", "-c", cfg, "--kind", "access", "--channel", "phone"]
    assert main([*record, "--by", "admin", "--person", person]) == 0
    rid = next(w for w in capsys.readouterr().out.split() if w.startswith("r-")).rstrip(":")
    assert main(["request", "list", "-c", cfg, "--open"]) == 0
    assert rid in capsys.readouterr().out
    assert main(["request", "answer", "-c", cfg, rid, "--by", "admin", "--outcome", "done"]) == 0
    capsys.readouterr()
    assert main(["request", "list", "-c", cfg, "--open"]) == 0
    assert rid not in capsys.readouterr().out


def test_the_consent_form_carries_the_posted_notice_and_needs_a_font(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from facegate.compliance.consent_form import consent_form_markdown
    from facegate.compliance.fonts import FontNotFoundError, find_cjk_font
    from facegate.compliance.notice_text import build_notice
    from facegate.config import load_config

    cfg_path = _cli_config(tmp_path)
    out = tmp_path / "form.pdf"
    form = ["person", "consent-form", "-c", cfg_path, "--out", str(out)]
    assert main(form) == 2  # no notice recorded as posted yet
    assert "recorded as posted" in capsys.readouterr().err
    assert main(["notice", "hash", "--record", "-c", cfg_path]) == 0
    cfg = load_config(Path(cfg_path))
    assert cfg.notice is not None
    bundle = build_notice(cfg)
    md = consent_form_markdown(bundle, cfg)
    assert bundle.version in md and "GB/T 41819" in md and "paper-form" in md
    assert "365" in md  # the retention periods, as configured
    monkeypatch.setenv("FACEGATE_CJK_FONT", str(tmp_path / "no-such-font.ttf"))
    assert main(form) == 1
    assert "font" in capsys.readouterr().err and not out.exists()
    monkeypatch.delenv("FACEGATE_CJK_FONT")
    try:
        find_cjk_font()
    except FontNotFoundError:
        pytest.skip("no CJK font installed (Debian: fonts-wqy-microhei)")
    assert main(form) == 0
    assert out.read_bytes().startswith(b"%PDF")


def test_the_daemon_takes_the_renewal_deadline_from_the_posted_notices(
    store: Store, clock: FakeClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from facegate.service.state import apply_retention, reconsent_rule
    from helpers import post_notice

    cfg = make_config(tmp_path)
    assert cfg.store.state_dir == store.state_dir and reconsent_rule(cfg) is None
    old = post_notice(store.state_dir, now=NOW - 100 * DAY)
    pin = (CredentialInput("pin", "t12", "h"),)
    face(store, 12, consent=ConsentInput("paper-form", old, "admin", "main"), credentials=pin)
    new = post_notice(store.state_dir, now=NOW, wording=" Changed.")
    assert reconsent_rule(cfg) == Reconsent(new, NOW + cfg.retention.reconsent_days * DAY)
    with caplog.at_level("WARNING"):
        assert apply_retention(store, None, cfg) is False
    assert "1 people consented under an older notice" in caplog.text
    clock.advance((cfg.retention.reconsent_days + 1) * DAY)
    assert apply_retention(store, None, cfg) is True
    assert count(store, "templates") == 0 and count(store, "people") == 1  # the PIN stays
