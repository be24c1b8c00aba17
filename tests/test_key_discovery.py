"""One key-discovery rule for the daemon and every command (store/key_discovery.py), and
files made by root in the state folder handed to its owner (store/state_owner.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from facegate.errors import MasterKeyError
from facegate.store import create_master_key, resolve_key_path
from facegate.store.key_discovery import (
    KeyLocation,
    find_master_key,
    key_locations,
    master_key_path,
    new_master_key_path,
)
from facegate.store.state_owner import hand_over

REPO = Path(__file__).resolve().parents[1]
RUN_CLI = "import sys; from facegate.cli import main; sys.exit(main(sys.argv[1:]))"


@pytest.fixture
def places(tmp_path: Path) -> dict[str, Path]:
    creds, credstore, state = tmp_path / "creds", tmp_path / "credstore", tmp_path / "state"
    for folder in (creds, credstore, state):
        folder.mkdir()
    return {"creds": creds, "credstore": credstore, "state": state}


def env_for(places: dict[str, Path], *, credentials: bool = True) -> dict[str, str]:
    env = {"FACEGATE_CREDSTORE": str(places["credstore"])}
    if credentials:
        env["CREDENTIALS_DIRECTORY"] = str(places["creds"])
    return env


def test_locations_in_order_and_configured_file_alone(places: dict[str, Path]) -> None:
    env = env_for(places)
    found = key_locations(None, places["state"], environ=env)
    assert [(loc.source, loc.path) for loc in found] == [
        ("systemd credential", places["creds"] / "facegate-master-key"),
        ("credstore", places["credstore"] / "facegate-master-key"),
        ("state folder", places["state"] / "master.key"),
    ]
    assert [loc.source for loc in key_locations(None, places["state"], environ={})] == [
        "credstore",
        "state folder",
    ]
    assert key_locations(Path("/k"), places["state"], environ=env) == [
        KeyLocation(Path("/k"), "store.key_file")
    ]


def test_first_existing_key_wins(places: dict[str, Path]) -> None:
    env = env_for(places)
    state = places["state"]
    assert find_master_key(None, state, environ=env) is None
    assert master_key_path(None, state, environ=env) == state / "master.key"
    create_master_key(state / "master.key")
    assert find_master_key(None, state, environ=env) == state / "master.key"
    create_master_key(places["credstore"] / "facegate-master-key")
    assert find_master_key(None, state, environ=env) == places["credstore"] / "facegate-master-key"
    create_master_key(places["creds"] / "facegate-master-key")
    assert find_master_key(None, state, environ=env) == places["creds"] / "facegate-master-key"


def test_resolve_key_path_follows_the_rule(
    places: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daemon and the CLI call resolve_key_path: outside systemd it finds the
    installer's /etc/credstore key instead of pointing at <state_dir>/master.key."""
    monkeypatch.setenv("FACEGATE_CREDSTORE", str(places["credstore"]))
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    create_master_key(places["credstore"] / "facegate-master-key")
    assert resolve_key_path(None, places["state"]) == places["credstore"] / "facegate-master-key"


def test_init_never_makes_a_second_key(places: dict[str, Path]) -> None:
    env = env_for(places, credentials=False)
    state = places["state"]
    assert new_master_key_path(None, state, environ=env) == state / "master.key"
    create_master_key(places["credstore"] / "facegate-master-key")
    with pytest.raises(MasterKeyError, match=r"exists already.*credstore.*keys rotate"):
        new_master_key_path(None, state, environ=env)
    # not with --key-file elsewhere, nor with a configured key_file either
    with pytest.raises(MasterKeyError, match="exists already"):
        new_master_key_path(None, state, key_file=places["state"] / "other.key", environ=env)
    with pytest.raises(MasterKeyError, match="exists already"):
        new_master_key_path(places["state"] / "cfg.key", state, environ=env)


