"""Tests for the master key, sealing, and the encrypted SQLite store.

The store's promises are checked on the bytes it leaves on disk: no template or data key in
the clear, and nothing left of a deleted person's ciphertext or wrapped key after deletion.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from facegate.clock import FakeClock
from facegate.errors import MasterKeyError, StoreError
from facegate.store import (
    ConsentInput,
    CredentialInput,
    Event,
    Store,
    create_master_key,
    crypto,
    delete_person,
    enroll_person,
    load_master_key,
    new_pseudonym,
    resolve_key_path,
    withdraw,
)
from facegate.store.schema import SCHEMA_VERSION

SPACE = "sface-128"
DIM = 128

# --- helpers ----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_systemd_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests start outside systemd; the ones about credentials set the variable themselves."""
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)


@pytest.fixture
def master_key() -> bytes:
    return os.urandom(crypto.KEY_BYTES)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=10.0, wall=1_767_225_600.0)


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"  # does not exist yet: the store creates it


@pytest.fixture
def store(state_dir: Path, master_key: bytes, clock: FakeClock) -> Iterator[Store]:
    with Store(state_dir, master_key, clock=clock) as s:
        yield s


CONSENT = ConsentInput(
    method="paper form 2026-0142",
    notice_version="sha256:0f3c",
    taken_by="admin",
    scope="front-door",
)


def enroll(store: Store, templates: np.ndarray, *, space: str = SPACE) -> tuple[str, str]:
    """Enrol a person with consent and templates (as production does); returns
    (pseudonym, consent_id)."""
    enrolled = enroll_person(
        store, consent=CONSENT, templates=templates, space=space, expires_at=2_000_000_000.0
    )
    assert enrolled.templates == len(np.atleast_2d(templates))
    assert enrolled.consent_id is not None
    return enrolled.pseudonym, enrolled.consent_id


def random_templates(rng: np.random.Generator, k: int, dim: int = DIM) -> np.ndarray:
    return rng.standard_normal((k, dim)).astype(np.float32)


def gallery(store: Store, space: str = SPACE) -> dict[str, np.ndarray]:
    result: dict[str, np.ndarray] = {}
    for pseudonym, templates in store.iter_templates(space):
        assert pseudonym not in result, "a person must come out as one batch"
        result[pseudonym] = templates
    return result


def sql(db_path: Path, statement: str, params: tuple[object, ...] = ()) -> list[tuple]:
    """Run one statement on a separate connection (as an attacker or a tool would)."""
    db = sqlite3.connect(db_path, isolation_level=None)
    try:
        return db.execute(statement, params).fetchall()
    finally:
        db.close()


def disk_bytes(state_dir: Path) -> bytes:
    """Every file under the state dir (db, -wal, -shm, anything else), concatenated."""
    files = sorted(p for p in state_dir.rglob("*") if p.is_file())
    assert any(p.name == "facegate.db" for p in files)
    return b"\x00".join(p.read_bytes() for p in files)


def windows(data: bytes, size: int = 16) -> Iterator[bytes]:
    for start in range(len(data) - size + 1):
        yield data[start : start + size]


def assert_not_on_disk(state_dir: Path, secret: bytes, what: str) -> None:
    blob = disk_bytes(state_dir)
    assert secret not in blob, f"{what} found on disk"
    for window in windows(secret):
        assert window not in blob, f"16 bytes of {what} found on disk"


# --- master key -------------------------------------------------------------------------------


