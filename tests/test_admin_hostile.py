"""Hostile input on the admin socket (issue 14, items 1, 7 and 9): every request that fails is
answered with a clear error code and stores nothing, no input stops the server, and callers
without a role, or trickling bytes, cannot lock the admins out.

The handlers are the daemon's own (``service.admin_commands``) behind the real ``AdminServer``
and ``LoopDispatcher``, over a real socket, with a real encrypted store; only the App is a
test double (``FakeControl``), so these tests need no camera and no models.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from facegate.admin import (
    AdminAuditEvent,
    AdminClient,
    AdminError,
    AdminServer,
    LoopDispatcher,
    PeerCred,
    Role,
    RoleMap,
)
from facegate.admin.protocol import MAX_DEPTH, Reply
from facegate.clock import FakeClock
from facegate.config import FacegateConfig, load_config_text
from facegate.service.admin_commands import admin_handlers
from facegate.service.camera_enrol import camera_handlers
from facegate.service.control import FaceSpace
from facegate.service.rights import rights_handlers
from facegate.store import Store
from facegate.store.credential_keys import credential_keys
from helpers import NOTICE_VERSION, post_notice

DIM = 128
SPACE = "dlib_resnet_v1"
NOW = 1_800_000_000.0  # 2027
CFG = load_config_text(
    "site: {name: T, kind: residential_compound, purpose: Open the gate for residents.}\n"
    "camera: {type: replay, path: /tmp}\n"
    "doors: [{id: main, relay: {pin: 17}}]\n"
    "readers: [{id: r1, type: wiegand, door: main, d0: 22, d1: 23}]\n"
)
# What a server may answer. "failed" is a store refusal with its own message (a card of an
# expired pass not yet purged); never "internal error" (checked below).
ERROR_CODES = {
    "failed",
    "bad_json",
    "bad_request",
    "bad_args",
    "forbidden",
    "unknown_command",
    "too_large",
    "timeout",
    "busy",
}


def template(value: float = 0.1) -> str:
    return base64.b64encode(np.full(DIM, value, "<f4").tobytes()).decode("ascii")


@dataclass
class FakeControl:
    """The daemon as its admin handlers see it (``service.control.Control``)."""

    store: Store
    dispatcher: LoopDispatcher
    roles: RoleMap
    cfg: FacegateConfig = CFG
    clock: FakeClock = field(default_factory=lambda: FakeClock(wall=NOW))
    changed: list[tuple[str, str]] = field(default_factory=list)
    opened: list[str] = field(default_factory=list)

    def on_loop(self, handler: Any) -> Any:
        return self.dispatcher.on_loop(handler)

    def status(self) -> dict[str, Any]:
        return {"doors": {"main": "locked"}}

    def door_ids(self) -> list[str]:
        return ["main"]

    def remote_open(self, door: str, seconds: float | None, *, uid: int) -> bool:
        self.opened.append(door)
        return True

    def role_for(self, peer: PeerCred) -> Role | None:
        return self.roles.role_for(peer)

    def face_space(self) -> FaceSpace | None:
        return FaceSpace(SPACE, DIM)

    def same_face(self, templates: Any) -> str | None:
        return None  # random templates match nobody in an empty gallery

    def people_changed(self, kind: str, pseudonym: str) -> None:
        self.changed.append((kind, pseudonym))


@dataclass
class Daemonish:
    """A real admin server with the daemon's handlers, a loop thread and a store."""

    path: Path
    server: AdminServer
    control: FakeControl
    events: list[AdminAuditEvent]

    def snapshot(self) -> list[str]:
        """Every row of the database (through a second connection: what is committed)."""
        db = sqlite3.connect(self.control.store.path)
        try:
            return list(db.iterdump())
        finally:
            db.close()

    def raw(self, payload: bytes) -> dict[str, Any] | None:
        """Send bytes, half-close, and read one reply (None: closed without one)."""
        return exchange(self.path, payload)

    def request(self, body: bytes) -> dict[str, Any]:
        reply = self.raw(struct.pack(">I", len(body)) + body)
        assert reply is not None
        return reply


