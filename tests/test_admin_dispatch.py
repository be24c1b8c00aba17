"""Admin handlers marshalled onto the main loop's thread."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

from facegate.admin import AdminClient, AdminError, AdminServer, Handler, PeerCred, Role, RoleMap
from facegate.admin.dispatch import LoopDispatcher
from facegate.admin.server import AdminCommandError


def test_handlers_run_on_the_loop_thread(tmp_path: Path) -> None:
    loop_thread: list[threading.Thread] = []
    seen: list[threading.Thread] = []
    dispatcher = LoopDispatcher(timeout_s=5.0)

    def status(_args: Any, _peer: PeerCred) -> dict[str, Any]:
        seen.append(threading.current_thread())
        return {"ok": True}

    def refuse(_args: Any, _peer: PeerCred) -> dict[str, Any]:
        raise AdminCommandError("not_found", "no such person")

    handlers = {
        "status": Handler(Role.AUDITOR, dispatcher.on_loop(status)),
        "refuse": Handler(Role.AUDITOR, dispatcher.on_loop(refuse)),
    }
    stop = threading.Event()

    def loop() -> None:
        loop_thread.append(threading.current_thread())
        while not stop.is_set():
            dispatcher.run_pending()
            stop.wait(0.005)

    runner = threading.Thread(target=loop)
    runner.start()
    path = tmp_path / "a.sock"
    try:
        with (
            AdminServer(path, handlers, RoleMap({os.getuid(): Role.AUDITOR})),
            AdminClient(path) as client,
        ):
            assert client.call("status") == {"ok": True}
            with pytest.raises(AdminError) as err:
                client.call("refuse")
            assert err.value.code == "not_found"
    finally:
        stop.set()
        runner.join()
    assert seen == loop_thread


def test_busy_when_the_loop_does_not_turn() -> None:
    dispatcher = LoopDispatcher(timeout_s=0.05)
    with pytest.raises(AdminCommandError) as err:
        dispatcher.call(lambda: 1)
    assert err.value.code == "busy"
    assert dispatcher.run_pending() == 0  # the abandoned call is skipped, not run late


def test_run_pending_is_bounded() -> None:
    dispatcher = LoopDispatcher(timeout_s=5.0, max_per_turn=2)
    results: list[int] = []
    threads = [
        threading.Thread(target=lambda i=i: results.append(dispatcher.call(lambda: i)))
        for i in range(3)
    ]
    for t in threads:
        t.start()
    while dispatcher._queue.qsize() < 3:
        pass
    assert dispatcher.run_pending() == 2
    assert dispatcher.run_pending() == 1
    for t in threads:
        t.join()
    assert sorted(results) == [0, 1, 2]
