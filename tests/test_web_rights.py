"""The console's rights-request log and re-consent pages against the real daemon (issue 18):
an operator records and answers a request with its deadline, an auditor reads the log but
cannot change it, a renewal is recorded under the current notice, every action is audited
with the console user's pseudonym, and forms without a CSRF token change nothing."""

from __future__ import annotations

import base64
import json
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("starlette", reason="the console needs starlette (pip install -e .)")
pytest.importorskip("httpx", reason="Starlette's TestClient needs httpx (the dev extra)")

from argon2 import PasswordHasher

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from facegate.admin import AdminClient
from facegate.audit.log import audit_files
from facegate.audit.signing import audit_folder
from facegate.web import WebSettings, create_app
from facegate.web.accounts import Accounts
from facegate.web.pages_rights import _received_at
from helpers import post_notice
from test_admin_daemon import daemon  # noqa: F401  (the running-daemon fixture)

FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PASSWORD = "correct horse battery"


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF field"
    return match.group(1)


def _login(app: Any, user: str) -> tuple[TestClient, str]:
    c = TestClient(app, base_url="https://testserver", follow_redirects=False)
    form = {"csrf": _csrf(c.get("/login").text), "username": user, "password": PASSWORD}
    assert c.post("/login", data=form).status_code == 303
    return c, _csrf(c.get("/").text)


def _web_records(state_dir: Path) -> list[dict[str, Any]]:
    return [
        r
        for path in audit_files(audit_folder(state_dir))
        for line in path.read_text().splitlines()
        if line.strip() and (r := json.loads(line)).get("kind") == "web"
    ]


def test_received_day_in_the_future_is_refused_and_today_is_the_daemons_clock() -> None:
    import datetime as dt

    today = dt.date(2026, 12, 5)
    assert _received_at(today, today) is None and _received_at(None, today) is None
    assert _received_at(dt.date(2026, 12, 1), today) == dt.datetime(2026, 12, 1, 12).timestamp()
    with pytest.raises(ValueError, match="future"):
        _received_at(dt.date(2026, 12, 6), today)


def test_request_log_and_reconsent_through_the_console(daemon, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    cfg_path, app, _factory = daemon
    socket = cfg_path.parent / "admin.sock"
    state = app.cfg.store.state_dir
    accounts = Accounts(tmp_path / "web" / "accounts.json", hasher=FAST)
    for name, role in (("oscar", "operator"), ("audrey", "auditor")):
        accounts.add(name, role, PASSWORD)
    web = create_app(WebSettings(socket=socket, accounts=accounts.path, lang="en"), hasher=FAST)
    try:
        # A person who consented under a notice that has since been replaced.
        old = post_notice(state, now=1_700_000_000.0)
        space = app.face_space()
        assert space is not None
        template = np.random.default_rng(7).standard_normal(space.dim).astype("<f4")
        with AdminClient(socket) as client:
            person = client.call(
                "enroll",
                templates=[base64.b64encode(template.tobytes()).decode()],
                space=space.space,
                consent_method="paper-form",
                notice_version=old,
                taken_by="admin",
                consent_ref="F-1",
                adult=True,
            )["person"]
        new = post_notice(state, now=1_700_100_000.0, wording=" Revised.")
        assert new != old

        op, op_csrf = _login(web, "oscar")
        page = op.get("/requests")
        assert page.status_code == 200 and 'id="record-request"' in page.text
        # Without the CSRF token nothing is recorded.
        refused = op.post("/requests", data={"kind": "copy", "channel": "email"})
        assert refused.status_code == 403
        # Bad input: a clear message, nothing recorded.
        bad = op.post("/requests", data={"csrf": op_csrf, "kind": "gossip", "channel": "email"})
        assert "Please check" in op.get(bad.headers["location"]).text
        form = {"csrf": op_csrf, "kind": "copy", "channel": "email", "person": person}
        done = op.post("/requests", data=form)
        flash = op.get(done.headers["location"]).text
        rid = re.search(r"Recorded (r-[0-9a-f]{12}); due (\d{4}-\d{2}-\d{2})", flash)
        assert rid, flash
        with AdminClient(socket) as client:
            listed = client.call("request.list")["requests"]
        assert [(r["request"], r["kind"], r["person"]) for r in listed] == [
            (rid.group(1), "copy", person)
        ]
        assert listed[0]["recorded_by"] == "oscar" and listed[0]["answered_at"] is None

        # The auditor reads the log (and the deadline) but has no form to change it.
        au, au_csrf = _login(web, "audrey")
        seen = au.get("/requests").text
        assert rid.group(1) in seen and rid.group(2) in seen
        assert 'id="record-request"' not in seen and "/answer" not in seen
        assert au.post("/requests", data=form | {"csrf": au_csrf}).status_code == 403
        answer = {"csrf": au_csrf, "outcome": "done"}
        assert au.post(f"/requests/{rid.group(1)}/answer", data=answer).status_code == 403
        assert person in au.get("/reconsent").text
        assert 'class="renew"' not in au.get("/reconsent").text

        # The operator answers it; the open list is then empty.
        reply = op.post(f"/requests/{rid.group(1)}/answer", data=answer | {"csrf": op_csrf})
        assert "is marked answered" in op.get(reply.headers["location"]).text
        assert rid.group(1) not in op.get("/requests?open=1").text
        with AdminClient(socket) as client:
            assert client.call("request.list", open_only=True)["requests"] == []

        # Re-consent: listed under the old notice, renewed under the new one.
        due = op.get("/reconsent").text
        assert person in due and new in due
        renew = {"csrf": op_csrf, "notice_version": new, "consent_method": "paper-form"}
        missing_ack = op.post(f"/reconsent/{person}", data=renew | {"consent_ref": "F-2"})
        assert "Please check" in op.get(missing_ack.headers["location"]).text
        ok = op.post(f"/reconsent/{person}", data=renew | {"consent_ref": "F-2", "ack": "yes"})
        assert "consented under the current notice" in op.get(ok.headers["location"]).text
        with AdminClient(socket) as client:
            assert client.call("person.reconsent_due")["people"] == []
    finally:
        web.state.console.daemon.close()
    records = _web_records(state)
    actions = [(r["action"], r["outcome"]) for r in records]
    for expected in (
        ("request.record", "bad_input"),
        ("request.record", "ok"),
        ("request.list", "ok"),
        ("request.record", "forbidden"),
        ("request.answer", "forbidden"),
        ("request.answer", "ok"),
        ("person.reconsent", "bad_input"),
        ("person.reconsent", "ok"),
    ):
        assert expected in actions, (expected, actions)
    text = json.dumps(records)
    assert "oscar" not in text and "audrey" not in text and person not in text
    assert all(re.fullmatch(r"w-[a-z]{16}", r["actor"]) for r in records if r.get("actor"))