def exchange(path: Path, payload: bytes, *, timeout: float = 5.0) -> dict[str, Any] | None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(path))
        try:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # answered and closed before reading: the answer is still there
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    if not data:
        return None
    (n,) = struct.unpack(">I", data[:4])
    assert len(data) == 4 + n, "exactly one whole reply frame"
    reply: dict[str, Any] = json.loads(data[4:])
    assert_well_formed(reply)
    return reply


def assert_well_formed(reply: dict[str, Any]) -> None:
    parsed = Reply.model_validate(reply)
    if parsed.ok:
        assert parsed.error is None and parsed.result is not None
    else:
        assert parsed.error is not None
        assert parsed.error.code in ERROR_CODES, parsed.error
        message = parsed.error.message
        assert message and "\n" not in message and "Traceback" not in message
        assert "internal error" not in message


@pytest.fixture()
def daemonish(tmp_path: Path) -> Iterator[Daemonish]:
    store = Store(tmp_path / "state", b"k" * 32, clock=FakeClock(wall=NOW))
    credential_keys(store)  # the device keys exist from the first enrolment on
    dispatcher = LoopDispatcher(timeout_s=10.0)
    roles = RoleMap({os.getuid(): Role.ADMIN}, root_is_admin=False)
    state = CFG.store.model_copy(update={"state_dir": tmp_path / "state"})
    control = FakeControl(store, dispatcher, roles, cfg=CFG.model_copy(update={"store": state}))
    events: list[AdminAuditEvent] = []
    path = tmp_path / "admin.sock"
    server = AdminServer(
        path,
        {
            **(daemon := admin_handlers(control)),
            **rights_handlers(control),
            **camera_handlers(control, None, daemon["enroll"].func),  # no face path here
        },
        roles,
        on_audit=events.append,
        timeout_s=2.0,
        max_bytes=256 * 1024,
    )
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            dispatcher.run_pending()
            stop.wait(0.002)

    loop_thread = threading.Thread(target=loop, daemon=True)
    loop_thread.start()
    server.start()
    try:
        yield Daemonish(path, server, control, events)
    finally:
        server.close()
        stop.set()
        loop_thread.join(timeout=5)
        store.close()


def still_serving(d: Daemonish) -> None:
    assert d.server._thread is not None and d.server._thread.is_alive()
    with AdminClient(d.path, timeout_s=10) as c:
        assert c.call("status") == {"doors": {"main": "locked"}}


def people(d: Daemonish) -> int:
    db = sqlite3.connect(d.control.store.path)
    try:
        return int(db.execute("SELECT count(*) FROM people").fetchone()[0])
    finally:
        db.close()


# -- item 1: bounds before anything is written ------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"v":1,"command":"enroll","args":{"card":"4242","valid_until":Infinity}}',
        b'{"v":1,"command":"enroll","args":{"card":"4242","valid_until":-Infinity}}',
        b'{"v":1,"command":"enroll","args":{"card":"4242","valid_until":NaN}}',
        b'{"v":1,"command":"enroll","args":{"card":"4242","valid_until":1e400}}',
    ],
)
def test_non_finite_times_are_a_bad_request_and_store_nothing(
    daemonish: Daemonish, body: bytes
) -> None:
    before = daemonish.snapshot()
    reply = daemonish.request(body)
    assert reply["ok"] is False and reply["error"]["code"] == "bad_request"
    assert "finite" in reply["error"]["message"]
    assert daemonish.snapshot() == before and people(daemonish) == 0
    assert daemonish.control.changed == []
    still_serving(daemonish)


