"""The web console against a stand-in daemon on a real admin socket: sessions, CSRF, roles,
bad input, uploads, a daemon that is down (issue 18)."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the console needs starlette (pip install -e .)")
pytest.importorskip("httpx", reason="Starlette's TestClient needs httpx (the dev extra)")

from argon2 import PasswordHasher
from starlette.routing import Route

with warnings.catch_warnings():  # Starlette 1.x prefers httpx2; httpx works the same here
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from facegate.web import WebSettings, create_app
from facegate.web.accounts import Accounts
from facegate.web.security import COOKIE
from web_helpers import PASSWORD, StubDaemon

PERSON = "p-00000000000000aa"
# Argon2id with small costs: the tests log in dozens of times on a shared 2-core machine (the
# console's own parameters are tested in test_web_accounts.py).
FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def stub(tmp_path: Path) -> Iterator[tuple[StubDaemon, Path]]:
    daemon = StubDaemon()
    daemon.people[PERSON] = {"templates": 1, "name": "Zhang San", "unit": "3-101"}
    socket = tmp_path / "admin.sock"
    server = daemon.serve(socket)
    yield daemon, socket
    server.close()


@pytest.fixture
def accounts_file(tmp_path: Path) -> Path:
    path = tmp_path / "web" / "accounts.json"
    accounts = Accounts(path, hasher=FAST)
    for name, role in (("ada", "admin"), ("oscar", "operator"), ("audrey", "auditor")):
        accounts.add(name, role, PASSWORD)
    return path


@pytest.fixture
def app(stub, accounts_file: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    _daemon, socket = stub
    app = create_app(WebSettings(socket=socket, accounts=accounts_file, lang="en"), hasher=FAST)
    yield app
    app.state.console.daemon.close()  # the stand-in's server then stops at once


def client(app) -> TestClient:  # type: ignore[no-untyped-def]
    return TestClient(app, base_url="https://testserver", follow_redirects=False)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF field in the page"
    return match.group(1)


def login(c: TestClient, user: str, password: str = PASSWORD) -> str:
    token = csrf_of(c.get("/login").text)
    reply = c.post("/login", data={"csrf": token, "username": user, "password": password})
    assert reply.status_code == 303, reply.text
    return csrf_of(c.get("/").text)


def test_every_route_without_a_session_is_refused(app) -> None:  # type: ignore[no-untyped-def]
    c = client(app)
    checked = 0
    for route in app.routes:
        if not isinstance(route, Route) or route.path in ("/login",):
            continue
        path = route.path.format(person=PERSON, door="main", rid="x", which="pia")
        for method in sorted(route.methods or ()):
            if method == "HEAD":
                continue
            reply = c.request(method, path, data={"csrf": "x"})
            assert reply.status_code in (303, 401), (method, path, reply.status_code)
            if reply.status_code == 303:
                assert reply.headers["location"] == "/login"
            assert "Zhang" not in reply.text and PERSON not in reply.text
            checked += 1
    assert checked >= 15


def test_login_rotates_the_session_cookie_and_sets_safe_attributes(app) -> None:  # type: ignore[no-untyped-def]
    c = client(app)
    page = c.get("/login")
    before = c.cookies.get(COOKIE)
    assert before
    cookie = page.headers["set-cookie"].lower()
    for attribute in ("httponly", "secure", "samesite=strict", "path=/"):
        assert attribute in cookie
    reply = c.post(
        "/login", data={"csrf": csrf_of(page.text), "username": "ada", "password": PASSWORD}
    )
    assert reply.status_code == 303
    after = c.cookies.get(COOKIE)
    assert after and after != before
    # The pre-login id is worth nothing now.
    stale = client(app)
    stale.cookies.set(COOKIE, before)
    assert stale.get("/").status_code == 303
    assert c.get("/").status_code == 200


def test_posts_without_the_csrf_token_are_refused(stub, app) -> None:  # type: ignore[no-untyped-def]
    daemon, _socket = stub
    c = client(app)
    token = login(c, "ada")
    for path in (
        f"/people/{PERSON}/withdraw",
        f"/people/{PERSON}/delete",
        "/doors/main/open",
        "/audit/verify",
        "/logout",
    ):
        assert c.post(path, data={"confirm": PERSON}).status_code == 403, path
        assert c.post(path, data={"csrf": token + "x", "confirm": PERSON}).status_code == 403
    assert "person.withdraw" not in daemon.calls and "person.delete" not in daemon.calls
    # A form posted from another site is refused even with a token.
    reply = c.post(
        f"/people/{PERSON}/withdraw",
        data={"csrf": token},
        headers={"origin": "https://evil.example"},
    )
    assert reply.status_code == 403
    assert PERSON in daemon.people and daemon.people[PERSON]["templates"] == 1
    # A login form without the token is refused too.
    fresh = client(app)
    fresh.get("/login")
    reply = fresh.post("/login", data={"username": "ada", "password": PASSWORD})
    assert reply.status_code == 403 and fresh.get("/").status_code == 303


def test_roles(stub, app) -> None:  # type: ignore[no-untyped-def]
    daemon, _socket = stub
    auditor = client(app)
    login(auditor, "audrey")
    for path in ("/people", f"/people/{PERSON}", "/people/new"):
        assert auditor.get(path).status_code == 403, path
    assert "nav-people" not in auditor.get("/").text
    assert auditor.get("/events").status_code == 200
    assert auditor.get("/compliance").status_code == 200

    operator = client(app)
    token = login(operator, "oscar")
    listing = operator.get("/people").text
    assert PERSON in listing and "Zhang San" not in listing  # names: admin only
    assert operator.get("/people?q=Zhang").text.count(PERSON) == 0
    reply = operator.post(f"/people/{PERSON}/delete", data={"csrf": token, "confirm": PERSON})
    assert reply.status_code == 403
    assert "person.delete" not in daemon.calls and PERSON in daemon.people
    assert any(a["action"] == "person.delete" and a["outcome"] == "forbidden" for a in daemon.audit)

    admin = client(app)
    token = login(admin, "ada")
    assert "Zhang San" in admin.get("/people?q=zhang").text
    reply = admin.post(f"/people/{PERSON}/delete", data={"csrf": token, "confirm": "p-wrong"})
    assert reply.status_code == 303 and PERSON in daemon.people  # not confirmed: nothing done
    reply = admin.post(f"/people/{PERSON}/delete", data={"csrf": token, "confirm": PERSON})
    assert reply.status_code == 200 and PERSON not in daemon.people
    rid = re.search(r'href="/receipts/([^"]+)"', reply.text)
    assert rid
    download = admin.get(f"/receipts/{rid.group(1)}")
    assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
    assert download.json()["receipt"]["kind"] == "deletion"
    assert operator.get(f"/receipts/{rid.group(1)}").status_code == 404  # not their session


def test_audit_records_name_the_pseudonym_never_the_user(stub, app, accounts_file) -> None:  # type: ignore[no-untyped-def]
    daemon, _socket = stub
    c = client(app)
    token = login(c, "oscar")
    c.post(f"/people/{PERSON}/withdraw", data={"csrf": token})
    pseudonym = Accounts(accounts_file).get("oscar").pseudonym  # type: ignore[union-attr]
    actions = [(a["actor"], a["action"], a["outcome"]) for a in daemon.audit]
    assert (pseudonym, "web.login", "ok") in actions
    assert (pseudonym, "person.withdraw", "ok") in actions
    c.get("/people?q=p-0000")
    c.get(f"/people/{PERSON}")
    actions = [(a["actor"], a["action"], a["target"]) for a in daemon.audit]
    assert (pseudonym, "person.find", None) in actions  # reading personal data is audited
    assert (pseudonym, "person.view", PERSON) in actions
    assert "oscar" not in repr(daemon.audit)


def test_login_failures_lock_the_account(stub, app) -> None:  # type: ignore[no-untyped-def]
    daemon, _socket = stub
    c = client(app)
    for _ in range(5):
        token = csrf_of(c.get("/login").text)
        reply = c.post("/login", data={"csrf": token, "username": "ada", "password": "wrong-pw!"})
        assert reply.status_code == 401 and "Wrong user name" in reply.text
    token = csrf_of(c.get("/login").text)
    reply = c.post("/login", data={"csrf": token, "username": "ada", "password": PASSWORD})
    assert reply.status_code == 429 and "locked" in reply.text
    assert any(a["outcome"] == "locked" for a in daemon.audit)


def test_bad_input_gets_a_clear_message(stub, app) -> None:  # type: ignore[no-untyped-def]
    daemon, _socket = stub
    c = client(app)
    token = login(c, "oscar")
    reply = c.post("/people/new", data={"csrf": token, "consent_method": "form 1"})
    assert reply.status_code == 400 and "Please check" in reply.text
    assert "enroll" not in daemon.calls
    photo = ("a.jpg", b"not a picture", "image/jpeg")
    reply = c.post(
        "/people/new",
        data={
            "csrf": token,
            "ack": "yes",
            "consent_method": "f",
            "notice_version": "v",
            "taken_by": "x",
            "birth_year": "nineteen",
        },
        files={"photos": photo},
    )
    assert reply.status_code == 400 and "birth_year" in reply.text
    assert c.get("/events?date=2026-13-45").status_code == 200
    assert "YYYY-MM-DD" in c.get("/events?date=yesterday").text
    assert c.get("/people/not-a-person").status_code == 404
    assert "enroll" not in daemon.calls


def test_an_oversized_upload_is_refused_before_it_is_read(stub, app) -> None:  # type: ignore[no-untyped-def]
    c = client(app)
    token = login(c, "oscar")
    big = b"\xff" * (14 * 1024 * 1024)
    reply = c.post("/people/new", data={"csrf": token}, files={"photos": ("a.jpg", big)})
    assert reply.status_code == 413 and "not read" in reply.text


def test_the_console_answers_when_the_daemon_is_down(accounts_file, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from facegate.web.gateway import Daemon

    gone = tmp_path / "stopped.sock"  # no daemon listens here
    app = create_app(
        WebSettings(socket=gone, accounts=accounts_file, lang="en"),
        daemon=Daemon(gone, timeout_s=1.0),
        hasher=FAST,
    )
    c = client(app)
    token = login(c, "oscar")
    page = c.get("/")
    assert page.status_code == 200
    assert '<div id="daemon-down" class="banner" >' in page.text  # shown, not hidden
    assert c.get("/api/live").json()["daemon"] == "down"
    people = c.get("/people")
    assert people.status_code == 200 and "not answering" in people.text
    reply = c.post(f"/people/{PERSON}/withdraw", data={"csrf": token})
    assert reply.status_code == 303
    assert "not answering" in c.get(f"/people/{PERSON}").text


def test_security_headers_and_languages(app) -> None:  # type: ignore[no-untyped-def]
    c = client(app)
    reply = c.get("/login")
    assert reply.headers["strict-transport-security"].startswith("max-age=")
    assert "default-src 'none'" in reply.headers["content-security-policy"]
    assert reply.headers["x-frame-options"] == "DENY"
    assert "Log in" in reply.text
    token = csrf_of(reply.text)
    c.post("/lang", data={"csrf": token, "lang": "zh-CN", "back": "/login"})
    assert "登录" in c.get("/login").text


def test_dashboard_events_and_chart(stub, app) -> None:  # type: ignore[no-untyped-def]
    import time

    daemon, _socket = stub
    now = time.time()
    daemon.events += [
        {
            "ts": now - 5,
            "door": "main",
            "method": "face",
            "result": "granted",
            "subject": PERSON,
            "score": 0.8,
            "reason": None,
        },
        {
            "ts": now - 3,
            "door": "main",
            "method": "pin",
            "result": "denied",
            "subject": None,
            "score": None,
            "reason": "bad_pin",
        },
    ]
    c = client(app)
    login(c, "audrey")
    live = c.get("/api/live").json()
    assert live["today"] == {"granted": 1, "denied": 1}
    assert live["alarms"] == ["main: door_held"]  # a door's alarms, not only the health ones
    assert [e["method"] for e in live["events"]] == ["pin", "face"]  # newest first
    dashboard = c.get("/").text
    assert "main · face" in dashboard and "down: camera lost" in dashboard
    assert "main · card" in dashboard
    page = c.get("/events?result=granted").text
    assert "<svg" in page and 'class="granted"' in page and "bad_pin" not in page
    assert "bad_pin" in c.get("/events?method=pin").text


def test_totp_is_asked_when_enabled(accounts_file, app) -> None:  # type: ignore[no-untyped-def]
    import pyotp

    secret = pyotp.random_base32()
    app.state.console.accounts.set_totp("ada", secret)
    c = client(app)
    token = csrf_of(c.get("/login").text)
    reply = c.post("/login", data={"csrf": token, "username": "ada", "password": PASSWORD})
    assert reply.status_code == 401  # the password alone is not enough
    token = csrf_of(c.get("/login").text)
    code = pyotp.TOTP(secret).now()
    data = {"csrf": token, "username": "ada", "password": PASSWORD, "totp": code}
    assert c.post("/login", data=data).status_code == 303
    assert c.get("/").status_code == 200


def test_sessions_expire() -> None:
    from facegate.web.security import Sessions

    now = [0.0]
    sessions = Sessions(idle_s=60, max_age_s=300, clock=lambda: now[0])
    session = sessions.new()
    now[0] = 59
    assert sessions.get(session.sid) is session  # activity: idle again from 59
    now[0] = 118
    assert sessions.get(session.sid) is session
    now[0] = 179
    assert sessions.get(session.sid) is None  # 61 s idle
    # Polling does not keep a session alive; a page view does.
    polled = sessions.new()  # at 179
    for t in (200, 220, 238):
        now[0] = t
        assert sessions.get(polled.sid, touch=False) is polled
    now[0] = 240
    assert sessions.get(polled.sid, touch=False) is None
    # And none lives past max_age_s, however active.
    busy = sessions.new()  # at 240
    for t in range(280, 540, 40):
        now[0] = t
        assert sessions.get(busy.sid) is busy
    now[0] = 541
    assert sessions.get(busy.sid) is None


def test_an_upload_is_never_spooled_to_disk(stub, app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Starlette spools an upload past 1 MiB to a temporary file; the console's spool is larger
    than any body it accepts, so a 3 MiB photo stays in memory (a temporary file would fail)."""
    import tempfile

    daemon, _socket = stub
    c = client(app)
    token = login(c, "oscar")

    def no_disk(*_a: object, **_k: object) -> None:
        raise AssertionError("an upload was written to a temporary file")

    monkeypatch.setattr(tempfile, "TemporaryFile", no_disk)
    monkeypatch.setattr(tempfile, "NamedTemporaryFile", no_disk)
    photo = ("a.jpg", b"\xff\xd8" + b"\x00" * (3 * 1024 * 1024), "image/jpeg")
    data = {"csrf": token, "ack": "yes", "consent_method": "f", "notice_version": "v",
            "taken_by": "x", "consent_ref": "F-1"}  # fmt: skip
    reply = c.post("/people/new", data=data, files={"photos": photo})
    assert reply.status_code == 400, reply.text  # a clear refusal (no configuration here)
    assert "--config" in reply.text and "enroll" not in daemon.calls


