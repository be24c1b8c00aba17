"""Fault injection in the store (issue 14, items 4 and 6): a rotation killed at every write step,
a `.new` of any length, and a lost database on a device that has an audit trail."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from facegate.audit import open_audit_log
from facegate.audit.signing import audit_folder
from facegate.errors import MasterKeyError, StoreError
from facegate.store import (
    ConsentInput,
    Store,
    create_master_key,
    enroll_person,
    load_master_key,
    open_store,
    rotate_master_key,
)
from facegate.store import master_key as master_key_module
from facegate.store.crypto import key_fingerprint, write_key_file

SPACE = "s"
CONSENT = ConsentInput("form", "v1", "admin", "main")
PASSPHRASE = b"correct horse battery staple"


@pytest.fixture(autouse=True)
def no_systemd_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.delenv("FACEGATE_PASSPHRASE", raising=False)


def templates(seed: int) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(2, 128)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def new_state(tmp_path: Path, *, passphrase: bytes | None = None) -> tuple[Path, Path, bytes]:
    state = tmp_path / "state"
    key_path = state / "master.key"
    key = create_master_key(key_path, passphrase=passphrase)
    with Store(state, key) as s:
        for seed in range(3):
            enroll_person(
                s,
                consent=CONSENT,
                templates=templates(seed),
                space=SPACE,
                expires_at=2_000_000_000.0,
            )
    return state, key_path, key


def assert_all_readable(state: Path, key_path: Path, expected_key: bytes, **kw: object) -> None:
    """The next start opens the store with ``expected_key``; every template decrypts."""
    with open_store(key_path, state, **kw) as s:  # type: ignore[arg-type]
        assert s.key_id == key_fingerprint(expected_key)
        got = dict(s.iter_templates(SPACE))
        assert len(got) == 3 and all(v.shape == (2, 128) for v in got.values())
    assert load_master_key(key_path, **kw) == expected_key  # type: ignore[arg-type]
    assert not key_path.with_name("master.key.new").exists()
    assert not key_path.with_name("master.key.new.partial").exists()


# -- item 4: a `.new` of any length ---------------------------------------------------------


@pytest.mark.parametrize("length", range(33))
def test_a_new_key_file_of_any_length_before_the_commit_is_discarded(
    tmp_path: Path, length: int
) -> None:
    """What an older version left when killed while writing `.new`: 0..32 bytes of it."""
    state, key_path, old = new_state(tmp_path)
    pending = key_path.with_name("master.key.new")
    pending.write_bytes(os.urandom(32)[:length])
    pending.chmod(0o600)
    assert_all_readable(state, key_path, old)
    result = rotate_master_key(key_path, state)  # and `keys rotate` works again
    assert result.old_key_id == key_fingerprint(old)
    assert_all_readable(state, key_path, load_master_key(key_path))


@pytest.mark.parametrize("length", [0, 1, 4, 20, 60, 80])
def test_a_partial_passphrase_wrapped_new_key_is_discarded(
    tmp_path: Path, length: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    state, key_path, old = new_state(tmp_path, passphrase=PASSPHRASE)
    pending = key_path.with_name("master.key.new")
    whole = tmp_path / "whole.key"
    write_key_file(whole, os.urandom(32), passphrase=PASSPHRASE)
    pending.write_bytes(whole.read_bytes()[:length])
    pending.chmod(0o600)
    assert_all_readable(state, key_path, old, passphrase=PASSPHRASE)


def test_a_new_key_matching_neither_is_refused_and_kept(tmp_path: Path) -> None:
    """The key file itself is wrong (say, restored from the wrong backup): delete nothing."""
    state, key_path, _old = new_state(tmp_path)
    stranger = os.urandom(32)
    key_path.unlink()
    write_key_file(key_path, os.urandom(32))
    pending = key_path.with_name("master.key.new")
    write_key_file(pending, stranger)
    with pytest.raises(MasterKeyError, match="Restore the key file") as err:
        open_store(key_path, state)
    assert "master.key.new" in str(err.value) and "nothing was deleted" in str(err.value)
    assert pending.read_bytes() == stranger


STEPS = [
    "partial_created",
    "partial_written",
    "partial_synced",
    "new_renamed",
    "committed",
    "key_renamed",
]


class Killed(BaseException):
    """Stands for SIGKILL: not an Exception, so no handler of the code under test catches it."""


@pytest.mark.parametrize("step", STEPS)
def test_rotation_interrupted_after_every_write_step_recovers(
    tmp_path: Path, step: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    state, key_path, old = new_state(tmp_path)
    seen: list[str] = []

    def hook(name: str) -> None:
        seen.append(name)
        if name == step:
            raise Killed(name)

    monkeypatch.setattr(master_key_module, "_after_step", hook)
    with pytest.raises(Killed):
        rotate_master_key(key_path, state)
    monkeypatch.setattr(master_key_module, "_after_step", None)
    assert seen == STEPS[: STEPS.index(step) + 1]
    committed = STEPS.index(step) >= STEPS.index("committed")
    if committed:
        new = load_master_key(
            key_path if step == "key_renamed" else key_path.with_name("master.key.new")
        )
        assert new != old
    assert_all_readable(state, key_path, new if committed else old)


CHILD = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from facegate.store import master_key, rotate_master_key
    step, state = sys.argv[1], Path(sys.argv[2])
    def hook(name):
        if name == step:
            os._exit(9)  # no finally, no cleanup: as abrupt as SIGKILL
    master_key._after_step = hook
    rotate_master_key(state / "master.key", state)
    """
)


