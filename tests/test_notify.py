"""sd_notify against real AF_UNIX datagram sockets (a path and an abstract name)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from facegate.service import notify
from facegate.service.notify import Notifier, notifier_from_env, watchdog_interval


@pytest.fixture()
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = tmp_path / "notify.sock"
    sock.bind(str(path))
    sock.settimeout(2.0)
    yield sock, str(path)
    sock.close()


@pytest.fixture()
def abstract() -> Iterator[tuple[socket.socket, str]]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = f"facegate-test-{os.getpid()}-{id(sock)}"
    sock.bind(b"\0" + name.encode())
    sock.settimeout(2.0)
    yield sock, "@" + name
    sock.close()


def test_exact_datagrams_on_a_path(listener: tuple[socket.socket, str]) -> None:
    sock, name = listener
    n = Notifier(name)
    assert n.enabled
    assert n.ready("gate up: 2 doors")
    assert sock.recv(4096) == b"READY=1\nSTATUS=gate up: 2 doors"
    assert n.status("watching\n door main")
    assert sock.recv(4096) == b"STATUS=watching door main"
    assert n.watchdog()
    assert sock.recv(4096) == b"WATCHDOG=1"
    assert n.watchdog_trigger()
    assert sock.recv(4096) == b"WATCHDOG=trigger"
    assert n.stopping()
    assert sock.recv(4096) == b"STOPPING=1"


def test_abstract_namespace(abstract: tuple[socket.socket, str]) -> None:
    sock, name = abstract
    assert Notifier(name).ready()
    assert sock.recv(4096) == b"READY=1"


def test_module_functions_use_the_environment(
    listener: tuple[socket.socket, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sock, name = listener
    monkeypatch.setenv("NOTIFY_SOCKET", name)
    assert notify.watchdog()
    assert sock.recv(4096) == b"WATCHDOG=1"
    assert notify.status("x")
    assert sock.recv(4096) == b"STATUS=x"
    assert notify.stopping("bye")
    assert sock.recv(4096) == b"STOPPING=1\nSTATUS=bye"
    assert notify.ready()
    assert sock.recv(4096) == b"READY=1"


def test_no_op_outside_systemd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert not notifier_from_env().enabled
    assert notify.ready() is False
    assert notify.watchdog() is False


def test_a_missing_socket_never_raises(tmp_path: Path) -> None:
    n = Notifier(str(tmp_path / "gone.sock"))
    assert n.watchdog() is False
    assert n.watchdog() is False


def test_watchdog_interval() -> None:
    assert watchdog_interval({}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "20000000"}) == 20.0
    mine = str(os.getpid())
    assert watchdog_interval({"WATCHDOG_USEC": "3000000", "WATCHDOG_PID": mine}) == 3.0
    assert watchdog_interval({"WATCHDOG_USEC": "3000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "junk"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "0"}) is None
