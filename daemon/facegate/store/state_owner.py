"""Files an admin command run as root creates in the state folder go to the folder's owner.

The daemon runs as the ``facegate`` user and owns ``/var/lib/facegate``. An admin command run
with sudo while the daemon is stopped opens the database directly: SQLite creates
``facegate.db`` (and its ``-wal``/``-shm``), the audit log gets new files, ``keys init`` or
``keys rotate`` may write ``master.key`` — all root-owned and mode 0600, which the service
then cannot open. Every such file is handed to the state folder's owner at once and again
when the command exits.
"""

from __future__ import annotations

import atexit
import logging
import os
import stat
from pathlib import Path

__all__ = ["adopt_into_parent", "hand_over", "hand_over_on_exit"]

logger = logging.getLogger(__name__)

_registered: set[Path] = set()


def hand_over(state_dir: Path) -> int:
    """Chown every root-owned entry under ``state_dir`` to the folder's owner.

    Does nothing unless running as root and the folder is owned by another user. Returns
    how many entries changed owner.
    """
    if os.geteuid() != 0:
        return 0
    try:
        top = os.stat(state_dir)
    except OSError:
        return 0
    if top.st_uid == 0:
        return 0
    changed = 0
    for folder, dirs, files in os.walk(state_dir):
        for name in [*dirs, *files]:
            path = os.path.join(folder, name)
            try:
                st = os.lstat(path)
                if st.st_uid == 0:
                    os.chown(path, top.st_uid, top.st_gid, follow_symlinks=False)
                    changed += 1
            except OSError as exc:  # a -wal/-shm that vanished between listing and chown
                logger.debug("cannot hand over %s: %s", path, exc)
    return changed


def adopt_into_parent(folder: Path) -> int:
    """``folder`` and everything in it to the owner of its parent, when root made it there.

    ``sudo facegate models install`` writes ``/var/lib/facegate/models`` as root; the service
    user owns ``/var/lib/facegate`` and must own its models too. Does nothing unless running
    as root inside a folder another user owns; only ``folder`` is walked, never its parent.
    Returns how many entries changed owner.
    """
    if os.geteuid() != 0:
        return 0
    try:
        parent = os.stat(Path(folder).parent)
        top = os.lstat(folder)
    except OSError:
        return 0
    if parent.st_uid == 0:
        return 0
    if not stat.S_ISDIR(top.st_mode):  # a link the parent's owner put there: never followed
        logger.warning("not handing over %s: it is not a folder", folder)
        return 0
    changed = 0
    if top.st_uid == 0:
        os.chown(folder, parent.st_uid, parent.st_gid, follow_symlinks=False)
        changed = 1
    return changed + hand_over(folder)


def hand_over_on_exit(state_dir: Path) -> None:
    """``hand_over`` now and once more when the process exits."""
    hand_over(state_dir)
    key = Path(state_dir).resolve()
    if key not in _registered:
        _registered.add(key)
        atexit.register(hand_over, key)
