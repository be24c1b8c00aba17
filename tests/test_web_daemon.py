"""The daemon's commands for the web console, on a running daemon (issue 18): ``web.audit``
writes a signed record naming the console user by pseudonym only; ``compliance.check`` and
``compliance.documents`` give the live checklist and drafts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from facegate.admin import AdminClient, AdminError
from facegate.audit.log import audit_files
from facegate.audit.signing import audit_folder
from test_admin_daemon import daemon  # noqa: F401  (the running-daemon fixture)


def test_web_audit_and_compliance_commands(daemon) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    cfg_path, app, _factory = daemon
    with AdminClient(cfg_path.parent / "admin.sock") as client:
        reply = client.call(
            "web.audit",
            actor="w-abcdefghijklmnop",
            role="operator",
            action="person.withdraw",
            outcome="ok",
            target="p-00000000000000aa",
        )
        assert reply == {"recorded": True}
        for bad in ({"actor": "ada"}, {"target": "Zhang San"}, {"outcome": "ok\nforged"}):
            args = {"action": "web.login", "outcome": "ok", **bad}
            with pytest.raises(AdminError, match="bad_args"):
                client.call("web.audit", **args)
        check = client.call("compliance.check")
        assert check["rows"] and {r["status"] for r in check["rows"]} <= {"PASS", "WARN", "FAIL"}
        assert any(r["rule"] == "consent" for r in check["rows"])
        docs = client.call("compliance.documents")
        assert "TO FILL" in docs["pia"] and docs["filing"] and docs["date"]
    records = [
        json.loads(line)
        for path in audit_files(audit_folder(app.cfg.store.state_dir))
        for line in path.read_text().splitlines()
        if line.strip()
    ]
    web = [r for r in records if r.get("kind") == "web"]
    assert len(web) == 1, web
    assert web[0]["actor"] == "w-abcdefghijklmnop" and web[0]["action"] == "person.withdraw"
    assert "p-00000000000000aa" not in json.dumps(web[0])  # the subject is a keyed hash


def test_the_console_against_the_real_daemon_rights_commands(daemon, tmp_path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """Find (blind index), signed export and correction through the console, with the real
    daemon's argument shapes (the other console tests use a stand-in)."""
    import re
    import warnings

    from argon2 import PasswordHasher

    from facegate.web import WebSettings, create_app
    from facegate.web.accounts import Accounts

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    cfg_path, _app, _factory = daemon
    socket = cfg_path.parent / "admin.sock"
    with AdminClient(socket) as client:
        person = client.call("enroll", pin="246813", name="Wang Wu", unit="5-501")["person"]
    fast = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    accounts = Accounts(tmp_path / "web.json", hasher=fast)
    accounts.add("ada", "admin", "correct horse battery")
    web = create_app(WebSettings(socket=socket, accounts=accounts.path, lang="en"), hasher=fast)
    c = TestClient(web, base_url="https://testserver", follow_redirects=False)
    try:
        token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text)
        assert token
        login = {"csrf": token.group(1), "username": "ada", "password": "correct horse battery"}
        assert c.post("/login", data=login).status_code == 303
        csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/").text)
        assert csrf
        found = c.get("/people?q=Wang Wu").text
        assert person in found and "Wang Wu" in found
        reply = c.post(f"/people/{person}/export", data={"csrf": csrf.group(1)})
        assert reply.status_code == 200 and "5-501" in reply.text
        rid = re.search(r'href="/receipts/([^"]+)"', reply.text)
        assert rid and c.get(f"/receipts/{rid.group(1)}").json()["signature"]
        reply = c.post(f"/people/{person}/correct", data={"csrf": csrf.group(1), "unit": "5-502"})
        assert "was corrected" in c.get(reply.headers["location"]).text
        assert person in c.get("/people?q=5-502").text
    finally:
        web.state.console.daemon.close()


def test_an_auditor_downloads_the_signed_audit_export(daemon, tmp_path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """``audit.export`` on the socket and the audit page's download: the bundle verifies on
    its own (``verify_bundle``), a bad or empty period gets a clear message, no CSRF: 403."""
    import base64
    import datetime as dt
    import re
    import warnings

    from argon2 import PasswordHasher

    from facegate.audit.export import verify_bundle
    from facegate.web import WebSettings, create_app
    from facegate.web.accounts import Accounts

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    cfg_path, app, _factory = daemon
    socket = cfg_path.parent / "admin.sock"
    with AdminClient(socket) as client:
        now = app.clock.time()
        raw = client.call("audit.export", start=now - 3600, end=now + 60)
        assert raw["files"] and raw["key_id"] == app.audit.key_id
        with pytest.raises(AdminError, match="no audit records"):
            client.call("audit.export", start=1e9, end=1e9 + 1)
        with pytest.raises(AdminError, match="bad_args"):
            client.call("audit.export", start="yesterday", end=now)
    (tmp_path / "socket.tar.gz").write_bytes(base64.b64decode(raw["bundle"]))
    assert verify_bundle(tmp_path / "socket.tar.gz").ok

    fast = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    accounts = Accounts(tmp_path / "web.json", hasher=fast)
    accounts.add("audrey", "auditor", "correct horse battery")
    web = create_app(WebSettings(socket=socket, accounts=accounts.path, lang="en"), hasher=fast)
    c = TestClient(web, base_url="https://testserver", follow_redirects=False)
    try:
        token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text)
        assert token
        login = {"csrf": token.group(1), "username": "audrey", "password": "correct horse battery"}
        assert c.post("/login", data=login).status_code == 303
        page = c.get("/audit").text
        assert 'id="audit-export"' in page
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        assert csrf
        today = dt.date.today().isoformat()
        period = {"from": today, "to": today}
        assert c.post("/audit/export", data=period).status_code == 403  # no CSRF token
        reply = c.post("/audit/export", data=period | {"csrf": csrf.group(1)})
        assert reply.status_code == 200, reply.text
        assert reply.headers["content-type"] == "application/gzip"
        assert f"facegate-audit-{today.replace('-', '')}" in reply.headers["content-disposition"]
        (tmp_path / "web.tar.gz").write_bytes(reply.content)
        assert verify_bundle(tmp_path / "web.tar.gz").ok
        reversed_ = c.post(
            "/audit/export", data={"csrf": csrf.group(1), "from": today, "to": "2001-01-01"}
        )
        assert reversed_.status_code == 400 and "Please check" in reversed_.text
        empty = c.post(
            "/audit/export", data={"csrf": csrf.group(1), "from": "2001-01-01", "to": "2001-01-02"}
        )
        assert empty.status_code == 400 and "no audit records in that period" in empty.text
        # A bundle damaged between the daemon and the console is not handed out.
        gateway = web.state.console.daemon
        real_fetch = gateway.fetch

        def damaged(*args: Any, **kwargs: Any) -> Any:
            reply = real_fetch(*args, **kwargs)
            return reply | {"sha256": "0" * 64}

        gateway.fetch = damaged
        broken = c.post("/audit/export", data=period | {"csrf": csrf.group(1)})
        assert broken.status_code == 502 and "damaged" in broken.text
        gateway.fetch = real_fetch
    finally:
        web.state.console.daemon.close()
    records = [
        json.loads(line)
        for path in audit_files(audit_folder(app.cfg.store.state_dir))
        for line in path.read_text().splitlines()
        if line.strip()
    ]
    exports = [(r["outcome"]) for r in records if r.get("action") == "audit.export"]
    assert exports == ["ok", "bad_input", "refused"], exports
