"""A master key sealed to the device: what this machine offers, and the Raspberry Pi OTP wrap.

By default the master key is a 0600 file on the same SD card as the database, so a stolen
card yields the templates with it. Three stronger options, detected here:

* ``passphrase`` — the key file wrapped with an admin passphrase (Argon2id); the daemon gets
  the passphrase as the systemd credential ``facegate-passphrase`` (``keys init
  --passphrase``). Whoever starts the gate must supply it.
* ``rpi-otp`` — the key file wrapped (``FGO1``) with a key derived from the Raspberry Pi's
  256-bit OTP private key, read with ``rpi-otp-private-key`` (Pi 4/400/CM4 and Pi 5 with
  current firmware, key programmed once with ``rpi-otp-private-key -w``). The OTP lives in
  the SoC, not on the card: a card moved to another machine does not open. Root on the
  running Pi can still read it.
* ``tpm2`` / ``host`` — ``systemd-creds encrypt --with-key=tpm2`` (a TPM 2.0 chip, e.g. an
  add-on board; ``/dev/tpmrm0``) or ``--with-key=host`` (the host key
  ``/var/lib/systemd/credential.secret``, which sits on the same card: it only keeps the
  credential file useless when copied alone). The unit then reads it with
  ``LoadCredentialEncrypted=facegate-master-key``.

The commands are run as subprocesses (no network); tests put stand-ins on ``PATH``.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nacl.encoding
import nacl.exceptions
import nacl.hash
import nacl.secret
import nacl.utils

from ..errors import MasterKeyError

__all__ = [
    "ENCRYPTED_CREDSTORE",
    "OTP_MAGIC",
    "OTP_TOOL",
    "SealingOption",
    "detect_sealing",
    "otp_kek",
    "seal_with_otp",
    "systemd_creds_command",
    "unseal_with_otp",
]

OTP_MAGIC = b"FGO1"
OTP_TOOL = "rpi-otp-private-key"
ENCRYPTED_CREDSTORE = Path("/etc/credstore.encrypted")
_KEY_BYTES = nacl.secret.SecretBox.KEY_SIZE

Run = Callable[..., "subprocess.CompletedProcess[str]"]


@dataclass(slots=True, frozen=True)
class SealingOption:
    """One way to protect the master key, and whether this machine offers it."""

    name: str
    available: bool
    detail: str


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)


def detect_sealing(
    *,
    which: Callable[[str], str | None] = shutil.which,
    tpm_device: Path = Path("/dev/tpmrm0"),
    run: Run = _run,
) -> list[SealingOption]:
    """What this machine offers to seal the master key, with the reason for each."""
    options = [
        SealingOption("passphrase", True, "always: `facegate keys init --passphrase`"),
    ]
    tool = which(OTP_TOOL)
    if tool is None:
        options.append(
            SealingOption(
                "rpi-otp",
                False,
                f"{OTP_TOOL} not found (not a Pi, or no raspi-utils-otp / rpi-eeprom tools)",
            )
        )
    else:
        checked = run([tool, "-c"])
        programmed = checked.returncode == 0
        options.append(
            SealingOption(
                "rpi-otp",
                programmed,
                f"{tool}: "
                + (
                    "a private key is programmed"
                    if programmed
                    else "no key programmed in OTP "
                    "(`rpi-otp-private-key -w $(openssl rand -hex 32)` once, as root)"
                ),
            )
        )
    creds = which("systemd-creds")
    has_tpm = tpm_device.exists()
    options.append(
        SealingOption(
            "tpm2",
            creds is not None and has_tpm,
            ("systemd-creds found" if creds else "systemd-creds not found")
            + (f", {tpm_device} present" if has_tpm else f", no TPM ({tpm_device} missing)"),
        )
    )
    options.append(
        SealingOption(
            "host",
            creds is not None,
            "systemd-creds with the host key (on the same card: protects a copied "
            "credential file only)"
            if creds
            else "systemd-creds not found",
        )
    )
    return options


def otp_kek(*, which: Callable[[str], str | None] = shutil.which, run: Run = _run) -> bytes:
    """The key-encryption key derived from the Pi's OTP private key (never the OTP key itself).

    Raises:
        MasterKeyError: the tool is missing, fails, or the OTP key is not programmed.
    """
    tool = which(OTP_TOOL)
    if tool is None:
        raise MasterKeyError(
            f"the master key is sealed to a Raspberry Pi's OTP key, and {OTP_TOOL} is not "
            "here: run on the Pi it was sealed on"
        )
    done = run([tool])
    text = (done.stdout or "").strip()
    try:
        otp = bytes.fromhex(text)
    except ValueError:
        otp = b""
    if done.returncode != 0 or len(otp) != _KEY_BYTES:
        raise MasterKeyError(f"{OTP_TOOL} did not give a 32-byte key (exit {done.returncode})")
    if otp == bytes(_KEY_BYTES):
        raise MasterKeyError("no private key is programmed in this Pi's OTP")
    return nacl.hash.blake2b(
        b"facegate master key wrap v1",
        key=otp,
        digest_size=_KEY_BYTES,
        encoder=nacl.encoding.RawEncoder,
    )


def seal_with_otp(key: bytes, kek: bytes) -> bytes:
    """The key file's bytes: ``FGO1`` and the master key sealed with ``kek``."""
    if len(key) != _KEY_BYTES:
        raise MasterKeyError("a master key must be 32 bytes")
    return OTP_MAGIC + bytes(nacl.secret.SecretBox(kek).encrypt(key))


def unseal_with_otp(path: Path, data: bytes, kek: bytes | None = None) -> bytes:
    """The master key from an ``FGO1`` key file, with this Pi's OTP-derived key.

    Raises:
        MasterKeyError: another device's file, a damaged file, or no OTP key here.
    """
    if kek is None:
        kek = otp_kek()
    try:
        key = bytes(nacl.secret.SecretBox(kek).decrypt(data[len(OTP_MAGIC) :]))
    except nacl.exceptions.CryptoError:
        raise MasterKeyError(
            f"master key {path} is sealed to another device's OTP key (or damaged): restore "
            "the key from its offline backup"
        ) from None
    if len(key) != _KEY_BYTES:
        raise MasterKeyError(f"master key {path} is malformed")
    return key


def systemd_creds_command(
    key_file: Path, with_key: str, *, out_dir: Path = ENCRYPTED_CREDSTORE
) -> list[str]:
    """``systemd-creds encrypt`` for the master key (``with_key``: ``tpm2`` or ``host``)."""
    if with_key not in ("tpm2", "host", "tpm2+host"):
        raise ValueError(f"unknown systemd-creds key {with_key!r}")
    return [
        "systemd-creds",
        "encrypt",
        f"--with-key={with_key}",
        "--name=facegate-master-key",
        str(key_file),
        str(out_dir / "facegate-master-key"),
    ]
