"""Where the master key is: one rule for the daemon and every command.

``store.key_file`` in the configuration, when set, is the only place. Otherwise the key is
looked for, in this order:

1. ``$CREDENTIALS_DIRECTORY/facegate-master-key`` — systemd hands the daemon its credential
   there (``LoadCredential=`` in ``systemd/facegate.service``);
2. ``/etc/credstore/facegate-master-key`` — where ``scripts/install.sh`` creates it, so an
   admin command run as root outside the service finds the daemon's key;
3. ``<state_dir>/master.key`` — a key kept beside the database (development, demo, tests).

``facegate keys init`` never makes a key while one exists anywhere on this list (a second key
would seal a second, unreadable world), nor when a location cannot be looked into.
``$FACEGATE_CREDSTORE`` replaces ``/etc/credstore`` (tests).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import MasterKeyError

__all__ = [
    "CREDENTIAL_NAME",
    "CREDSTORE_DIR",
    "STATE_KEY_NAME",
    "KeyLocation",
    "existing_master_keys",
    "find_master_key",
    "key_locations",
    "master_key_path",
    "new_master_key_path",
]

CREDENTIAL_NAME = "facegate-master-key"
CREDSTORE_DIR = Path("/etc/credstore")
CREDSTORE_ENV = "FACEGATE_CREDSTORE"
STATE_KEY_NAME = "master.key"

Presence = Literal["present", "absent", "unknown"]


@dataclass(frozen=True, slots=True)
class KeyLocation:
    """One place a master key may be, and what put it there."""

    path: Path
    source: Literal["store.key_file", "systemd credential", "credstore", "state folder"]

    def presence(self) -> Presence:
        """``unknown`` when the folder cannot be looked into (not root, say)."""
        try:
            self.path.lstat()
        except FileNotFoundError:
            return "absent"
        except NotADirectoryError:
            return "absent"
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EPERM):
                return "unknown"
            raise
        return "present"


def _credstore(environ: Mapping[str, str]) -> Path:
    override = environ.get(CREDSTORE_ENV)
    return Path(override) if override else CREDSTORE_DIR


def key_locations(
    cfg_key_file: Path | None,
    state_dir: Path,
    *,
    environ: Mapping[str, str] | None = None,
) -> list[KeyLocation]:
    """The places searched, in order (just ``store.key_file`` when it is configured)."""
    env = os.environ if environ is None else environ
    if cfg_key_file is not None:
        return [KeyLocation(Path(cfg_key_file), "store.key_file")]
    found: list[KeyLocation] = []
    cred_dir = env.get("CREDENTIALS_DIRECTORY")
    if cred_dir:
        found.append(KeyLocation(Path(cred_dir) / CREDENTIAL_NAME, "systemd credential"))
    found.append(KeyLocation(_credstore(env) / CREDENTIAL_NAME, "credstore"))
    found.append(KeyLocation(Path(state_dir) / STATE_KEY_NAME, "state folder"))
    return found


def find_master_key(
    cfg_key_file: Path | None,
    state_dir: Path,
    *,
    environ: Mapping[str, str] | None = None,
) -> Path | None:
    """The first location on the list that holds a key, or ``None``."""
    for location in key_locations(cfg_key_file, state_dir, environ=environ):
        if location.presence() == "present":
            return location.path
    return None


def master_key_path(
    cfg_key_file: Path | None,
    state_dir: Path,
    *,
    environ: Mapping[str, str] | None = None,
) -> Path:
    """The key to open: the one found, else the last location searched (whose "not found"
    error then tells the admin to run ``facegate keys init``)."""
    found = find_master_key(cfg_key_file, state_dir, environ=environ)
    if found is not None:
        return found
    return key_locations(cfg_key_file, state_dir, environ=environ)[-1].path


def existing_master_keys(
    cfg_key_file: Path | None,
    state_dir: Path,
    *,
    environ: Mapping[str, str] | None = None,
) -> list[tuple[KeyLocation, Presence]]:
    """Every location, configured or default, that holds a key or cannot be looked into."""
    env = os.environ if environ is None else environ
    seen: set[Path] = set()
    result: list[tuple[KeyLocation, Presence]] = []
    candidates = key_locations(None, state_dir, environ=env)
    if cfg_key_file is not None:
        candidates = key_locations(cfg_key_file, state_dir, environ=env) + candidates
    for location in candidates:
        if location.path in seen:
            continue
        seen.add(location.path)
        presence = location.presence()
        if presence != "absent":
            result.append((location, presence))
    return result


def new_master_key_path(
    cfg_key_file: Path | None,
    state_dir: Path,
    *,
    key_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Path:
    """Where ``keys init`` may create a key: ``key_file`` (``--key-file``), else
    ``store.key_file``, else ``<state_dir>/master.key``.

    Raises:
        MasterKeyError: a key exists already at the target or anywhere on the list, or a
            location cannot be looked into (so its absence cannot be proven).
    """
    env = os.environ if environ is None else environ
    target = key_file or cfg_key_file or Path(state_dir) / STATE_KEY_NAME
    cred_dir = env.get("CREDENTIALS_DIRECTORY")
    if cred_dir and Path(target).parent == Path(cred_dir):
        raise MasterKeyError(
            f"{target} is a systemd credential (read-only); create the key at its source"
        )
    blockers = existing_master_keys(cfg_key_file, state_dir, environ=env)
    target_presence = KeyLocation(Path(target), "store.key_file").presence()
    if target_presence != "absent" and all(loc.path != target for loc, _ in blockers):
        blockers.insert(0, (KeyLocation(Path(target), "store.key_file"), target_presence))
    for location, presence in blockers:
        if presence == "present":
            raise MasterKeyError(
                f"a master key exists already: {location.path} ({location.source}); every "
                "command uses it. Refusing to make a second key (the data sealed with the "
                "first would become unreadable); `facegate keys rotate` replaces it"
            )
    for location, _ in blockers:
        raise MasterKeyError(
            f"cannot tell whether {location.path} ({location.source}) holds a master key "
            "(permission denied): run this as root (sudo), so a second key is never made"
        )
    return Path(target)