@pytest.mark.parametrize(
    "valid_until",
    [
        "1e300",
        "253402300800",  # 10000-01-01: past what datetime can show
        "4102444800",  # 2100-01-01
        "-1",
        "0",
        '"Infinity"',  # a string pydantic would read as a float
        '"nan"',
        "1" + "0" * 400,  # an integer no float can hold
    ],
)
def test_times_out_of_range_are_refused_and_store_nothing(
    daemonish: Daemonish, valid_until: str
) -> None:
    before = daemonish.snapshot()
    for key in ("valid_until", "expires_at"):
        body = f'{{"v":1,"command":"enroll","args":{{"card":"4242","{key}":{valid_until}}}}}'
        reply = daemonish.request(body.encode())
        assert reply["ok"] is False and reply["error"]["code"] == "bad_args", reply
        assert key in reply["error"]["message"]
    assert daemonish.snapshot() == before
    still_serving(daemonish)


def test_a_valid_time_and_card_are_enrolled(daemonish: Daemonish) -> None:
    with AdminClient(daemonish.path) as c:
        reply = c.call("enroll", card="4242", valid_until=NOW + 86_400)
        assert reply["credentials"] == 1 and reply["templates"] == 0
        reply = c.call("enroll", card="w34:65535:65535", valid_until=NOW + 19 * 365 * 86_400)
        assert reply["credentials"] == 1
        with pytest.raises(AdminError, match="more than 20 years"):  # issue 15: a typo
            c.call("enroll", card="77", valid_until=4_102_444_799.0)
    assert people(daemonish) == 2


def test_a_card_in_use_or_a_time_in_the_past_is_refused_before_writing(
    daemonish: Daemonish,
) -> None:
    with AdminClient(daemonish.path) as c:
        c.call("enroll", card="12:345")
        before = daemonish.snapshot()
        with pytest.raises(AdminError) as err:
            c.call("enroll", card="12:345", name="Second")
        assert err.value.code == "bad_request" and "already assigned" in str(err.value)
        with pytest.raises(AdminError) as err:
            c.call("enroll", card="4242", valid_until=NOW - 1)
        assert err.value.code == "bad_request" and "valid_until is in the past" in str(err.value)
    assert daemonish.snapshot() == before


@pytest.mark.parametrize(
    ("args", "field_name"),
    [
        ({"card": "4" * 64}, "card"),  # issue 14 item 9
        ({"card": "4" * 33}, "card"),
        ({"card": "256:1"}, "card"),  # a 26-bit facility has 8 bits
        ({"card": "1:65536"}, "card"),
        ({"card": "w34:65536:1"}, "card"),
        ({"card": "\u0663\u0663"}, "card"),  # Arabic-Indic digits: int() reads them, readers not
        ({"card": ""}, "card"),
        ({"card": 4242}, "card"),
        ({"pin": "123"}, "pin"),
        ({"pin": "1234567890123"}, "pin"),
        ({"pin": "1234\n"}, "pin"),
        ({"pin": "12a4"}, "pin"),
        ({"card": "4242", "name": "x" * 201}, "name"),
        ({"card": "4242", "name": "Zhang\x1b[2J"}, "name"),
        ({"card": "4242", "unit": "3\u202e01"}, "unit"),
        ({"card": "4242", "birth_year": 10**30}, "birth_year"),
        ({"card": "4242", "minor": "maybe"}, "minor"),
        ({"card": "4242", "kind": "everything"}, "kind"),
        ({"card": "4242", "extra": 1}, "extra"),
        ({"templates": ["not base64!"], "space": SPACE}, "templates"),  # issue 14 item 9
        ({"templates": ["QUJD"], "space": SPACE}, "templates"),  # 3 bytes: not float32s
        ({"templates": [template(float("nan"))], "space": SPACE}, "templates"),
        ({"templates": [template(0.0)], "space": SPACE}, "templates"),
        ({"templates": [template()] * 21, "space": SPACE}, "templates"),
        ({"templates": "AAAA", "space": SPACE}, "templates"),
        ({"templates": [template()], "space": "a b"}, "space"),
    ],
)
def test_bad_enrol_arguments_are_refused_with_a_clear_message(
    daemonish: Daemonish, args: dict[str, Any], field_name: str
) -> None:
    before = daemonish.snapshot()
    body = json.dumps({"v": 1, "id": 3, "command": "enroll", "args": args}).encode()
    reply = daemonish.request(body)
    assert reply["ok"] is False and reply["id"] == 3
    assert reply["error"]["code"] == "bad_args"
    message = reply["error"]["message"]
    assert message.startswith(field_name), message
    for value in args.values():  # never echo what was sent (cards, PINs, names)
        if isinstance(value, str) and len(value) >= 4:
            assert value not in message
    assert daemonish.snapshot() == before
    still_serving(daemonish)


