"""A person's life in the store: consent, guardians, withdrawal, deletion, retention, keys."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from facegate.clock import FakeClock
from facegate.errors import MasterKeyError, StoreError
from facegate.store import (
    ConsentInput,
    CredentialInput,
    GuardianConsent,
    Identity,
    Store,
    create_master_key,
    delete_person,
    enroll_person,
    is_minor,
    list_people,
    load_master_key,
    open_store,
    purge_expired,
    rotate_master_key,
    withdraw,
)
from facegate.store.crypto import key_fingerprint, write_key_file
from facegate.vision.sface import SFACE_SPACE

SPACE = SFACE_SPACE  # the default embedder's space: the App below loads these templates
CONSENT = ConsentInput("paper form 2026-0142", "notice-v1", "admin", "main")
NAME = "Zhang Wei 张伟"


def templates(seed: int, k: int = 2) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(k, 128)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def files_bytes(state: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(state.iterdir()) if p.is_file())


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "state", os.urandom(32), clock=FakeClock(wall=1_800_000_000.0))
    yield s
    s.close()


def test_nothing_in_the_clear_on_disk_and_gone_after_delete(store: Store) -> None:
    rows = templates(1)
    person = enroll_person(
        store,
        identity=Identity(NAME, "3-1201", "+86 138 0000 0000", 1980),
        consent=CONSENT,
        templates=rows,
        space=SPACE,
        expires_at=2_000_000_000.0,
    )
    enroll_person(
        store,
        identity=Identity("Li Na"),
        consent=CONSENT,
        templates=templates(2),
        space=SPACE,
        expires_at=2_000_000_000.0,
    )
    blob = files_bytes(store.state_dir)
    for needle in (NAME.encode(), "张伟".encode(), b"3-1201", b"138 0000", b"Li Na"):
        assert needle not in blob
    for row in rows:
        raw = row.astype("<f4").tobytes()
        assert all(raw[i : i + 16] not in blob for i in range(0, len(raw) - 16, 16))
    sealed = [
        r[0]
        for r in store._db.execute(
            "SELECT sealed FROM templates WHERE pseudonym = ?", (person.pseudonym,)
        )
    ]
    wrapped = store._db.execute(
        "SELECT wrapped_key FROM people WHERE pseudonym = ?", (person.pseudonym,)
    ).fetchone()[0]
    identity = store._db.execute(
        "SELECT sealed FROM identities WHERE pseudonym = ?", (person.pseudonym,)
    ).fetchone()[0]
    store.checkpoint()
    assert all(s in files_bytes(store.state_dir) for s in sealed)  # visible to the scan
    receipt = delete_person(store, person.pseudonym)
    assert receipt is not None and receipt.deleted["face templates"] == 2
    blob = files_bytes(store.state_dir)
    for gone in (*sealed, wrapped, identity):
        assert gone not in blob
    assert store.count_people_with_face() == 1


def test_minor_needs_a_guardian(store: Store) -> None:
    now = store.clock.time()  # 2027
    assert is_minor(Identity(birth_year=2014), False, now)  # 13 or 14 this year: maybe under 14
    assert not is_minor(Identity(birth_year=2012), False, now)
    assert is_minor(None, True, now) and not is_minor(None, False, now)
    with pytest.raises(StoreError, match="guardian"):
        enroll_person(
            store,
            minor=True,
            consent=CONSENT,
            templates=templates(3),
            space=SPACE,
            expires_at=2_000_000_000.0,
        )
    assert store.count_people_with_face() == 0 and list_people(store) == []
    ok = enroll_person(
        store,
        minor=True,
        consent=CONSENT,
        templates=templates(3),
        space=SPACE,
        guardian=GuardianConsent("Wang Fang", "mother", "form 0142-G"),
        expires_at=2_000_000_000.0,
    )
    row = store._db.execute(
        "SELECT guardian_sealed, guardian_relation FROM consents WHERE consent_id = ?",
        (ok.consent_id,),
    ).fetchone()
    assert row[1] == "mother" and b"Wang Fang" not in row[0]
    assert list_people(store)[0].minor


def test_face_needs_consent_but_pin_or_card_do_not(store: Store) -> None:
    with pytest.raises(StoreError, match="separate consent"):
        enroll_person(store, templates=templates(4), space=SPACE, expires_at=2_000_000_000.0)
    with pytest.raises(StoreError, match="nothing to enrol"):
        enroll_person(store)
    card = CredentialInput("card", "hash-of-card-1")
    person = enroll_person(store, credentials=(card,))
    assert person.consent_id is None and person.templates == 0
    summary = list_people(store)[0]
    assert summary.credentials == ("card",) and summary.consent == "none"
    with pytest.raises(StoreError, match="already assigned"):
        enroll_person(store, credentials=(card,))
    assert len(list_people(store)) == 1  # the failed enrolment left nothing


def test_withdrawal_deletes_the_face_and_keeps_pin_and_card(store: Store) -> None:
    person = enroll_person(
        store,
        consent=CONSENT,
        templates=templates(5),
        space=SPACE,
        credentials=(
            CredentialInput("pin", "pin-lookup", "argon2id$…"),
            CredentialInput("card", "card-hash"),
        ),
        expires_at=2_000_000_000.0,
    )
    receipt = withdraw(store, person.pseudonym)
    assert receipt.deleted == {"face templates": 2}
    assert receipt.kept == ("CARD entry", "PIN entry")
    assert receipt.consent_ids == (person.consent_id,)
    assert any("2 face templates" in line for line in receipt.lines())
    assert store.count_people_with_face() == 0
    summary = list_people(store)[0]
    assert summary.consent == "withdrawn" and summary.credentials == ("card", "pin")
    kinds = [r[0] for r in store._db.execute("SELECT kind FROM processing_records ORDER BY id")]
    assert kinds == ["consent_given", "person_enrolled", "consent_withdrawn"]
    # The withdrawn consent is closed and holds no template (no call adds templates to an
    # existing consent: Store.add_templates, which had to refuse a withdrawn one, is gone).
    ((withdrawn_at, left),) = store.query(
        "SELECT c.withdrawn_at, (SELECT COUNT(*) FROM templates t WHERE t.consent_id ="
        " c.consent_id) FROM consents c WHERE c.consent_id = ?",
        (person.consent_id,),
    ).fetchall()
    assert withdrawn_at is not None and left == 0


def test_retention_purges_on_an_injected_clock(tmp_path: Path) -> None:
    clock = FakeClock(wall=1_800_000_000.0)
    store = Store(tmp_path / "state", os.urandom(32), clock=clock)
    day = 86_400.0
    short = enroll_person(
        store,
        consent=CONSENT,
        templates=templates(7),
        space=SPACE,
        expires_at=clock.time() + 10 * day,
    )
    enroll_person(
        store,
        consent=CONSENT,
        templates=templates(8),
        space=SPACE,
        expires_at=clock.time() + 100 * day,
    )
    from facegate.store import Event

    store.record_event(Event(clock.time(), "main", "face", "granted", short.pseudonym, 0.95, "x"))
    clock.advance(11 * day)
    report = purge_expired(store, event_days=30, record_years=3)
    assert report.templates == 2 and report.people_without_face == [short.pseudonym]
    assert store.count_people_with_face() == 1 and report.events == 0
    clock.advance(30 * day)
    assert purge_expired(store, event_days=30, record_years=3).events == 1
    clock.advance(3 * 366 * day)
    assert purge_expired(store, event_days=30, record_years=3).records >= 4
    store.close()


def test_app_purges_on_start_and_daily(tmp_path: Path, models_dir: Path) -> None:
    from gpiozero.pins.mock import MockFactory

    from facegate.service.app import App
    from helpers import make_config

    cfg = make_config(tmp_path, models_dir)
    clock = FakeClock(wall=1_800_000_000.0)
    key = os.urandom(32)
    with Store(cfg.store.state_dir, key, clock=clock) as s:
        enroll_person(
            s,
            consent=CONSENT,
            templates=templates(9),
            space=SPACE,
            expires_at=clock.time() + 1.5 * 86_400,
        )
    app = App(cfg, pin_factory=MockFactory(), clock=clock, master_key=key)
    app.check_rules()
    app.init_gate()
    app.init_store()
    app.init_face()
    app.init_gallery()
    try:
        assert len(app.face.pipeline.gallery) == 1  # type: ignore[union-attr]
        clock.advance(86_400)
        app.tick()  # first daily run: not expired yet
        assert len(app.face.pipeline.gallery) == 1  # type: ignore[union-attr]
        clock.advance(86_400)
        app.tick()
        assert len(app.face.pipeline.gallery) == 0  # type: ignore[union-attr]
        assert app.store.count_people_with_face() == 0  # type: ignore[union-attr]
    finally:
        app.close()


def test_passphrase_protected_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "master.key"
    monkeypatch.delenv("FACEGATE_PASSPHRASE", raising=False)
    key = create_master_key(path, passphrase=b"correct horse battery")
    assert key not in path.read_bytes() and path.read_bytes()[:4] == b"FGK1"
    assert load_master_key(path, passphrase=b"correct horse battery") == key
    with pytest.raises(MasterKeyError, match="wrong passphrase"):
        load_master_key(path, passphrase=b"wrong")
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    with pytest.raises(MasterKeyError, match="protected by a passphrase"):
        load_master_key(path)
    monkeypatch.setenv("FACEGATE_PASSPHRASE", "correct horse battery")
    assert load_master_key(path) == key


def test_rotation_rewraps_without_touching_templates(tmp_path: Path) -> None:
    state = tmp_path / "state"
    key_path = state / "master.key"
    old = create_master_key(key_path)
    with Store(state, old) as s:
        p = enroll_person(
            s,
            identity=Identity(NAME),
            consent=CONSENT,
            templates=templates(10),
            space=SPACE,
            expires_at=2_000_000_000.0,
        )
        sealed_before = [r[0] for r in s._db.execute("SELECT sealed FROM templates")]
    result = rotate_master_key(key_path, state)
    # the person's data key and the blind-index device key
    assert result.rewrapped == 2 and result.old_key_id == key_fingerprint(old)
    new = load_master_key(key_path)
    assert new != old and result.new_key_id == key_fingerprint(new)
    with pytest.raises(MasterKeyError):
        Store(state, old)
    with Store(state, new) as s:
        assert [r[0] for r in s._db.execute("SELECT sealed FROM templates")] == sealed_before
        got = dict(s.iter_templates(SPACE))
        np.testing.assert_allclose(got[p.pseudonym], templates(10), atol=1e-6)
        assert list_people(s, show_names=True)[0].identity.name == NAME  # type: ignore[union-attr]


def test_interrupted_rotation_is_finished_or_undone(tmp_path: Path) -> None:
    state = tmp_path / "state"
    key_path = state / "master.key"
    old = create_master_key(key_path)
    with Store(state, old) as s:
        enroll_person(
            s, consent=CONSENT, templates=templates(11), space=SPACE, expires_at=2_000_000_000.0
        )
    pending = key_path.with_name("master.key.new")
    # Crash before the commit: the new key file exists, the database still uses the old key.
    write_key_file(pending, os.urandom(32))
    with open_store(key_path, state) as s:
        assert s.key_id == key_fingerprint(old)
    assert not pending.exists()
    # Crash after the commit, before the rename: the database uses the new key already.
    new = os.urandom(32)
    write_key_file(pending, new)
    with Store(state, old) as s:
        s.rotate_master_key(new)
    with open_store(key_path, state) as s:
        assert s.key_id == key_fingerprint(new) and len(dict(s.iter_templates(SPACE))) == 1
    assert not pending.exists() and load_master_key(key_path) == new


# -- SIGKILL in the middle of enrolment, deletion and rotation -------------------------

CHILD = textwrap.dedent(
    """
    import os, sys, numpy as np
    from pathlib import Path
    from facegate.store import (ConsentInput, Store, delete_person, enroll_person,
                                open_store, rotate_master_key)
    op, state = sys.argv[1], Path(sys.argv[2])
    key_path = state / "master.key"
    consent = ConsentInput("form", "v1", "admin", "main")
    rng = np.random.default_rng(int.from_bytes(os.urandom(4), "little"))
    print("ready", flush=True)
    while True:
        if op == "rotate":
            rotate_master_key(key_path, state)
            continue
        with open_store(key_path, state) as store:
            if op == "enroll":
                rows = rng.normal(size=(3, 128)).astype(np.float32)
                enroll_person(store, consent=consent, templates=rows, space="s", expires_at=2e9)
            else:
                people = [r[0] for r in store._db.execute("SELECT pseudonym FROM people")]
                if people:
                    delete_person(store, people[0])
                rows = rng.normal(size=(3, 128)).astype(np.float32)
                enroll_person(store, consent=consent, templates=rows, space="s", expires_at=2e9)
    """
)


def check_consistent(state: Path) -> None:
    db = sqlite3.connect(state / "facegate.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    with open_store(state / "master.key", state) as store:  # finishes/undoes a rotation
        people = [r[0] for r in store._db.execute("SELECT pseudonym FROM people")]
        loaded = dict(store.iter_templates("s"))  # every template decrypts
        for pseudonym in people:  # all or nothing: nobody half-enrolled
            assert pseudonym in loaded and loaded[pseudonym].shape == (3, 128)
            consents = store._db.execute(
                "SELECT COUNT(*) FROM consents WHERE pseudonym = ?", (pseudonym,)
            ).fetchone()[0]
            assert consents == 1
        orphans = store._db.execute(
            "SELECT COUNT(*) FROM templates WHERE pseudonym NOT IN (SELECT pseudonym FROM people)"
        ).fetchone()[0]
        assert orphans == 0


@pytest.mark.parametrize("op", ["enroll", "delete", "rotate"])
def test_sigkill_at_random_points_leaves_a_consistent_store(tmp_path: Path, op: str) -> None:
    state = tmp_path / "state"
    key = create_master_key(state / "master.key")
    with Store(state, key) as s:
        for seed in range(3):
            enroll_person(
                s,
                consent=ConsentInput("form", "v1", "admin", "main"),
                templates=np.random.default_rng(seed).normal(size=(3, 128)),
                space="s",
                expires_at=2_000_000_000.0,
            )
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    rnd = random.Random(op)
    for _ in range(6):
        child = subprocess.Popen(
            [sys.executable, str(script), op, str(state)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready", (
            child.stderr.read() if child.stderr else ""
        )
        time.sleep(rnd.uniform(0.05, 0.6))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        check_consistent(state)


def test_receipts_are_signed_with_the_device_key(store: Store) -> None:
    from nacl.signing import VerifyKey

    person = enroll_person(
        store, consent=CONSENT, templates=templates(12), space=SPACE, expires_at=2_000_000_000.0
    )
    receipt = withdraw(store, person.pseudonym)
    signature, public_key = receipt.signed(store)
    key = VerifyKey(bytes.fromhex(public_key))
    key.verify(receipt.to_json().encode(), bytes.fromhex(signature))  # raises if forged
    import nacl.exceptions

    forged = receipt.to_json().replace("withdrawal", "deletion").encode()
    with pytest.raises(nacl.exceptions.BadSignatureError):
        key.verify(forged, bytes.fromhex(signature))
