"""A master key sealed to the device (issue 15 finding 9).

This machine has no TPM and is not a Raspberry Pi, so the adapters are tested around the
real tools: stand-in ``rpi-otp-private-key`` and ``systemd-creds`` scripts on ``PATH`` that
behave as the documented ones do (hex key on stdout, ``-c`` exits 1 for an unprogrammed OTP;
``encrypt --with-key=… --name=… IN OUT``). What a real Pi or TPM does is not measured here.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from facegate.cli import main
from facegate.errors import MasterKeyError
from facegate.store import Store, create_master_key, rotate_master_key
from facegate.store.crypto import load_master_key
from facegate.store.sealing import OTP_MAGIC, detect_sealing, otp_kek, systemd_creds_command

OTP_HEX = "5f" * 16 + "a3" * 16


def _tool(folder: Path, name: str, body: str) -> None:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n" + body, encoding="utf-8")
    path.chmod(0o755)


@pytest.fixture
def pi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH with a stand-in rpi-otp-private-key holding a programmed key."""
    bin_dir = tmp_path / "bin"
    _tool(bin_dir, "rpi-otp-private-key",
          f'[ "$1" = "-c" ] && exit 0\necho {OTP_HEX}\n')  # fmt: skip
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return bin_dir


def test_detection_says_what_this_machine_lacks(tmp_path: Path) -> None:
    options = {o.name: o for o in detect_sealing(which=lambda _n: None,
                                                 tpm_device=tmp_path / "tpmrm0")}  # fmt: skip
    assert options["passphrase"].available
    assert not options["rpi-otp"].available and "not found" in options["rpi-otp"].detail
    assert not options["tpm2"].available and "no TPM" in options["tpm2"].detail
    assert not options["host"].available


def test_detection_finds_a_programmed_otp_key(pi: Path, tmp_path: Path) -> None:
    (tmp_path / "tpmrm0").touch()
    options = {o.name: o for o in detect_sealing(tpm_device=tmp_path / "tpmrm0")}
    assert options["rpi-otp"].available and "programmed" in options["rpi-otp"].detail
    _tool(pi, "rpi-otp-private-key", '[ "$1" = "-c" ] && exit 1\necho 00\n')
    options = {o.name: o for o in detect_sealing(tpm_device=tmp_path / "tpmrm0")}
    assert not options["rpi-otp"].available and "no key programmed" in options["rpi-otp"].detail


def test_a_key_sealed_to_the_otp_opens_only_with_that_otp(
    pi: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file = tmp_path / "master.key"
    key = create_master_key(key_file)
    assert main(["keys", "seal", "--key-file", str(key_file), "--with", "rpi-otp"]) == 0
    data = key_file.read_bytes()
    assert data.startswith(OTP_MAGIC) and key not in data  # the plain key is gone from disk
    assert load_master_key(key_file) == key
    assert "sealed to this Pi" in capsys.readouterr().out
    # The card in another Pi (another OTP key): refused, naming the backup.
    _tool(pi, "rpi-otp-private-key", f"echo {'11' * 32}\n")
    with pytest.raises(MasterKeyError, match="another device"):
        load_master_key(key_file)
    # No tool at all (the card in a PC).
    os.environ["PATH"] = os.environ["PATH"].replace(f"{pi}{os.pathsep}", "")
    with pytest.raises(MasterKeyError, match="not here"):
        load_master_key(key_file)


def test_an_unprogrammed_otp_is_refused(pi: Path) -> None:
    _tool(pi, "rpi-otp-private-key", f"echo {'00' * 32}\n")
    with pytest.raises(MasterKeyError, match="no private key is programmed"):
        otp_kek()


def test_rotation_keeps_the_key_sealed(pi: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    key_file = state / "master.key"
    key = create_master_key(key_file)
    with Store(state, key):
        pass
    assert main(["keys", "seal", "--key-file", str(key_file), "--with", "rpi-otp"]) == 0
    result = rotate_master_key(key_file, state)
    assert key_file.read_bytes().startswith(OTP_MAGIC)
    new = load_master_key(key_file)
    assert new != key and result.new_key_id
    with Store(state, new):
        pass


def test_systemd_creds_command_and_dry_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file = tmp_path / "master.key"
    create_master_key(key_file)
    assert systemd_creds_command(key_file, "tpm2") == [
        "systemd-creds", "encrypt", "--with-key=tpm2", "--name=facegate-master-key",
        str(key_file), "/etc/credstore.encrypted/facegate-master-key",
    ]  # fmt: skip
    argv = ["keys", "seal", "--key-file", str(key_file), "--with", "tpm2", "--dry-run"]
    assert main(argv) == 0
    assert "--with-key=tpm2" in capsys.readouterr().out


def test_keys_seal_lists_the_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key_file = tmp_path / "master.key"
    create_master_key(key_file)
    assert main(["keys", "seal", "--key-file", str(key_file)]) == 0
    out = capsys.readouterr().out
    for name in ("passphrase", "rpi-otp", "tpm2", "host", "same card"):
        assert name in out