def test_templates_of_the_wrong_space_or_dimension_store_nothing(daemonish: Daemonish) -> None:
    post_notice(daemonish.control.cfg.store.state_dir)
    consent = {
        "consent_method": "paper-form",
        "notice_version": NOTICE_VERSION,
        "taken_by": "admin",
        "consent_ref": "F-1",
        "adult": True,
    }
    before = daemonish.snapshot()
    with AdminClient(daemonish.path) as c:
        with pytest.raises(AdminError) as err:
            c.call("enroll", templates=[template()], space="other_space", **consent)
        assert err.value.code == "bad_request" and "other_space" in str(err.value)
        short = base64.b64encode(np.ones(64, "<f4").tobytes()).decode()
        with pytest.raises(AdminError) as err:
            c.call("enroll", templates=[short], space=SPACE, **consent)
        assert err.value.code == "bad_request" and "dimension" in str(err.value)
        with pytest.raises(AdminError) as err:  # a face without consent
            c.call("enroll", templates=[template()], space=SPACE)
        assert err.value.code == "bad_request" and "consent" in str(err.value)
    assert daemonish.snapshot() == before
    with AdminClient(daemonish.path) as c:
        reply = c.call("enroll", templates=[template()], space=SPACE, **consent)
    assert reply["templates"] == 1


def test_other_commands_bound_their_arguments(daemonish: Daemonish) -> None:
    with AdminClient(daemonish.path) as c:
        for command, args in [
            ("door.open", {"door": "main", "seconds": 1e300}),
            ("door.open", {"door": "main", "seconds": "nan"}),
            ("door.open", {"door": "main\n"}),
            ("door.open", {"door": "x" * 1000}),
            ("events", {"limit": 10**9}),
            ("person.delete", {"person": "p-" + "0" * 1000}),
            ("person.withdraw", {"person": ["p-0123456789abcdef"]}),
        ]:
            with pytest.raises(AdminError) as err:
                c.call(command, **args)
            assert err.value.code == "bad_args", (command, args)
    assert daemonish.control.opened == []
    still_serving(daemonish)


# -- item 9: clear errors for what used to be a traceback or "internal error" -----------------


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 500, 5_000, 100_000])
def test_deeply_nested_json_is_a_bad_request_with_a_reply(daemonish: Daemonish, depth: int) -> None:
    body = b'{"command":"enroll","args":{"name":' + b"[" * depth + b"]" * depth + b"}}"
    reply = daemonish.request(body)
    assert reply["ok"] is False and reply["error"]["code"] == "bad_request"
    assert "nested deeper" in reply["error"]["message"]
    still_serving(daemonish)


def test_nesting_within_the_limit_is_judged_by_the_schema(daemonish: Daemonish) -> None:
    inner = "[" * (MAX_DEPTH - 2) + "]" * (MAX_DEPTH - 2)
    reply = daemonish.request(f'{{"command":"enroll","args":{{"name":{inner}}}}}'.encode())
    assert reply["error"]["code"] == "bad_args"


def test_json_the_protocol_refuses_gets_a_clear_code(daemonish: Daemonish) -> None:
    cases = {
        b"": "bad_json",
        b"{": "bad_json",
        b"\xff": "bad_json",
        b'{"command":"status","id":' + b"9" * 5000 + b"}": "bad_json",  # > 4300 digits
        b'"status"': "bad_request",
        b'{"command":"status","id":-1}': "bad_request",
        b'{"command":"status","args":{"x":NaN}}': "bad_request",
        b'{"command":"' + b"a" * 100 + b'"}': "bad_request",
    }
    for body, code in cases.items():
        reply = daemonish.request(body)
        assert reply["ok"] is False and reply["error"]["code"] == code, (body[:40], reply)
    still_serving(daemonish)


