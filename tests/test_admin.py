"""Admin socket: peer credentials → roles, strict framing and schema, audit of every refusal."""

from __future__ import annotations

import os
import socket
import stat
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from facegate.admin import (
    AdminAuditEvent,
    AdminClient,
    AdminCommandError,
    AdminError,
    AdminServer,
    Handler,
    PeerCred,
    Role,
    RoleMap,
)

UID, GID = os.getuid(), os.getgid()


class WithdrawArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pseudonym: str = Field(pattern=r"^p-[0-9a-f]{8}$")


def status(_args: Any, peer: PeerCred) -> dict[str, Any]:
    return {"doors": 1, "uid": peer.uid}


def withdraw(args: WithdrawArgs, _peer: PeerCred) -> dict[str, Any]:
    if args.pseudonym == "p-00000000":
        raise AdminCommandError("not_found", "no such person")
    return {"withdrawn": args.pseudonym}


def explode(_args: Any, _peer: PeerCred) -> dict[str, Any]:
    raise RuntimeError("secret detail Zhang Wei")


HANDLERS = {
    "status": Handler(Role.AUDITOR, status, summary="counts"),
    "person.withdraw": Handler(Role.OPERATOR, withdraw, WithdrawArgs),
    "keys.rotate": Handler(Role.ADMIN, lambda a, p: {"rotated": True}),
    "explode": Handler(Role.AUDITOR, explode),
}


class Harness:
    def __init__(self, path: Path, role: Role | None) -> None:
        self.events: list[AdminAuditEvent] = []
        uids = {UID: role} if role is not None else {}
        self.roles = RoleMap(uids, root_is_admin=False)
        self.server = AdminServer(
            path, HANDLERS, self.roles, on_audit=self.events.append, max_bytes=1024, timeout_s=1.0
        )
        self.path = path

    def outcomes(self) -> list[tuple[str, str | None]]:
        return [(e.outcome, e.command) for e in self.events]


@pytest.fixture()
def sock_path(tmp_path: Path) -> Path:
    return tmp_path / "admin.sock"


def serve(sock_path: Path, role: Role | None) -> Iterator[Harness]:
    h = Harness(sock_path, role)
    h.server.start()
    try:
        yield h
    finally:
        h.server.close()


@pytest.fixture()
def operator(sock_path: Path) -> Iterator[Harness]:
    yield from serve(sock_path, Role.OPERATOR)


def raw_exchange(path: Path, payload: bytes) -> dict[str, Any]:
    import json

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(2.0)
        s.connect(str(path))
        s.sendall(payload)
        header = s.recv(4)
        (n,) = struct.unpack(">I", header)
        data = b""
        while len(data) < n:
            data += s.recv(n - len(data))
    return json.loads(data)


def still_serving(path: Path) -> None:
    with AdminClient(path) as c:
        assert c.call("status")["doors"] == 1


def test_socket_mode_and_stale_socket(sock_path: Path) -> None:
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(sock_path))
    stale.close()  # a socket file left by a crash
    for _h in serve(sock_path, Role.AUDITOR):
        assert stat.S_IMODE(sock_path.stat().st_mode) == 0o660
        still_serving(sock_path)
    assert not sock_path.exists()


def test_peer_credentials_map_to_a_role(operator: Harness) -> None:
    with AdminClient(operator.path) as c:
        assert c.call("whoami") == {"uid": UID, "gid": GID, "role": "operator"}
        assert c.call("status") == {"doors": 1, "uid": UID}  # auditor command: allowed
        assert c.call("person.withdraw", pseudonym="p-1234abcd") == {"withdrawn": "p-1234abcd"}
        with pytest.raises(AdminError) as err:
            c.call("keys.rotate")
        assert err.value.code == "forbidden"
        names = set(c.call("commands")["commands"])
        assert "person.withdraw" in names and "keys.rotate" not in names
    assert ("forbidden", "keys.rotate") in operator.outcomes()
    assert ("ok", "person.withdraw") in operator.outcomes()


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.AUDITOR, {"status"}),
        (Role.OPERATOR, {"status", "person.withdraw"}),
        (Role.ADMIN, {"status", "person.withdraw", "keys.rotate"}),
        (None, set()),
    ],
)
def test_each_role(sock_path: Path, role: Role | None, allowed: set[str]) -> None:
    calls = {"status": {}, "person.withdraw": {"pseudonym": "p-1234abcd"}, "keys.rotate": {}}
    for h in serve(sock_path, role):
        with AdminClient(sock_path) as c:
            for command, args in calls.items():
                if command in allowed:
                    c.call(command, **args)
                else:
                    with pytest.raises(AdminError) as err:
                        c.call(command, **args)
                    assert err.value.code == "forbidden"
        refused = [cmd for outcome, cmd in h.outcomes() if outcome == "forbidden"]
        if role is None:  # refused when it connects, before a byte of a request is read
            assert refused == [None] * len(calls)
        else:
            assert set(refused) == set(calls) - allowed


