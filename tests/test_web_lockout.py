"""The console's login limits survive a restart (issue 18): failures in a row and locks are
kept beside the accounts file, written atomically, bounded, and read back safely."""

from __future__ import annotations

import json
import re
import stat
import warnings
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the console needs starlette (pip install -e .)")
pytest.importorskip("httpx", reason="Starlette's TestClient needs httpx (the dev extra)")

from argon2 import PasswordHasher

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from facegate.web import WebSettings, create_app
from facegate.web.accounts import Accounts
from facegate.web.core import LIMITS_FILE
from facegate.web.security import LoginLimiter
from web_helpers import PASSWORD, StubDaemon

FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def test_counts_and_locks_are_read_back_by_a_new_limiter(tmp_path: Path) -> None:
    state = tmp_path / "web" / LIMITS_FILE
    now = [1_800_000_000.0]

    def limiter() -> LoginLimiter:
        return LoginLimiter(per_address=3, per_user=2, lock_s=60, clock=lambda: now[0], state=state)

    first = limiter()
    assert not first.failed("10.0.0.1", "ada")  # one failure, not yet locked
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert not list(state.parent.glob(".login-limits-*"))  # the temporary file was renamed
    second = limiter()  # a restart: the count is still there, so the next failure locks
    assert second.failed("10.0.0.2", "ada")
    third = limiter()
    assert third.refused("10.0.0.3", "ada") == "locked"
    assert third.refused("10.0.0.1", "bob") is None
    third.failed("10.0.0.1", "bob")  # the 2nd from 10.0.0.1 (the 1st was before a restart)
    assert limiter().refused("10.0.0.1", "carol") is None
    third.failed("10.0.0.1", "carol")
    assert limiter().refused("10.0.0.1", "dave") == "rate"  # 3 from one address, kept
    now[0] += 61
    assert limiter().refused("10.0.0.3", "ada") is None  # the lock ran out
    third.succeeded("bob")
    assert "bob" not in json.loads(state.read_text())["users"]


def test_the_state_file_is_bounded_and_read_defensively(tmp_path: Path) -> None:
    state = tmp_path / LIMITS_FILE
    now = [1_800_000_000.0]
    spray = LoginLimiter(per_address=10**6, per_user=5, clock=lambda: now[0], state=state)
    for i in range(LoginLimiter.MAX_SAVED + 50):
        spray.failed(f"10.0.{i // 250}.{i % 250}", f"made-up-{i}")
    saved = json.loads(state.read_text())
    assert len(saved["users"]) == LoginLimiter.MAX_SAVED == len(saved["addresses"])
    assert f"made-up-{LoginLimiter.MAX_SAVED + 49}" in saved["users"]  # the newest kept
    # A lock far in the future (the clock went back, or the file was edited) lasts lock_s.
    state.write_text(json.dumps({"version": 1, "users": {"ada": [0, 9e9]}, "addresses": {}}))
    clamped = LoginLimiter(lock_s=900, clock=lambda: now[0], state=state)
    assert clamped.refused("a", "ada") == "locked"
    now[0] += 901
    assert clamped.refused("a", "ada") is None
    for damaged in ("{not json", '{"users": 3, "addresses": {}}', '{"users": {"x": 5}}', "[]"):
        state.write_text(damaged)
        fresh = LoginLimiter(clock=lambda: now[0], state=state)  # starts afresh, no traceback
        assert fresh.refused("a", "x") is None
        fresh.failed("a", "x")
        assert json.loads(state.read_text())["users"]["x"] == [1, 0.0]


def test_a_locked_account_stays_locked_when_the_console_restarts(tmp_path: Path) -> None:
    daemon = StubDaemon()
    server = daemon.serve(tmp_path / "admin.sock")
    accounts = Accounts(tmp_path / "web" / "accounts.json", hasher=FAST)
    accounts.add("ada", "admin", PASSWORD)
    settings = WebSettings(socket=tmp_path / "admin.sock", accounts=accounts.path, lang="en")

    def attempt(app: object, password: str) -> str:
        c = TestClient(app, base_url="https://testserver", follow_redirects=False)
        token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text)
        assert token
        form = {"csrf": token.group(1), "username": "ada", "password": password}
        reply = c.post("/login", data=form)
        return "in" if reply.status_code == 303 else reply.text

    try:
        before = create_app(settings, hasher=FAST)
        for _ in range(5):
            assert "Wrong user name" in attempt(before, "wrong password!")
        assert "locked" in attempt(before, PASSWORD)
        before.state.console.daemon.close()
        after = create_app(settings, hasher=FAST)  # the console restarted
        assert "locked" in attempt(after, PASSWORD)
        assert (accounts.path.parent / LIMITS_FILE).is_file()
        after.state.console.daemon.close()
    finally:
        server.close()


def test_only_real_accounts_are_written_to_the_state_file(tmp_path: Path) -> None:
    """A password typed into the user-name field, or a sprayed made-up name, is counted in
    memory like any name but never written to disk (it would sit there in plain text, and a
    spray of made-up names would push real accounts' counts out of the bounded file)."""
    daemon = StubDaemon()
    server = daemon.serve(tmp_path / "admin.sock")
    accounts = Accounts(tmp_path / "web" / "accounts.json", hasher=FAST)
    accounts.add("ada", "admin", PASSWORD)
    settings = WebSettings(socket=tmp_path / "admin.sock", accounts=accounts.path, lang="en")
    try:
        app = create_app(settings, hasher=FAST)
        c = TestClient(app, base_url="https://testserver", follow_redirects=False)
        for name in ("ada", "S3cret-typed-in-the-name-field"):
            token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text)
            assert token
            form = {"csrf": token.group(1), "username": name, "password": "wrong password!"}
            assert c.post("/login", data=form).status_code != 303
        text = (accounts.path.parent / LIMITS_FILE).read_text()
        assert "S3cret" not in text
        assert list(json.loads(text)["users"]) == ["ada"]
        app.state.console.daemon.close()
    finally:
        server.close()


def test_a_spray_of_made_up_names_does_not_push_an_account_out_of_the_file(
    tmp_path: Path,
) -> None:
    state = tmp_path / LIMITS_FILE
    now = [1_800_000_000.0]

    def limiter() -> LoginLimiter:
        return LoginLimiter(
            per_address=10**6,
            per_user=2,
            clock=lambda: now[0],
            state=state,
            known={"ada"}.__contains__,
        )

    first = limiter()
    assert not first.failed("10.0.0.1", "ada")
    for i in range(LoginLimiter.MAX_SAVED + 50):
        first.failed("10.0.0.2", f"made-up-{i}")
    assert limiter().failed("10.0.0.1", "ada"), "the restart forgot ada's first failure"


def test_a_spray_of_made_up_names_does_not_push_a_lock_out_of_memory() -> None:
    """More than 10,000 made-up names: the oldest unlocked ones go, a locked account stays
    locked."""
    now = [1000.0]
    limiter = LoginLimiter(per_address=10**6, per_user=2, lock_s=600, clock=lambda: now[0])
    assert not limiter.failed("10.0.0.1", "alice") and limiter.failed("10.0.0.1", "alice")
    assert limiter.refused("10.0.0.1", "alice") == "locked"
    for i in range(10_050):
        limiter.failed("10.0.0.2", f"nobody-{i}")
    assert limiter.refused("10.0.0.3", "alice") == "locked"
