"""``facegate keys init|rotate|seal``."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import Any

from ..errors import MasterKeyError
from .common import add_config_arg, console, load

__all__ = ["add_keys_parsers"]


def _new_passphrase() -> bytes:
    from ..store.crypto import passphrase_from_environment

    value = passphrase_from_environment()
    if value:
        return value
    if not sys.stdin.isatty():
        raise MasterKeyError("--passphrase needs a terminal to ask for it, or $FACEGATE_PASSPHRASE")
    first = getpass.getpass("new admin passphrase: ")
    if len(first) < 12:
        raise MasterKeyError("the passphrase must be at least 12 characters")
    if getpass.getpass("again: ") != first:
        raise MasterKeyError("the two passphrases differ; nothing was created")
    return first.encode()


def _key_path(args: argparse.Namespace) -> tuple[Path, Path]:
    from ..store import resolve_key_path

    if args.key_file is not None:
        cfg_state = None
        try:
            cfg_state = load(args.config).store.state_dir
        except Exception:  # --key-file alone is enough for `init`
            cfg_state = args.key_file.parent
        return args.key_file, cfg_state
    cfg = load(args.config)
    return resolve_key_path(cfg.store.key_file, cfg.store.state_dir), cfg.store.state_dir


def _new_key_path(args: argparse.Namespace) -> tuple[Path, Path]:
    from ..store.key_discovery import new_master_key_path

    try:
        store_cfg = load(args.config).store
    except Exception:  # --key-file alone is enough for `init`
        if args.key_file is None:
            raise
        return new_master_key_path(None, args.key_file.parent, key_file=args.key_file), (
            args.key_file.parent
        )
    path = new_master_key_path(store_cfg.key_file, store_cfg.state_dir, key_file=args.key_file)
    return path, store_cfg.state_dir


def cmd_keys_init(args: argparse.Namespace) -> int:
    from ..store import create_master_key
    from ..store.crypto import key_fingerprint
    from ..store.state_owner import hand_over

    path, state_dir = _new_key_path(args)
    passphrase = _new_passphrase() if args.passphrase else None
    key = create_master_key(path, passphrase=passphrase)
    hand_over(state_dir)
    protection = "wrapped with your passphrase (Argon2id)" if passphrase else "mode 0600"
    console().print(
        f"created master key {path} ({protection}), id {key_fingerprint(key)}. Back it up "
        "offline: without it the stored face templates cannot be read."
    )
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    from ..store import rotate_master_key
    from ..store.state_owner import hand_over

    path, state_dir = _key_path(args)
    result = rotate_master_key(path, state_dir)
    hand_over(state_dir)
    console().print(
        f"master key rotated: {result.old_key_id} → {result.new_key_id}; {result.rewrapped} "
        "data keys re-wrapped, no template decrypted. Restart the daemon; back up the new key."
    )
    return 0


def cmd_keys_seal(args: argparse.Namespace) -> int:
    import subprocess

    from ..store import crypto
    from ..store.sealing import detect_sealing, otp_kek, systemd_creds_command

    path, _state_dir = _key_path(args)
    out = console()
    if args.with_ is None:
        for option in detect_sealing():
            mark = "available" if option.available else "not available"
            out.print(f"{option.name:<10} {mark}: {option.detail}", markup=False)
        out.print(
            "the default key is a 0600 file on the same card as the database: a stolen card "
            "yields the templates unless one of these protects it",
            markup=False,
        )
        return 0
    key = crypto.load_master_key(path)
    if args.with_ == "rpi-otp":
        kek = otp_kek()
        sealed = path.with_name(path.name + ".sealed")
        crypto.write_key_file(sealed, key, exclusive=True, otp_kek=kek)
        if crypto.load_master_key(sealed) != key:  # pragma: no cover - a broken OTP read
            sealed.unlink()
            raise MasterKeyError("the sealed key did not open again; nothing changed")
        os.replace(sealed, path)
        out.print(
            f"{path} is now sealed to this Pi's OTP key (FGO1); keep the offline backup of the "
            "plain key: the card no longer opens on another device",
            markup=False,
        )
        return 0
    argv = systemd_creds_command(path, args.with_)
    if args.dry_run:
        out.print(" ".join(argv), markup=False)
        return 0
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise MasterKeyError(f"systemd-creds failed: {(done.stderr or '').strip()[:200]}")
    out.print(
        f"wrote {argv[-1]}. Add `LoadCredentialEncrypted=facegate-master-key` to the unit "
        "(a drop-in), remove the plain key file after checking `systemctl restart facegate`, "
        "and keep the offline backup.",
        markup=False,
    )
    return 0


def add_keys_parsers(sub: Any) -> None:
    p = sub.add_parser("keys", help="manage the master key")
    ksub = p.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    q = ksub.add_parser(
        "init",
        help="create the master key (mode 0600; refuses to overwrite)",
        description="Creates 32 random bytes as the master key that wraps every person's data "
        "key. With --passphrase it is stored wrapped with an admin passphrase (Argon2id); the "
        "daemon then reads the passphrase from the systemd credential facegate-passphrase.",
    )
    add_config_arg(q)
    q.add_argument("--key-file", type=Path, default=None, help="create this file instead")
    q.add_argument("--passphrase", action="store_true", help="protect it with a passphrase")
    q.set_defaults(func=cmd_keys_init)
    q = ksub.add_parser(
        "rotate",
        help="replace the master key, re-wrapping every data key (crash-safe)",
        description="Writes a new key beside the old one, re-wraps every person's data key "
        "under it in one transaction (no template is decrypted), then swaps the files. After a "
        "crash at any point the next start finishes or undoes the rotation. Stop the daemon "
        "first.",
    )
    add_config_arg(q)
    q.add_argument("--key-file", type=Path, default=None, help="the key file to rotate")
    q.set_defaults(func=cmd_keys_rotate)
    q = ksub.add_parser(
        "seal",
        help="protect the master key with this device: list the options, or seal it",
        description="Without --with: what this machine offers (passphrase, Raspberry Pi OTP "
        "key, TPM 2.0 or host key through systemd-creds) and why. --with rpi-otp rewraps the "
        "key file with a key derived from the Pi's OTP private key (rpi-otp-private-key); "
        "--with tpm2|host writes /etc/credstore.encrypted/facegate-master-key with "
        "systemd-creds for LoadCredentialEncrypted=. Stop the daemon first.",
    )
    add_config_arg(q)
    q.add_argument("--key-file", type=Path, default=None, help="the key file to seal")
    q.add_argument("--with", dest="with_", choices=["rpi-otp", "tpm2", "host"], default=None)
    q.add_argument("--dry-run", action="store_true", help="print the systemd-creds command")
    q.set_defaults(func=cmd_keys_seal)