def test_create_master_key(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "master.key"
    create_master_key(path)
    data = path.read_bytes()
    assert len(data) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_master_key(path) == data
    other = tmp_path / "other.key"
    create_master_key(other)
    assert other.read_bytes() != data  # random, not a constant


def test_create_master_key_is_0600_even_with_a_permissive_umask(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    old = os.umask(0)
    try:
        create_master_key(path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_create_master_key_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    create_master_key(path)
    before = path.read_bytes()
    with pytest.raises(MasterKeyError, match="already exists"):
        create_master_key(path)
    assert path.read_bytes() == before
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_load_master_key_missing(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    with pytest.raises(MasterKeyError, match="facegate keys init") as info:
        load_master_key(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("length", [0, 16, 31, 33, 64])
def test_load_master_key_wrong_length(tmp_path: Path, length: int) -> None:
    path = tmp_path / "master.key"
    data = bytes(range(256))[:length]
    path.write_bytes(data)
    path.chmod(0o600)
    with pytest.raises(MasterKeyError, match=f"is {length} bytes, expected 32") as info:
        load_master_key(path)
    if data:
        assert data.hex() not in str(info.value)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o666])
def test_load_master_key_refuses_readable_by_others(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "master.key"
    path.write_bytes(os.urandom(32))
    path.chmod(mode)
    with pytest.raises(MasterKeyError, match="chmod 600") as info:
        load_master_key(path)
    assert f"{mode:04o}" in str(info.value)
    assert load_master_key(path, check_mode=False) == path.read_bytes()


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_load_master_key_accepts_owner_only(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "master.key"
    key = os.urandom(32)
    path.write_bytes(key)
    path.chmod(mode)
    assert load_master_key(path) == key


def test_load_master_key_directory(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    path.mkdir(mode=0o700)
    with pytest.raises(MasterKeyError, match="not a regular file"):
        load_master_key(path)


def test_load_master_key_systemd_credential_may_be_0440(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    creds = tmp_path / "credentials"
    creds.mkdir()
    path = creds / "facegate-master-key"
    key = os.urandom(32)
    path.write_bytes(key)
    path.chmod(0o440)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    assert load_master_key(resolve_key_path(None, tmp_path / "state")) == key


def test_load_master_key_mode_check_only_waived_for_the_credential(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    creds = tmp_path / "credentials"
    creds.mkdir()
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    path = tmp_path / "etc" / "master.key"
    path.parent.mkdir()
    path.write_bytes(os.urandom(32))
    path.chmod(0o644)
    with pytest.raises(MasterKeyError, match="chmod 600"):
        load_master_key(path)


def test_resolve_key_path_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / "state"
    configured = tmp_path / "etc" / "facegate.key"
    creds = tmp_path / "credentials"
    creds.mkdir()

    # No credentials directory: the state dir.
    assert resolve_key_path(None, state) == state / "master.key"
    # A credentials directory without our credential: still the state dir.
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    assert resolve_key_path(None, state) == state / "master.key"
    # The credential exists: it wins over the state dir...
    (creds / "facegate-master-key").write_bytes(os.urandom(32))
    assert resolve_key_path(None, state) == creds / "facegate-master-key"
    # ...but a configured path wins over everything, even if it does not exist yet.
    assert resolve_key_path(configured, state) == configured
    monkeypatch.delenv("CREDENTIALS_DIRECTORY")
    assert resolve_key_path(configured, state) == configured


# --- sealing ----------------------------------------------------------------------------------


def test_seal_round_trip() -> None:
    key = crypto.new_data_key()
    assert len(key) == 32
    assert crypto.new_data_key() != key
    plaintext = os.urandom(512)
    sealed = crypto.seal(key, plaintext)
    assert plaintext not in sealed
    assert len(sealed) == len(plaintext) + 24 + 16  # nonce + MAC
    assert crypto.seal(key, plaintext) != sealed  # random nonce each time
    assert crypto.open_sealed(key, sealed, what="template 1") == plaintext


@pytest.mark.parametrize("position", [0, 23, 24, 39, 40, -1])  # nonce, MAC, body
def test_tampered_ciphertext_is_a_store_error(position: int) -> None:
    key = crypto.new_data_key()
    plaintext = b"embedding bytes " * 8
    sealed = bytearray(crypto.seal(key, plaintext))
    sealed[position] ^= 0x01
    with pytest.raises(StoreError, match="template 7 does not decrypt") as info:
        crypto.open_sealed(key, bytes(sealed), what="template 7")
    message = str(info.value)
    assert "embedding" not in message
    assert key.hex() not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_wrong_key_is_a_store_error() -> None:
    sealed = crypto.seal(crypto.new_data_key(), b"secret")
    with pytest.raises(StoreError, match="data key of p-1 does not decrypt") as info:
        crypto.open_sealed(crypto.new_data_key(), sealed, what="data key of p-1")
    assert info.value.__cause__ is None and info.value.__suppress_context__


@pytest.mark.parametrize("sealed", [b"", b"short", bytes(30)])
def test_truncated_ciphertext_is_a_store_error(sealed: bytes) -> None:
    with pytest.raises(StoreError, match="template 3"):
        crypto.open_sealed(crypto.new_data_key(), sealed, what="template 3")


# --- store: files, pragmas, schema ------------------------------------------------------------


def test_store_files_are_private(store: Store, state_dir: Path) -> None:
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700
    enroll(store, random_templates(np.random.default_rng(1), 2))
    files = [p for p in state_dir.iterdir() if p.is_file()]
    assert {p.name for p in files} >= {"facegate.db"}
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, f"{path.name} readable by others"


def test_store_pragmas_and_schema_version(store: Store, state_dir: Path) -> None:
    db_path = state_dir / "facegate.db"
    assert store.path == db_path
    assert sql(db_path, "PRAGMA journal_mode") == [("wal",)]
    assert sql(db_path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert SCHEMA_VERSION >= 1
    # On the store's own connection: deletion overwrites, and the cascade is enforced.
    assert store._db.execute("PRAGMA secure_delete").fetchone()[0] == 1
    assert store._db.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_store_reopens_existing_database(state_dir: Path, master_key: bytes) -> None:
    rng = np.random.default_rng(2)
    templates = random_templates(rng, 2)
    with Store(state_dir, master_key) as first:
        pseudonym, _ = enroll(first, templates)
    with Store(state_dir, master_key) as second:
        assert sql(second.path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
        np.testing.assert_array_equal(gallery(second)[pseudonym], templates)


@pytest.mark.parametrize("length", [0, 16, 31, 33])
def test_store_needs_a_32_byte_master_key(state_dir: Path, length: int) -> None:
    with pytest.raises(StoreError, match="32 bytes"):
        Store(state_dir, os.urandom(length))
    assert not (state_dir / "facegate.db").exists()


# --- people, consent, templates ---------------------------------------------------------------


def test_pseudonyms_are_random_and_meaningless() -> None:
    seen = {new_pseudonym() for _ in range(100)}
    assert len(seen) == 100
    for p in seen:
        assert p.startswith("p-") and len(p) == 18
        int(p[2:], 16)


def test_templates_round_trip(store: Store) -> None:
    rng = np.random.default_rng(3)
    people = {}
    for k in (1, 3, 2):
        templates = random_templates(rng, k)
        pseudonym, _ = enroll(store, templates)
        people[pseudonym] = templates
    got = gallery(store)
    assert set(got) == set(people)
    for pseudonym, templates in people.items():
        assert got[pseudonym].dtype == np.float32
        assert got[pseudonym].shape == templates.shape
        np.testing.assert_array_equal(got[pseudonym], templates)


def test_templates_from_float64_and_1d(store: Store) -> None:
    rng = np.random.default_rng(4)
    as64 = rng.standard_normal((2, DIM))  # float64 in, float32 out
    single = rng.standard_normal(DIM).astype(np.float32)  # one template as a 1-D vector
    a, _ = enroll(store, as64)
    b, _ = enroll(store, single)
    got = gallery(store)
    np.testing.assert_allclose(got[a], as64.astype(np.float32), rtol=0, atol=0)
    np.testing.assert_allclose(got[a], as64, rtol=1e-6)
    assert got[b].shape == (1, DIM)
    np.testing.assert_array_equal(got[b][0], single)


def test_templates_of_another_space_are_not_returned(store: Store) -> None:
    rng = np.random.default_rng(5)
    ours = random_templates(rng, 2)
    theirs = random_templates(rng, 3, dim=512)
    a, _ = enroll(store, ours, space=SPACE)
    b, _ = enroll(store, theirs, space="arcface-512")
    assert set(gallery(store, SPACE)) == {a}
    assert set(gallery(store, "arcface-512")) == {b}
    np.testing.assert_array_equal(gallery(store, "arcface-512")[b], theirs)
    assert gallery(store, "unknown") == {}


def test_each_enrolment_is_searched_in_its_own_space(store: Store) -> None:
    # Enrolment stores one space per call (Store.add_templates, which could add a second
    # space to the same person, was unused by the daemon and is gone).
    rng = np.random.default_rng(6)
    small, big = random_templates(rng, 1), random_templates(rng, 2, dim=512)
    a, _ = enroll(store, small, space=SPACE)
    b, _ = enroll(store, big, space="arcface-512")
    np.testing.assert_array_equal(gallery(store, SPACE)[a], small)
    np.testing.assert_array_equal(gallery(store, "arcface-512")[b], big)


def test_consent_record_is_stored(store: Store, clock: FakeClock) -> None:
    templates = random_templates(np.random.default_rng(5), 1)
    pseudonym, consent_id = enroll(store, templates)
    ((owner, given_at),) = sql(
        store.path, "SELECT pseudonym, given_at FROM consents WHERE consent_id = ?", (consent_id,)
    )
    assert owner == pseudonym
    assert consent_id.startswith("c-")
    assert given_at == clock.time()
    rows = sql(
        store.path,
        "SELECT consent_id, pseudonym, given_at, method, notice_version, taken_by, scope,"
        " separate, withdrawn_at FROM consents",
    )
    assert rows == [
        (
            consent_id,
            pseudonym,
            given_at,
            "paper form 2026-0142",
            "sha256:0f3c",
            "admin",
            "front-door",
            1,
            None,
        )
    ]


def template_count(store: Store) -> int:
    return sql(store.path, "SELECT COUNT(*) FROM templates")[0][0]


def test_template_without_consent_is_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="separate consent"):
        enroll_person(
            store,
            templates=random_templates(np.random.default_rng(7), 2),
            space=SPACE,
            expires_at=2_000_000_000.0,
        )
    assert template_count(store) == 0
    assert gallery(store) == {}


def test_templates_are_stored_under_their_own_persons_consent(store: Store) -> None:
    # Enrolment writes the consent and the templates in one transaction, so a template can
    # only ever point at its own person's consent (Store.add_templates, which took a
    # consent id and had to refuse another person's, was unused by the daemon and is gone).
    rng = np.random.default_rng(8)
    alice, alice_consent = enroll(store, random_templates(rng, 2))
    bob, bob_consent = enroll(store, random_templates(rng, 1))
    rows = sql(
        store.path,
        "SELECT t.pseudonym, t.consent_id, c.pseudonym FROM templates t"
        " JOIN consents c ON c.consent_id = t.consent_id",
    )
    assert sorted(rows) == sorted([(alice, alice_consent, alice)] * 2 + [(bob, bob_consent, bob)])
    assert set(gallery(store)) == {alice, bob}


def test_withdrawn_consent_keeps_no_template(store: Store) -> None:
    rng = np.random.default_rng(9)
    pseudonym, consent_id = enroll(store, random_templates(rng, 3))
    withdraw(store, pseudonym)
    assert sql(
        store.path,
        "SELECT withdrawn_at IS NOT NULL FROM consents WHERE consent_id = ?",
        (consent_id,),
    ) == [(1,)]
    assert template_count(store) == 0
    assert store.count_people_with_face() == 0


def test_empty_templates_are_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="non-empty"):
        enroll_person(
            store,
            consent=CONSENT,
            templates=np.empty((0, DIM)),
            space=SPACE,
            expires_at=2_000_000_000.0,
        )
    assert template_count(store) == 0


def test_templates_must_be_one_or_two_dimensional(store: Store) -> None:
    rng = np.random.default_rng(10)
    good, _ = enroll(store, random_templates(rng, 1))
    with pytest.raises(StoreError):
        enroll_person(
            store,
            consent=CONSENT,
            templates=rng.standard_normal((1, 2, DIM)),
            space=SPACE,
            expires_at=2_000_000_000.0,
        )
    assert set(gallery(store)) == {good}


@pytest.mark.parametrize("field", ["method", "notice_version", "taken_by", "scope"])
@pytest.mark.parametrize("value", ["", "   ", "\t\n"])
def test_consent_needs_every_field(store: Store, field: str, value: str) -> None:
    kwargs = {
        "method": "paper form",
        "notice_version": "v1",
        "taken_by": "admin",
        "scope": "front-door",
        field: value,
    }
    with pytest.raises(StoreError, match=field):
        enroll_person(
            store,
            consent=ConsentInput(**kwargs),
            templates=random_templates(np.random.default_rng(4), 1),
            space=SPACE,
            expires_at=2_000_000_000.0,
        )
    assert sql(store.path, "SELECT COUNT(*) FROM consents") == [(0,)]


def test_consent_for_unknown_person_is_refused(store: Store) -> None:
    # A consent is only ever given at enrolment (with its person); the one consent action on
    # an existing person, withdrawal, refuses an unknown one.
    with pytest.raises(StoreError, match="no person p-0000000000000000"):
        withdraw(store, "p-0000000000000000")
    assert sql(store.path, "SELECT COUNT(*) FROM consents") == [(0,)]


# --- nothing in the clear ---------------------------------------------------------------------


def test_nothing_in_the_clear_on_disk(state_dir: Path, master_key: bytes) -> None:
    rng = np.random.default_rng(11)
    with Store(state_dir, master_key) as store:
        enrolled = [enroll(store, random_templates(rng, 3))[0] for _ in range(2)]
        templates = gallery(store)
        assert set(templates) == set(enrolled)
        wrapped = dict(sql(store.path, "SELECT pseudonym, wrapped_key FROM people"))
        data_keys = {p: crypto.open_sealed(master_key, wrapped[p], what="test") for p in enrolled}
        # While the store is open (the rows may be in the WAL)...
        for p in enrolled:
            for row in templates[p]:
                assert_not_on_disk(state_dir, row.astype("<f4").tobytes(), f"a template of {p}")
            assert_not_on_disk(state_dir, data_keys[p], f"the data key of {p}")
        assert_not_on_disk(state_dir, master_key, "the master key")
    # ...and after close, when everything has been checkpointed into the database file.
    for p in enrolled:
        for row in templates[p]:
            assert_not_on_disk(state_dir, row.astype("<f4").tobytes(), f"a template of {p}")
        assert_not_on_disk(state_dir, data_keys[p], f"the data key of {p}")
    assert_not_on_disk(state_dir, master_key, "the master key")


# --- deletion ---------------------------------------------------------------------------------


def test_delete_person_leaves_nothing_behind(store: Store, state_dir: Path) -> None:
    rng = np.random.default_rng(12)
    alice_templates = random_templates(rng, 3)
    bob_templates = random_templates(rng, 2)
    alice, alice_consent = enroll(store, alice_templates)
    bob, _ = enroll(store, bob_templates)
    assert store.count_people_with_face() == 2

    sealed = [
        r[0] for r in sql(store.path, "SELECT sealed FROM templates WHERE pseudonym = ?", (alice,))
    ]
    (wrapped,) = sql(store.path, "SELECT wrapped_key FROM people WHERE pseudonym = ?", (alice,))[0]
    assert len(sealed) == 3
    blob = disk_bytes(state_dir)
    assert all(s in blob for s in sealed) and wrapped in blob  # the check below can see them

    assert delete_person(store, alice) is not None

    got = gallery(store)
    assert set(got) == {bob}
    np.testing.assert_array_equal(got[bob], bob_templates)
    assert store.count_people_with_face() == 1
    # Consent records are processing records: they stay.
    assert sql(store.path, "SELECT consent_id FROM consents WHERE pseudonym = ?", (alice,)) == [
        (alice_consent,)
    ]
    assert sql(store.path, "SELECT COUNT(*) FROM templates WHERE pseudonym = ?", (alice,)) == [(0,)]
    # secure_delete + checkpoint: no copy of the ciphertext or the wrapped key anywhere.
    for i, ciphertext in enumerate(sealed):
        assert_not_on_disk(state_dir, ciphertext, f"sealed template {i} of the deleted person")
    assert_not_on_disk(state_dir, wrapped, "the deleted person's wrapped key")

    # Nothing can act on the person any more: there is no person row.
    with pytest.raises(StoreError, match="no person"):
        withdraw(store, alice)
    assert delete_person(store, alice) is None
    assert delete_person(store, "p-0000000000000000") is None


# --- failures: wrong key, newer schema, garbage, corrupt rows ---------------------------------


def test_wrong_master_key_is_refused_at_open(state_dir: Path, master_key: bytes) -> None:
    rng = np.random.default_rng(13)
    with Store(state_dir, master_key) as store:
        pseudonym, _ = enroll(store, random_templates(rng, 2))
    before = (state_dir / "facegate.db").read_bytes()
    wrong = os.urandom(32)
    with pytest.raises(MasterKeyError, match="was sealed with master key") as info:
        Store(state_dir, wrong)
    assert wrong.hex() not in str(info.value) and master_key.hex() not in str(info.value)
    assert (state_dir / "facegate.db").read_bytes() == before  # nothing was written
    with Store(state_dir, master_key) as store:  # nothing was damaged
        assert store.count_people_with_face() == 1
        assert gallery(store)[pseudonym].shape == (2, DIM)


def test_a_wrapped_key_that_does_not_decrypt_names_the_row(
    state_dir: Path, master_key: bytes
) -> None:
    rng = np.random.default_rng(13)
    with Store(state_dir, master_key) as store:
        pseudonym, _ = enroll(store, random_templates(rng, 2))
    sql(state_dir / "facegate.db", "UPDATE people SET wrapped_key = randomblob(72)")
    with Store(state_dir, master_key) as store:
        with pytest.raises(StoreError, match=f"data key of {pseudonym} does not decrypt") as info:
            list(store.iter_templates(SPACE))
        assert info.value.__cause__ is None and info.value.__suppress_context__


def test_newer_schema_is_refused_and_left_untouched(state_dir: Path, master_key: bytes) -> None:
    with Store(state_dir, master_key) as store:
        enroll(store, random_templates(np.random.default_rng(14), 1))
    db_path = state_dir / "facegate.db"
    sql(db_path, "PRAGMA user_version = 99")
    before, mtime = db_path.read_bytes(), db_path.stat().st_mtime_ns
    with pytest.raises(StoreError, match="newer") as info:
        Store(state_dir, master_key)
    assert "v99" in str(info.value)
    assert str(db_path) in str(info.value)
    assert db_path.read_bytes() == before
    assert db_path.stat().st_mtime_ns == mtime
    assert sql(db_path, "PRAGMA user_version") == [(99,)]


def test_newer_schema_in_rollback_mode_is_left_untouched(
    state_dir: Path, master_key: bytes
) -> None:
    state_dir.mkdir(mode=0o700)
    db_path = state_dir / "facegate.db"
    db = sqlite3.connect(db_path)
    db.execute("CREATE TABLE future (x)")
    db.execute("PRAGMA user_version = 99")
    db.commit()
    db.close()
    before = db_path.read_bytes()
    with pytest.raises(StoreError, match="newer"):
        Store(state_dir, master_key)
    assert db_path.read_bytes() == before


def test_garbage_database_is_refused_and_left_untouched(state_dir: Path, master_key: bytes) -> None:
    state_dir.mkdir(mode=0o700)
    db_path = state_dir / "facegate.db"
    garbage = b"GARBAGE!" * 1024
    db_path.write_bytes(garbage)
    with pytest.raises(StoreError, match="not a facegate database or is corrupt") as info:
        Store(state_dir, master_key)
    assert str(db_path) in str(info.value)
    assert db_path.read_bytes() == garbage


def test_corrupt_template_row_names_the_template(store: Store) -> None:
    rng = np.random.default_rng(15)
    enroll(store, random_templates(rng, 3))
    ids = [r[0] for r in sql(store.path, "SELECT id FROM templates ORDER BY id")]
    victim = ids[1]
    sql(
        store.path,
        "UPDATE templates SET sealed = randomblob(length(sealed)) WHERE id = ?",
        (victim,),
    )
    with pytest.raises(StoreError, match=rf"template {victim} does not decrypt") as info:
        list(store.iter_templates(SPACE))
    assert info.value.__cause__ is None and info.value.__suppress_context__
    sql(store.path, "UPDATE templates SET sealed = randomblob(8) WHERE id = ?", (victim,))
    with pytest.raises(StoreError, match=rf"template {victim}"):
        list(store.iter_templates(SPACE))


def test_template_with_wrong_dim_names_the_template(store: Store) -> None:
    enroll(store, random_templates(np.random.default_rng(16), 1))
    ((tid,),) = sql(store.path, "SELECT id FROM templates")
    sql(store.path, "UPDATE templates SET dim = 64 WHERE id = ?", (tid,))
    with pytest.raises(StoreError, match=rf"template {tid} has 512 bytes, expected 256"):
        list(store.iter_templates(SPACE))


# --- events -----------------------------------------------------------------------------------


def test_events_round_trip(store: Store, clock: FakeClock) -> None:
    recorded = [
        Event(
            clock.time(), "front-door", "face", "granted", "p-0123456789abcdef", 0.87654321, "match"
        ),
        Event(clock.time() + 1, "front-door", "face", "denied", None, 0.12345, "unknown face"),
        Event(clock.time() + 2, "back-door", "pin", "granted", "p-0123456789abcdef", None, "pin"),
    ]
    for event in recorded:
        store.record_event(event)
    got = store.events()
    assert [e.score for e in got] == [0.8765, 0.1235, None]
    assert got == [
        Event(
            e.ts,
            e.door,
            e.method,
            e.result,
            e.subject,
            None if e.score is None else round(e.score, 4),
            e.reason,
        )
        for e in recorded
    ]
    assert store.events(limit=2) == got[1:]  # the newest, oldest first
    assert store.events(limit=0) == []


def test_events_hold_no_name(store: Store) -> None:
    columns = [r[1] for r in sql(store.path, "PRAGMA table_info(events)")]
    assert columns == ["id", "ts", "door", "method", "result", "subject", "score", "reason"]
    assert [f.name for f in fields(Event)] == [
        "ts",
        "door",
        "method",
        "result",
        "subject",
        "score",
        "reason",
    ]


def test_biometric_tables_hold_no_identity(store: Store) -> None:
    for table in ("people", "templates"):
        columns = {r[1] for r in sql(store.path, f"PRAGMA table_info({table})")}
        assert not columns & {"name", "full_name", "image", "photo", "embedding"}, table


# --- counting ---------------------------------------------------------------------------------


def test_count_people_with_face_counts_people_not_templates(store: Store) -> None:
    rng = np.random.default_rng(17)
    assert store.count_people_with_face() == 0
    enroll(store, random_templates(rng, 5))
    assert store.count_people_with_face() == 1
    enroll(store, random_templates(rng, 2), space="arcface-512")
    assert store.count_people_with_face() == 2
    enroll_person(store, credentials=(CredentialInput("card", "card-lookup"),))  # no face
    assert store.count_people_with_face() == 2


def test_delete_reports_a_checkpoint_blocked_by_a_reader(tmp_path: Path) -> None:
    import sqlite3

    from facegate.clock import FakeClock

    key = crypto.new_data_key()
    clock = FakeClock()
    store = Store(tmp_path / "state", key, clock=clock)
    pseudonym, _ = enroll(store, np.ones((1, 128), np.float32), space="s")
    reader = sqlite3.connect(store.path)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM templates").fetchone()  # holds an old snapshot
    try:
        assert (
            delete_person(store, pseudonym) is not None
        )  # committed, checkpoint retried and failed
        before = clock.monotonic()
        assert store.checkpoint(attempts=3, pause_s=0.5) is False
        assert clock.monotonic() - before == pytest.approx(1.0)  # retried on the injected clock
    finally:
        reader.rollback()
        reader.close()
    assert store.checkpoint() is True
    store.close()
