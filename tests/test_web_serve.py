"""The console served for real (uvicorn, TLS): 20 concurrent users, its accounts file, TOTP,
the certificate, and the ``facegate web`` commands (issue 18)."""

from __future__ import annotations

import re
import stat
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the console needs starlette (pip install -e .)")
httpx = pytest.importorskip("httpx", reason="the dev extra's httpx")

from argon2 import PasswordHasher  # noqa: E402

from facegate.cli import main  # noqa: E402
from facegate.web import WebSettings, create_app  # noqa: E402
from facegate.web.accounts import AccountError, Accounts, totp_ok  # noqa: E402
from facegate.web.security import LoginLimiter  # noqa: E402
from facegate.web.tls import make_self_signed  # noqa: E402
from web_helpers import PASSWORD, StubDaemon, serve_https  # noqa: E402

FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
USERS = 20


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, StubDaemon]]:

    daemon = StubDaemon()
    for i in range(50):
        daemon.people[f"p-{i:016x}"] = {"templates": 1, "name": f"N{i}", "unit": "1"}
    server_sock = daemon.serve(tmp_path / "admin.sock")
    accounts = Accounts(tmp_path / "accounts.json", hasher=FAST)
    for i in range(USERS):
        accounts.add(f"user{i}", "operator", PASSWORD)
    cert, key = make_self_signed(tmp_path / "cert.pem", tmp_path / "key.pem", ["127.0.0.1"])
    app = create_app(
        WebSettings(socket=tmp_path / "admin.sock", accounts=accounts.path, lang="en"),
        hasher=FAST,
    )
    with serve_https(app, cert, key) as url:
        yield url, daemon
    app.state.console.daemon.close()
    server_sock.close()


def _session(url: str, user: str) -> list[int]:
    statuses = []
    with httpx.Client(base_url=url, verify=False, follow_redirects=False, timeout=30) as c:
        page = c.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token
        reply = c.post(
            "/login", data={"csrf": token.group(1), "username": user, "password": PASSWORD}
        )
        statuses.append(reply.status_code)
        for _ in range(3):
            for path in ("/", "/api/live", "/events", "/people", "/compliance"):
                statuses.append(c.get(path).status_code)
    return statuses


def test_twenty_concurrent_users_without_errors(served) -> None:  # type: ignore[no-untyped-def]
    url, daemon = served
    with ThreadPoolExecutor(USERS) as pool:
        results = list(pool.map(lambda i: _session(url, f"user{i}"), range(USERS)))
    for statuses in results:
        assert statuses[0] == 303 and set(statuses[1:]) == {200}, statuses
    # Cached: 20 browsers polling cost the daemon far fewer status calls than page views.
    assert daemon.calls.count("status") < USERS * 3


def test_https_answers_carry_hsts(served) -> None:  # type: ignore[no-untyped-def]
    url, _daemon = served
    reply = httpx.get(f"{url}/login", verify=False)
    assert reply.headers["strict-transport-security"] == "max-age=31536000"


def test_a_chunked_upload_is_cut_off_at_the_limit(served) -> None:  # type: ignore[no-untyped-def]
    url, _daemon = served

    def body() -> Iterator[bytes]:  # a well-formed start, then 20 MiB of one photo
        yield (
            b'--xyz\r\nContent-Disposition: form-data; name="photos"; filename="a.jpg"\r\n'
            b"Content-Type: image/jpeg\r\n\r\n"
        )
        for _ in range(20):
            yield b"x" * (1024 * 1024)

    with httpx.Client(base_url=url, verify=False, follow_redirects=False, timeout=30) as c:
        token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text)
        assert token
        c.post("/login", data={"csrf": token.group(1), "username": "user0", "password": PASSWORD})
        headers = {"content-type": "multipart/form-data; boundary=xyz"}
        reply = c.post("/people/new", content=body(), headers=headers)
        assert reply.status_code == 413
        assert c.get("/").status_code == 200  # the console goes on


