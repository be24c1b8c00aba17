"""The daemon's commands for the web console, on a running daemon (issue 18): ``web.audit``
writes a signed record naming the console user by pseudonym only; ``compliance.check`` and
``compliance.documents`` give the live checklist and drafts."""

from __future__ import annotations

import json

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