# -- item 7: role before body, a deadline per request ------------------------------------------

TRICKLER = r"""
import socket, struct, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
print("connected", flush=True)
payload = struct.pack(">I", 200) + b"x" * 200
got = b""
s.settimeout(float(sys.argv[2]))
try:
    for byte in payload:
        s.sendall(bytes([byte]))
        try:
            chunk = s.recv(4096)
        except TimeoutError:
            continue
        got += chunk
        if not chunk:
            break
except OSError:
    pass
try:
    s.settimeout(2)
    while chunk := s.recv(4096):
        got += chunk
except OSError:
    pass
print(got[4:].decode(errors="replace") if got else "closed", flush=True)
"""


class ByPid(RoleMap):
    """Roles by process: this test process is the admin; others get ``role``."""

    def __init__(self, role: Role | None) -> None:
        super().__init__(root_is_admin=False)
        object.__setattr__(self, "_other", role)

    def role_for(self, peer: PeerCred) -> Role | None:
        return Role.ADMIN if peer.pid == os.getpid() else self._other  # type: ignore[attr-defined]


def start_tricklers(path: Path, n: int, interval_s: float) -> list[subprocess.Popen[str]]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", TRICKLER, str(path), str(interval_s)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(n)
    ]
    for p in procs:  # wait until every one is connected (or was refused at once)
        assert p.stdout is not None
        line = p.stdout.readline()
        assert line.strip() in ("connected", ""), line
    return procs


def finish(procs: list[subprocess.Popen[str]], within_s: float) -> list[str]:
    outs = []
    for p in procs:
        p.wait(timeout=within_s)
        assert p.stdout is not None  # read through the buffer readline() filled
        outs.append(p.stdout.read().strip())
        p.stdout.close()
    return outs


@pytest.mark.parametrize("peer_role", [None, Role.AUDITOR])
def test_eight_trickling_clients_do_not_lock_the_admin_out(
    tmp_path: Path, peer_role: Role | None
) -> None:
    """Eight clients sending one byte every 0.3 s (200 s for a frame), a 1 s deadline."""
    path = tmp_path / "admin.sock"
    events: list[AdminAuditEvent] = []
    server = AdminServer(
        path,
        {},
        ByPid(peer_role),
        on_audit=events.append,
        timeout_s=1.0,
        max_clients=8,
    )
    with server:
        started = time.monotonic()
        procs = start_tricklers(path, 8, 0.3)
        try:
            for _ in range(3):  # while they trickle, the admin gets in at once, every time
                t0 = time.monotonic()
                with AdminClient(path, timeout_s=5) as c:
                    assert c.call("whoami")["role"] == "admin"
                assert time.monotonic() - t0 < 3  # served, not queued behind a deadline
                time.sleep(0.2)
            outs = finish(procs, within_s=10)
        finally:
            for p in procs:
                p.kill()
        elapsed = time.monotonic() - started
    outcomes = [e.outcome for e in events if e.pid != os.getpid()]
    if peer_role is None:  # refused on connecting, never read, never a slot
        assert all('"forbidden"' in out and "no role" in out for out in outs), outs
        assert outcomes == ["forbidden"] * 8
    else:  # seven slots (the eighth is the admin's), each cut at the deadline
        assert sum('"timeout"' in out for out in outs) == 7, outs
        assert sum('"busy"' in out for out in outs) == 1, outs
        assert sorted(outcomes) == ["busy"] + ["timeout"] * 7
    assert elapsed < 15, "the tricklers were not cut off at the deadline (200 s otherwise)"