def test_init_refuses_what_it_cannot_look_into(
    places: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    credstore_key = places["credstore"] / "facegate-master-key"
    real_lstat = Path.lstat

    def lstat(self: Path) -> os.stat_result:
        if self == credstore_key:
            raise PermissionError(13, "Permission denied", str(self))
        return real_lstat(self)

    monkeypatch.setattr(Path, "lstat", lstat)
    env = env_for(places, credentials=False)
    with pytest.raises(MasterKeyError, match=r"cannot tell.*run this as root"):
        new_master_key_path(None, places["state"], environ=env)
    # discovery skips the unreadable place and goes on
    assert find_master_key(None, places["state"], environ=env) is None


def test_init_refuses_a_credential_target(places: dict[str, Path]) -> None:
    env = env_for(places)
    with pytest.raises(MasterKeyError, match="systemd credential"):
        new_master_key_path(
            None, places["state"], key_file=places["creds"] / "facegate-master-key", environ=env
        )


def write_config(tmp_path: Path) -> Path:
    cfg = tmp_path / "gate.yaml"
    cfg.write_text(
        "site: {name: T, kind: residential_compound, purpose: Open the gate for residents.}\n"
        f"camera: {{type: replay, path: {tmp_path}}}\n"
        "doors: [{id: main, relay: {pin: 17}}]\n"
        f"store: {{state_dir: {tmp_path / 'state'}}}\n"
    )
    return cfg


def test_keys_init_cli_refuses_when_the_installer_made_a_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from facegate.cli import main

    credstore = tmp_path / "credstore"
    monkeypatch.setenv("FACEGATE_CREDSTORE", str(credstore))
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    cfg = str(write_config(tmp_path))
    # what install.sh runs
    installer_key = str(credstore / "facegate-master-key")
    assert main(["keys", "init", "-c", cfg, "--key-file", installer_key]) == 0
    capsys.readouterr()
    # what the old "create it with `facegate keys init`" advice led to: now refused
    assert main(["keys", "init", "-c", cfg]) == 1
    assert "exists already" in capsys.readouterr().err
    assert not (tmp_path / "state" / "master.key").exists()
    # and every command finds the installer's key
    assert main(["person", "list", "-c", cfg]) == 0
    assert "0 people" in capsys.readouterr().out


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")


@needs_root
def test_hand_over_gives_root_files_to_the_state_owner(tmp_path: Path) -> None:
    state = tmp_path / "state"
    (state / "audit").mkdir(parents=True)
    (state / "audit" / "log-1.jsonl").write_text("{}")
    (state / "facegate.db").write_bytes(b"x")
    os.chown(state, 4242, 4243)
    assert hand_over(state) == 3
    for path in (state / "audit", state / "audit" / "log-1.jsonl", state / "facegate.db"):
        assert (path.stat().st_uid, path.stat().st_gid) == (4242, 4243)
    assert hand_over(state) == 0
    os.chown(state, 0, 0)  # a root-owned state folder: nothing to hand over
    (state / "new").write_text("")
    assert hand_over(state) == 0 and (state / "new").stat().st_uid == 0


@needs_root
def test_sudo_models_install_gives_the_models_to_the_state_owner(
    tmp_path: Path, models_dir: Path
) -> None:
    """`sudo facegate models install --dir /var/lib/facegate/models`: the service user's."""
    from facegate.cli import main

    state = tmp_path / "state"
    state.mkdir()
    os.chown(state, 4242, 4243)
    dest = state / "models"
    model = models_dir / "face_detection_short_range.tflite"
    assert main(["models", "install", "--dir", str(dest), "--from", str(model)]) == 0
    owned = [dest, *dest.rglob("*")]
    assert len(owned) >= 2
    assert {(p.stat().st_uid, p.stat().st_gid) for p in owned} == {(4242, 4243)}
    other = tmp_path / "root-owned" / "models"  # inside a root folder: left as it is
    other.parent.mkdir()
    assert main(["models", "install", "--dir", str(other), "--from", str(model)]) == 0
    assert other.stat().st_uid == 0


@needs_root
def test_admin_command_as_root_leaves_nothing_the_service_cannot_read(tmp_path: Path) -> None:
    """`sudo facegate person list` with the daemon stopped creates facegate.db: owned by the
    state folder's owner (the service user), not by root."""
    cfg = write_config(tmp_path)
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    os.chown(state, 4242, 4243)
    credstore = tmp_path / "credstore"
    create_master_key(credstore / "facegate-master-key")
    env = {
        **os.environ,
        "FACEGATE_CREDSTORE": str(credstore),
        "PYTHONPATH": str(REPO / "daemon"),
    }
    env.pop("CREDENTIALS_DIRECTORY", None)
    result = subprocess.run(
        [sys.executable, "-c", RUN_CLI, "person", "list", "-c", str(cfg)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    made = [p for p in state.rglob("*")]
    assert any(p.name == "facegate.db" for p in made)
    assert all(p.stat().st_uid == 4242 for p in made), [
        (p, p.stat().st_uid) for p in made if p.stat().st_uid != 4242
    ]
    assert not (state / "master.key").exists()


@needs_root
def test_a_symlinked_folder_is_not_adopted(tmp_path: Path) -> None:
    """The service user owns the state folder, so it can put a symbolic link where root
    will write (``<state_dir>/speech`` for ``sudo facegate speech render``, ``models``):
    adopting the folder must not follow it and give the service user a root-owned folder
    elsewhere (``/etc``) and everything root owns in it."""
    from facegate.store.state_owner import adopt_into_parent

    state, elsewhere = tmp_path / "state", tmp_path / "etc"
    state.mkdir()
    elsewhere.mkdir()
    (elsewhere / "shadow").write_text("root's")
    os.chown(state, 4242, 4243)
    (state / "speech").symlink_to(elsewhere)
    adopt_into_parent(state / "speech")
    assert elsewhere.stat().st_uid == 0, "root's folder was given to the service user"
    assert (elsewhere / "shadow").stat().st_uid == 0