def test_group_mapping() -> None:
    roles = RoleMap(
        groups={"facegate-admin": Role.ADMIN, "facegate-ops": Role.OPERATOR},
        root_is_admin=False,
        groups_of=lambda uid, gid: {
            1001: ["facegate-ops"],
            1002: ["facegate-ops", "facegate-admin"],
        }.get(uid, []),
    )
    assert roles.role_for(PeerCred(1, 1001, 1001)) is Role.OPERATOR
    assert roles.role_for(PeerCred(1, 1002, 1002)) is Role.ADMIN
    assert roles.role_for(PeerCred(1, 1003, 1003)) is None
    assert RoleMap().role_for(PeerCred(1, 0, 0)) is Role.ADMIN
    assert RoleMap(root_is_admin=False).role_for(PeerCred(1, 0, 0)) is None
    cfg = RoleMap.from_config({1500: "auditor"}, {"wheel": "admin"})
    assert cfg.uids == {1500: Role.AUDITOR} and cfg.groups == {"wheel": Role.ADMIN}
    with pytest.raises(ValueError):
        RoleMap.from_config({}, {"x": "superuser"})


def test_real_group_lookup_of_own_primary_group() -> None:
    import grp

    mine = grp.getgrgid(GID).gr_name
    roles = RoleMap(groups={mine: Role.AUDITOR}, root_is_admin=False)
    assert roles.role_for(PeerCred(os.getpid(), UID, GID)) is Role.AUDITOR


def test_oversized_request(operator: Harness) -> None:
    reply = raw_exchange(operator.path, struct.pack(">I", 10_000_000) + b"{")
    assert reply["ok"] is False and reply["error"]["code"] == "too_large"
    assert operator.outcomes()[-1] == ("too_large", None)
    still_serving(operator.path)


def test_malformed_json(operator: Harness) -> None:
    body = b"{not json"
    reply = raw_exchange(operator.path, struct.pack(">I", len(body)) + body)
    assert reply["error"]["code"] == "bad_json"
    body = b"\xff\xfe"
    reply = raw_exchange(operator.path, struct.pack(">I", len(body)) + body)
    assert reply["error"]["code"] == "bad_json"
    assert [o for o, _ in operator.outcomes()] == ["bad_json", "bad_json"]
    still_serving(operator.path)


@pytest.mark.parametrize(
    "payload",
    [
        b'{"command": "status", "extra": 1}',
        b'{"command": "Status!"}',
        b'{"v": 2, "command": "status"}',
        b'{"args": {}}',
        b"[1, 2, 3]",
        b'{"command": "status", "args": []}',
    ],
)
def test_wrong_schema(operator: Harness, payload: bytes) -> None:
    reply = raw_exchange(operator.path, struct.pack(">I", len(payload)) + payload)
    assert reply["error"]["code"] == "bad_request"
    assert operator.outcomes()[-1] == ("bad_request", None)
    still_serving(operator.path)


def test_wrong_arguments_never_echo_the_input(operator: Harness) -> None:
    with AdminClient(operator.path) as c:
        with pytest.raises(AdminError) as err:
            c.call("person.withdraw", pseudonym="Zhang Wei")
        assert err.value.code == "bad_args" and "Zhang" not in str(err.value)
        with pytest.raises(AdminError) as err:
            c.call("person.withdraw", pseudonym="p-1234abcd", name="Zhang Wei")
        assert err.value.code == "bad_args" and "Zhang" not in str(err.value)
        with pytest.raises(AdminError) as err:
            c.call("person.withdraw", pseudonym="p-00000000")
        assert err.value.code == "not_found"
        with pytest.raises(AdminError) as err:
            c.call("explode")
        assert err.value.code == "failed" and "Zhang" not in str(err.value)
        assert c.call("status")["doors"] == 1  # same connection still works
    outcomes = [o for o, _ in operator.outcomes()]
    assert outcomes == ["bad_args", "bad_args", "not_found", "failed", "ok"]


def test_unknown_command(operator: Harness) -> None:
    with AdminClient(operator.path) as c:
        with pytest.raises(AdminError) as err:
            c.call("door.explode")
        assert err.value.code == "unknown_command"
    assert operator.outcomes()[-1] == ("unknown_command", "door.explode")
    still_serving(operator.path)