def test_a_stalled_request_is_cut_at_the_deadline_not_per_recv(tmp_path: Path) -> None:
    """Bytes trickle in every 0.1 s until 0.8 s, then stop: a per-recv timeout of 1 s would cut
    the request at about 1.8 s, the whole-request deadline cuts it at 1.0 s. The client stops
    sending before the deadline, so the server's reply is never lost to a reset."""
    path = tmp_path / "admin.sock"
    server = AdminServer(path, {}, RoleMap({os.getuid(): Role.AUDITOR}), timeout_s=1.0)
    with server, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(path))
        t0 = time.monotonic()
        for byte in (struct.pack(">I", 50) + b"{" * 50)[:9]:
            s.sendall(bytes([byte]))
            time.sleep(0.1)
        s.settimeout(5.0)
        reply = b""
        while chunk := s.recv(4096):
            reply += chunk
        took = time.monotonic() - t0
    assert b'"timeout"' in reply
    assert 0.9 < took < 1.6  # one deadline for the whole request


def test_an_idle_connection_is_closed_quietly_at_the_deadline(tmp_path: Path) -> None:
    path = tmp_path / "admin.sock"
    events: list[AdminAuditEvent] = []
    roles = RoleMap({os.getuid(): Role.AUDITOR}, root_is_admin=False)
    with AdminServer(path, {}, roles, on_audit=events.append, timeout_s=0.5):
        with AdminClient(path) as c:
            assert c.call("whoami")["role"] == "auditor"
            time.sleep(1.0)  # idle past the deadline: the server closed the connection
            with pytest.raises(AdminError) as err:
                c.call("whoami")
            assert err.value.code == "disconnected"
        with AdminClient(path) as c:
            assert c.call("whoami")["role"] == "auditor"
    assert [e.outcome for e in events] == ["ok", "ok"]


def test_the_last_slot_is_the_admins(tmp_path: Path) -> None:
    path = tmp_path / "admin.sock"
    server = AdminServer(path, {}, ByPid(Role.OPERATOR), timeout_s=5.0, max_clients=2)
    with server:
        procs = start_tricklers(path, 2, 0.3)
        try:
            with AdminClient(path) as c:
                assert c.call("whoami")["role"] == "admin"
        finally:
            for p in procs:
                p.kill()
            finish(procs, within_s=10)


# -- property-based: framing and schemas --------------------------------------------------------

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def frames() -> st.SearchStrategy[bytes]:
    """Byte streams around the framing: garbage, bad and huge lengths, truncated bodies."""
    body = st.one_of(
        st.binary(max_size=300),
        st.text(max_size=200).map(str.encode),
        st.just(b'{"command":"status"}'),
        st.just(b'{"v":1,"id":1,"command":"enroll","args":{"card":"4242"}}'),
    )

    def framed(draw_body: bytes, length: int | None, cut: int) -> bytes:
        n = len(draw_body) if length is None else length
        data = struct.pack(">I", n) + draw_body
        return data[: max(0, len(data) - cut)]

    return st.one_of(
        st.binary(max_size=600),
        st.builds(
            framed,
            body,
            st.one_of(st.none(), st.integers(0, 2**32 - 1), st.sampled_from([0, 1, 2**31])),
            st.integers(0, 8),
        ),
        st.lists(st.builds(framed, body, st.none(), st.just(0)), min_size=1, max_size=4).map(
            b"".join
        ),
    )


def test_fuzz_the_framing(daemonish: Daemonish) -> None:
    @FUZZ
    @given(payload=frames())
    def check(payload: bytes) -> None:
        before = daemonish.snapshot()
        replies = all_replies(daemonish.path, payload)
        for reply in replies:
            assert_well_formed(reply)
            if not reply["ok"]:
                assert daemonish.snapshot() == before or any(r["ok"] for r in replies)
        assert daemonish.server._thread is not None and daemonish.server._thread.is_alive()

    check()
    still_serving(daemonish)