def test_accounts_file(tmp_path: Path) -> None:
    path = tmp_path / "accounts.json"
    accounts = Accounts(path)  # the console's own Argon2id parameters
    account = accounts.add("ada", "admin", PASSWORD)
    assert account.password_hash.startswith("$argon2id$") and "m=65536" in account.password_hash
    assert re.fullmatch(r"w-[a-z]{16}", account.pseudonym)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "ada" in path.read_text() and PASSWORD not in path.read_text()
    again = Accounts(path, hasher=FAST)
    assert again.verify("ada", PASSWORD) is not None
    assert again.verify("ada", "wrong password!") is None
    assert again.verify("nobody", PASSWORD) is None
    for bad in (("Ada", "admin", PASSWORD), ("bob", "root", PASSWORD), ("bob", "admin", "short")):
        with pytest.raises(AccountError):
            again.add(*bad)
    with pytest.raises(AccountError, match="already"):
        again.add("ada", "auditor", PASSWORD)
    path.chmod(0o644)
    with pytest.raises(AccountError, match="read by others"):
        Accounts(path)
    path.chmod(0o600)
    path.write_text('{"accounts": [{"name": "x"}]}')
    with pytest.raises(AccountError, match="damaged"):
        Accounts(path)


def test_totp_and_the_limiter() -> None:
    import pyotp

    secret = pyotp.random_base32()
    assert totp_ok(secret, pyotp.TOTP(secret).now())
    assert not totp_ok(secret, "000000") or pyotp.TOTP(secret).now() == "000000"
    assert not totp_ok(secret, "12ab56")
    now = [0.0]
    limiter = LoginLimiter(per_address=3, per_user=2, lock_s=60, clock=lambda: now[0])
    assert limiter.refused("a", "u") is None
    assert not limiter.failed("a", "u") and limiter.failed("a", "u")  # the 2nd locks
    assert limiter.refused("b", "u") == "locked"
    now[0] = 61
    assert limiter.refused("b", "u") is None
    limiter.failed("a", "v")
    assert limiter.refused("a", "w") == "rate"  # 3 failures from one address


def test_the_web_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    accounts = tmp_path / "a.json"
    import io
    import sys

    stdin = sys.stdin
    try:
        sys.stdin = io.StringIO(PASSWORD + "\n")
        args = ["web", "user", "add", "ada", "--role", "operator", "--password-stdin"]
        assert main([*args, "--accounts", str(accounts)]) == 0
    finally:
        sys.stdin = stdin
    out = capsys.readouterr().out
    assert "audit records name it w-" in out
    assert main(["web", "user", "list", "--accounts", str(accounts)]) == 0
    assert "operator" in capsys.readouterr().out
    assert main(["web", "user", "role", "ada", "--role", "admin", "--accounts", str(accounts)]) == 0
    assert main(["web", "user", "remove", "bob", "--accounts", str(accounts)]) == 2
    assert "no user 'bob'" in capsys.readouterr().err
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    assert main(["web", "cert", "--cert", str(cert), "--key", str(key), "--name", "gate.lan"]) == 0
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert main(["web", "cert", "--cert", str(cert), "--key", str(key), "--name", "x"]) == 2
    assert main(["web", "serve", "--cert", str(tmp_path / "none.pem")]) == 2
    assert "facegate web cert" in capsys.readouterr().err


def test_the_console_commands_open_no_network_socket(tmp_path: Path, models_dir: Path) -> None:
    """`facegate web cert` and `facegate web user list` make no connection (serving listens on
    its address by design and is not a command that returns)."""
    from test_no_egress import STRACE, _traced

    if STRACE is None:
        pytest.skip("strace is not installed (apt install strace; scripts/dev does)")
    cert = ["web", "cert", "--cert", str(tmp_path / "c.pem"), "--key", str(tmp_path / "k.pem")]
    assert _traced(tmp_path, models_dir, *cert, "--name", "gate.lan") == []
    users = ["web", "user", "list", "--accounts", str(tmp_path / "a.json")]
    assert _traced(tmp_path, models_dir, *users) == []