@pytest.mark.parametrize("step", ["partial_created", "partial_written", "new_renamed", "committed"])
def test_rotation_killed_in_a_child_process_recovers(tmp_path: Path, step: str) -> None:
    state, key_path, old = new_state(tmp_path)
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, str(script), step, str(state)], env=env, capture_output=True, timeout=60
    )
    assert done.returncode == 9, done.stderr.decode()
    new = key_path.with_name("master.key.new")
    expected = load_master_key(new) if step == "committed" else old
    assert_all_readable(state, key_path, expected)


def test_keys_rotate_command_recovers_from_an_empty_new_file(tmp_path: Path) -> None:
    """The reported case: `keys rotate` after a kill left a 0-byte `master.key.new`."""
    from facegate.cli import main

    state, key_path, old = new_state(tmp_path)
    key_path.with_name("master.key.new").write_bytes(b"")
    assert main(["keys", "rotate", "--key-file", str(key_path)]) == 0
    new = load_master_key(key_path)
    assert new != old
    assert_all_readable(state, key_path, new)


# -- item 6: a lost database ----------------------------------------------------------------


def with_audit_trail(state: Path, key: bytes) -> None:
    with Store(state, key) as s, open_audit_log(s, state) as log:
        log.append("service", event="start")


@pytest.mark.parametrize("damage", ["empty", "missing"])
def test_a_lost_database_beside_an_audit_trail_is_refused(tmp_path: Path, damage: str) -> None:
    state, key_path, key = new_state(tmp_path)
    with_audit_trail(state, key)
    db = state / "facegate.db"
    for extra in ("facegate.db-wal", "facegate.db-shm"):
        (state / extra).unlink(missing_ok=True)
    if damage == "empty":
        db.write_bytes(b"")
    else:
        db.unlink()
    for _attempt in range(2):  # refused every time, and nothing is created meanwhile
        with pytest.raises(StoreError) as err:
            open_store(key_path, state)
        message = str(err.value)
        assert str(db) in message and "backup" in message and str(audit_folder(state)) in message
        assert ("0 bytes" if damage == "empty" else "missing") in message
        assert (db.stat().st_size == 0) if damage == "empty" else not db.exists()


def test_a_new_install_still_creates_the_database(tmp_path: Path) -> None:
    state = tmp_path / "state"
    key_path = state / "master.key"
    key = create_master_key(key_path)
    with open_store(key_path, state) as s:
        assert s.key_id == key_fingerprint(key)
    assert (state / "facegate.db").stat().st_size > 0


def test_an_empty_database_without_an_audit_trail_is_a_new_install(tmp_path: Path) -> None:
    """A crash between creating the file and its first commit leaves 0 bytes and no trail."""
    state = tmp_path / "state"
    key_path = state / "master.key"
    create_master_key(key_path)
    (state / "facegate.db").write_bytes(b"")
    with open_store(key_path, state) as s:
        assert s.count_people_with_face() == 0


def test_the_daemon_refuses_to_start_on_a_lost_database(tmp_path: Path) -> None:
    """Through `open_state`, the daemon's way in: a StoreError naming the file."""
    from facegate.service.state import open_state

    state, key_path, key = new_state(tmp_path)
    with_audit_trail(state, key)
    for extra in ("facegate.db", "facegate.db-wal", "facegate.db-shm"):
        (state / extra).unlink(missing_ok=True)

    class Cfg:
        class store:  # shaped like FacegateConfig.store
            state_dir = state
            key_file = key_path

    with pytest.raises(StoreError, match=r"facegate\.db is missing"):
        open_state(Cfg, clock=None, master_key=key)  # type: ignore[arg-type]