def all_replies(path: Path, payload: bytes) -> list[dict[str, Any]]:
    """Send a byte stream, half-close, read every reply frame until the server closes."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(str(path))
        try:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    replies = []
    while data:
        assert len(data) >= 4
        (n,) = struct.unpack(">I", data[:4])
        assert len(data) >= 4 + n, "a reply frame was cut short"
        replies.append(json.loads(data[4 : 4 + n]))
        data = data[4 + n :]
    return replies


JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELD_VALUES = {
    "card": st.sampled_from(["4242", "12:345", "w34:1:2", "4" * 64, "256:1", "", " 7 "]),
    "pin": st.sampled_from(["123", "12345678901234", "12a4", "١٢٣٤"]),  # never a valid PIN: Argon2
    "valid_until": st.one_of(
        st.floats(), st.sampled_from([NOW, 1e300, 253402300800.0, -1.0, 4_102_444_800.0])
    ),
    "expires_at": st.floats(),
    "templates": st.lists(
        st.one_of(
            st.just(template()),
            st.text(max_size=30),
            st.binary(max_size=30).map(lambda b: base64.b64encode(b).decode()),
        ),
        max_size=3,
    ),
    "space": st.sampled_from([SPACE, "other", "", "a b"]),
    "name": st.text(max_size=30),
    "birth_year": st.integers(),
    "minor": JSON_SCALARS,
    "door": st.sampled_from(["main", "side", "", "MAIN"]),
    "seconds": st.floats(),
    "limit": st.integers(),
    "person": st.sampled_from(["p-0123456789abcdef", "p-", "x"]),
    "show_names": JSON_SCALARS,
    "remove_credentials": JSON_SCALARS,
    "consent_method": st.text(max_size=10),
    "notice_version": st.text(max_size=10),
    "taken_by": st.text(max_size=10),
    "unit": st.text(max_size=10),
    "lang": st.sampled_from(["zh-CN", "en", "fr"]),
    "kind": st.sampled_from(["access", "copy", "x"]),
    "channel": st.sampled_from(["phone", "email", ""]),
    "recorded_by": st.sampled_from(["admin", "a b", ""]),
    "answered_by": st.sampled_from(["admin", ""]),
    "outcome": st.sampled_from(["done", "refused", "maybe"]),
    "request": st.sampled_from(["r-0123456789ab", "r-", "x"]),
    "received_at": st.floats(),
    "open_only": JSON_SCALARS,
    "timeout_s": st.one_of(st.floats(), st.sampled_from([5.0, 4.9, 120.0, 121.0])),
}
COMMANDS = [
    "status",
    "events",
    "door.open",
    "person.list",
    "person.withdraw",
    "person.delete",
    "enroll",
    "commands",
    "whoami",
    "person.find",
    "person.export",
    "person.update",
    "person.reconsent",
    "person.reconsent_due",
    "request.record",
    "request.list",
    "request.answer",
    "enroll.camera",
]


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    command = draw(st.sampled_from(COMMANDS))
    args: Any
    if draw(st.integers(0, 9)) == 0:
        args = draw(JSON)  # not necessarily an object
    else:
        names = draw(st.lists(st.sampled_from(sorted(FIELD_VALUES)), max_size=5, unique=True))
        args = {name: draw(st.one_of(FIELD_VALUES[name], JSON)) for name in names}
        if draw(st.booleans()):
            args[draw(st.text(max_size=10))] = draw(JSON)
    request = {"v": 1, "id": draw(st.integers(0, 2**31)), "command": command, "args": args}
    return json.dumps(request, allow_nan=True).encode()  # NaN/Infinity included, on purpose


def test_fuzz_every_commands_arguments(daemonish: Daemonish) -> None:
    @FUZZ
    @given(body=requests())
    def check(body: bytes) -> None:
        before = daemonish.snapshot()
        people_before = len(daemonish.control.changed)
        reply = daemonish.request(body)
        if not reply["ok"]:
            assert daemonish.snapshot() == before, reply
            assert len(daemonish.control.changed) == people_before
        assert daemonish.server._thread is not None and daemonish.server._thread.is_alive()

    check()
    still_serving(daemonish)