def test_export_correct_and_find_where_the_daemon_offers_them(
    accounts_file: Path, tmp_path: Path
) -> None:
    daemon = StubDaemon(rights=True)
    daemon.people[PERSON] = {"templates": 1, "name": "Zhang San", "unit": "3-101"}
    daemon.people["p-00000000000000bb"] = {"templates": 1, "name": "Li Si", "unit": "4-202"}
    server = daemon.serve(tmp_path / "rights.sock")
    app = create_app(
        WebSettings(socket=tmp_path / "rights.sock", accounts=accounts_file, lang="en"),
        hasher=FAST,
    )
    try:
        c = client(app)
        token = login(c, "ada")
        found = c.get("/people?q=3-101").text
        assert PERSON in found and "p-00000000000000bb" not in found
        assert "person.find" in daemon.calls
        page = c.get(f"/people/{PERSON}").text
        assert 'id="export"' in page and 'id="correct"' in page and "Needs daemon" not in page
        reply = c.post(f"/people/{PERSON}/export", data={"csrf": token})
        assert reply.status_code == 200 and f"export of {PERSON} (en)" in reply.text
        rid = re.search(r'href="/receipts/([^"]+)"', reply.text)
        assert rid and c.get(f"/receipts/{rid.group(1)}").json()["signature"] == "sig"
        reply = c.post(f"/people/{PERSON}/correct", data={"csrf": token, "birth_year": "1890"})
        assert "birth_year" in c.get(reply.headers["location"]).text  # refused, clearly
        reply = c.post(f"/people/{PERSON}/correct", data={"csrf": token, "unit": "3-102"})
        assert "was corrected" in c.get(reply.headers["location"]).text
        assert daemon.people[PERSON]["unit"] == "3-102"
        assert {(a["action"], a["outcome"]) for a in daemon.audit} >= {
            ("person.export", "ok"),
            ("person.update", "ok"),
        }
        operator = client(app)
        op_token = login(operator, "oscar")
        assert 'id="export"' not in operator.get(f"/people/{PERSON}").text
        assert operator.post(f"/people/{PERSON}/export", data={"csrf": op_token}).status_code == 403
    finally:
        app.state.console.daemon.close()
        server.close()


def test_a_daemon_without_the_rights_commands_says_so(stub, app) -> None:  # type: ignore[no-untyped-def]
    c = client(app)
    token = login(c, "ada")
    page = c.get(f"/people/{PERSON}").text
    assert "Needs daemon support" in page and 'id="export"' not in page
    reply = c.post(f"/people/{PERSON}/export", data={"csrf": token})
    assert "Needs daemon support" in c.get(reply.headers["location"]).text
