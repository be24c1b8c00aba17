"""Roles by peer credentials: who is calling the admin socket, and what they may do.

The kernel tells the server the caller's uid, gid and pid (``SO_PEERCRED``); nobody can lie
about them. ``RoleMap`` turns them into a role through configured uids and group names. The
roles are ordered: an ``admin`` may do what an ``operator`` may, who may do what an
``auditor`` may.

- ``auditor``: read events, counts and status;
- ``operator``: enroll, withdraw consent, visitor passes, open a door;
- ``admin``: keys, configuration, deletion.
"""

from __future__ import annotations

import grp
import os
import pwd
import socket
import struct
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum

__all__ = ["PeerCred", "Role", "RoleMap", "peer_credentials"]


class Role(IntEnum):
    """Ordered roles: a higher role includes every lower one."""

    AUDITOR = 1
    OPERATOR = 2
    ADMIN = 3

    @classmethod
    def parse(cls, text: str) -> Role:
        """``"auditor"`` → ``Role.AUDITOR``."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown role {text!r} (auditor, operator, admin)") from None

    @property
    def label(self) -> str:
        """Lowercase name."""
        return self.name.lower()


@dataclass(slots=True, frozen=True)
class PeerCred:
    """The connecting process, as the kernel reports it."""

    pid: int
    uid: int
    gid: int


def peer_credentials(sock: socket.socket) -> PeerCred:
    """``SO_PEERCRED`` of a connected ``AF_UNIX`` socket (Linux)."""
    fmt = "3i"
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize(fmt))
    pid, uid, gid = struct.unpack(fmt, raw)
    return PeerCred(pid, uid, gid)


def _group_names(uid: int, gid: int) -> set[str]:
    """Names of the user's primary and supplementary groups (from the user database)."""
    gids = {gid}
    try:
        user = pwd.getpwuid(uid).pw_name
        gids.update(os.getgrouplist(user, gid))
    except KeyError:
        pass
    names = set()
    for g in gids:
        try:
            names.add(grp.getgrgid(g).gr_name)
        except KeyError:
            continue
    return names


@dataclass(slots=True, frozen=True)
class RoleMap:
    """Maps peer credentials to a role; the highest matching role wins.

    Args:
        uids: uid → role.
        groups: group name → role (primary or supplementary group of the caller's user).
        root_is_admin: uid 0 is ``admin`` (root can read the key and the database anyway).
        groups_of: resolves (uid, gid) to group names (injectable for tests).
    """

    uids: Mapping[int, Role] = field(default_factory=dict)
    groups: Mapping[str, Role] = field(default_factory=dict)
    root_is_admin: bool = True
    groups_of: Callable[[int, int], Iterable[str]] = _group_names

    def role_for(self, peer: PeerCred) -> Role | None:
        """The caller's role, or None when it has none (refused)."""
        found: list[Role] = []
        if peer.uid == 0 and self.root_is_admin:
            found.append(Role.ADMIN)
        if peer.uid in self.uids:
            found.append(self.uids[peer.uid])
        if self.groups:
            found.extend(
                self.groups[g] for g in self.groups_of(peer.uid, peer.gid) if g in self.groups
            )
        return max(found) if found else None

    @classmethod
    def from_config(
        cls, uids: Mapping[int, str], groups: Mapping[str, str], *, root_is_admin: bool = True
    ) -> RoleMap:
        """Build from plain strings (``{"facegate-admin": "admin"}``)."""
        return cls(
            {int(u): Role.parse(r) for u, r in uids.items()},
            {g: Role.parse(r) for g, r in groups.items()},
            root_is_admin,
        )