def test_client_that_hangs_up_mid_frame_or_stalls(operator: Harness) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(operator.path))
        s.sendall(struct.pack(">I", 100) + b"{")  # and hang up
    stalled = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stalled.connect(str(operator.path))
    stalled.sendall(b"\x00")  # half a header, then nothing: the server times out
    try:
        still_serving(operator.path)
    finally:
        stalled.close()


def test_concurrent_clients(operator: Harness) -> None:
    errors: list[BaseException] = []
    results: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            with AdminClient(operator.path) as c:
                for _ in range(20):
                    got = c.call("status")["doors"]
                    with lock:
                        results.append(got)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert not errors and len(results) == 120
    assert sum(1 for o, _ in operator.outcomes() if o == "ok") == 120


def test_unreachable(tmp_path: Path) -> None:
    with pytest.raises(AdminError) as err:
        AdminClient(tmp_path / "none.sock").call("status")
    assert err.value.code == "unreachable"


def test_too_many_clients_are_told_busy(sock_path: Path) -> None:
    events: list[AdminAuditEvent] = []
    server = AdminServer(
        sock_path, HANDLERS, RoleMap({UID: Role.AUDITOR}), on_audit=events.append, max_clients=1
    )
    with server:
        first = AdminClient(sock_path)
        assert first.call("status")["doors"] == 1  # holds the only slot
        with pytest.raises(AdminError) as err:
            AdminClient(sock_path).call("status")
        assert err.value.code in ("busy", "disconnected")
        first.close()
    assert any(e.outcome == "busy" for e in events)


def test_wiring_audits_into_the_audit_log(tmp_path: Path) -> None:
    from nacl.signing import SigningKey

    from facegate.admin.wiring import build_admin_server
    from facegate.audit import AuditLog, verify
    from facegate.config.appliance import AdminConfig

    log = AuditLog(tmp_path / "audit", SigningKey(b"a" * 32), b"b" * 32)
    cfg = AdminConfig(
        socket=tmp_path / "a.sock",
        group=None,
        groups={},
        uids={UID: "auditor"},
        root_is_admin=False,
    )
    with build_admin_server(cfg, HANDLERS, log), AdminClient(cfg.socket) as c:
        c.call("status")
        with pytest.raises(AdminError):
            c.call("keys.rotate")
    log.close()
    text = "".join(p.read_text() for p in (tmp_path / "audit").glob("audit-*.jsonl"))
    assert '"command":"keys.rotate"' in text and '"outcome":"forbidden"' in text
    assert verify(tmp_path / "audit").ok


def test_ctl_cli(operator: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from facegate.cli.ctl import add_admin_parsers

    parser = argparse.ArgumentParser()
    add_admin_parsers(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["ctl", "--socket", str(operator.path), "status"])
    assert args.func(args) == 0
    assert '"doors": 1' in capsys.readouterr().out
    args = parser.parse_args(["ctl", "--socket", str(operator.path), "keys.rotate", "now=true"])
    assert args.func(args) == 1


def test_audit_verify_over_the_socket(tmp_path: Path) -> None:
    from nacl.signing import SigningKey

    from facegate.admin.wiring import audit_handlers, build_admin_server
    from facegate.audit import AuditLog
    from facegate.config.appliance import AdminConfig

    log = AuditLog(tmp_path / "audit", SigningKey(b"a" * 32), b"b" * 32)
    with log.path.open("ab") as f:
        f.write(b'{"partial')  # a write in progress is not damage for a live check
    log2 = AuditLog(tmp_path / "audit", SigningKey(b"a" * 32), b"b" * 32)
    with log2.path.open("ab") as f:
        f.write(b'{"partial')
    cfg = AdminConfig(socket=tmp_path / "a.sock", group=None, groups={}, uids={UID: "auditor"})
    with build_admin_server(cfg, audit_handlers(log2), None), AdminClient(cfg.socket) as c:
        report = c.call("audit.verify")
    assert report["ok"] is True and report["first_broken"] is None
    assert report["key_id"] == log2.key_id


def test_admin_config_section() -> None:
    from pydantic import ValidationError

    from facegate.admin.wiring import role_map
    from facegate.config.appliance import AdminConfig, AuditConfig, WatchdogConfig

    cfg = AdminConfig.model_validate({"groups": {"guards": "operator"}, "uids": {1500: "auditor"}})
    roles = role_map(cfg)
    assert roles.groups == {"guards": Role.OPERATOR} and roles.uids == {1500: Role.AUDITOR}
    with pytest.raises(ValidationError):
        AdminConfig.model_validate({"groups": {"guards": "superuser"}})
    with pytest.raises(ValidationError):
        AdminConfig.model_validate({"sockets": "/tmp/x"})
    with pytest.raises(ValidationError):
        AuditConfig.model_validate({"max_file_bytes": 10})
    assert WatchdogConfig().frame_stale_s == 5.0
