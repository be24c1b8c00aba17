"""A stand-in daemon for the console's tests: the real ``AdminServer`` on a temporary socket
with the daemon's own argument models and roles, and handlers that keep a small state."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from facegate.admin import AdminCommandError, AdminServer, Handler, PeerCred, Role, RoleMap
from facegate.service.admin_commands import EnrollArgs, EventsArgs, PersonArgs, PersonListArgs
from facegate.service.web_support import WebAuditArgs

PASSWORD = "correct horse battery"


class FindArgs(BaseModel):  # the shapes of the rights commands (service/rights.py, issue 15)
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    unit: str | None = None


class ExportArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    person: str = Field(pattern=r"^p-[0-9a-f]{16}$")
    lang: str = "zh-CN"


class UpdateArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    person: str = Field(pattern=r"^p-[0-9a-f]{16}$")
    name: str | None = None
    unit: str | None = None
    phone: str | None = None
    birth_year: int | None = None


@dataclass
class StubDaemon:
    people: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    rights: bool = False  # also person.find/export/update (a daemon with issue 15's commands)

    def handlers(self) -> dict[str, Handler]:
        def status(_a: Any, _p: PeerCred) -> dict[str, Any]:
            return {
                "doors": {"main": {"locked": True, "alarms": ["door_held"]}},
                "frames": 1,
                "people_with_face": len(self.people),
                "threshold": 0.5,
                "health_alarms": [],
                "ways_in": {
                    "main": {"face": "down: camera lost", "card": "up", "exit button": "up"}
                },
            }

        def events(a: EventsArgs, _p: PeerCred) -> dict[str, Any]:
            return {"events": self.events[-a.limit :]}

        def person_list(a: PersonListArgs, _p: PeerCred) -> dict[str, Any]:
            rows = []
            for pseudonym, info in self.people.items():
                row = {
                    "person": pseudonym,
                    "templates": info["templates"],
                    "face_expires_at": time.time() + 86400,
                    "credentials": [],
                    "consent": "c-1",
                    "minor": False,
                }
                if a.show_names:
                    row |= {"name": info.get("name"), "unit": info.get("unit"), "phone": None}
                rows.append(row)
            return {"people": rows}

        def receipt(a: PersonArgs, kind: str) -> dict[str, Any]:
            if a.person not in self.people:
                raise AdminCommandError("bad_request", f"no person {a.person}")
            if kind == "deletion":
                del self.people[a.person]
            else:
                self.people[a.person]["templates"] = 0
            return {
                "receipt": {"kind": kind, "person": a.person},
                "lines": [f"{kind} of {a.person}"],
                "signature": "sig",
                "public_key": "pk",
            }

        def enroll(a: EnrollArgs, _p: PeerCred) -> dict[str, Any]:
            pseudonym = f"p-{len(self.people) + 1:016x}"
            self.people[pseudonym] = {"templates": len(a.templates), "name": a.name, "unit": a.unit}
            return {
                "person": pseudonym,
                "consent": "c",
                "templates": len(a.templates),
                "credentials": 0,
            }

        def web_audit(a: WebAuditArgs, _p: PeerCred) -> dict[str, Any]:
            self.audit.append(a.model_dump())
            return {"recorded": True}

        def verify(_a: Any, _p: PeerCred) -> dict[str, Any]:
            return {
                "ok": True,
                "records": 3,
                "files": 1,
                "signatures": 1,
                "first_seq": 1,
                "last_seq": 3,
                "unsigned_tail": 0,
                "key_id": "k",
                "first_broken": None,
            }

        def check(_a: Any, _p: PeerCred) -> dict[str, Any]:
            return {
                "rows": [
                    {"rule": "purpose", "article": "Art. 4", "status": "PASS", "reason": "ok"}
                ],
                "summary": "1 PASS",
                "refuses_start": False,
            }

        def docs(_a: Any, _p: PeerCred) -> dict[str, Any]:
            return {"date": "2026-12-05", "pia": "# PIA\n", "filing": "# Filing\n"}

        def find(a: FindArgs, _p: PeerCred) -> dict[str, Any]:
            hits = [
                {"person": p, "name": i.get("name"), "unit": i.get("unit")}
                for p, i in self.people.items()
                if (a.name and a.name == i.get("name")) or (a.unit and a.unit == i.get("unit"))
            ]
            return {"people": hits}

        def export(a: ExportArgs, _p: PeerCred) -> dict[str, Any]:
            if a.person not in self.people:
                raise AdminCommandError("bad_request", f"no person {a.person}")
            return {"document": "{}", "signature": "sig", "public_key": "pk",
                    "lines": [f"export of {a.person} ({a.lang})"]}  # fmt: skip

        def update(a: UpdateArgs, _p: PeerCred) -> dict[str, Any]:
            changed = [k for k, v in a.model_dump().items() if k != "person" and v is not None]
            self.people[a.person].update({k: getattr(a, k) for k in changed})
            return {"person": a.person, "changed": changed}

        def wrap(name: str, func: Any) -> Any:
            def called(a: Any, p: PeerCred) -> dict[str, Any]:
                self.calls.append(name)
                return func(a, p)

            return called

        table = {
            "status": Handler(Role.AUDITOR, status, None, ""),
            "events": Handler(Role.AUDITOR, events, EventsArgs, ""),
            "person.list": Handler(Role.OPERATOR, person_list, PersonListArgs, ""),
            "person.withdraw": Handler(
                Role.OPERATOR, lambda a, p: receipt(a, "withdrawal"), PersonArgs, ""
            ),
            "person.delete": Handler(
                Role.ADMIN, lambda a, p: receipt(a, "deletion"), PersonArgs, ""
            ),
            "enroll": Handler(Role.OPERATOR, enroll, EnrollArgs, ""),
            "web.audit": Handler(Role.AUDITOR, web_audit, WebAuditArgs, ""),
            "audit.verify": Handler(Role.AUDITOR, verify, None, ""),
            "compliance.check": Handler(Role.AUDITOR, check, None, ""),
            "compliance.documents": Handler(Role.AUDITOR, docs, None, ""),
        }
        if self.rights:
            table |= {
                "person.find": Handler(Role.ADMIN, find, FindArgs, ""),
                "person.export": Handler(Role.ADMIN, export, ExportArgs, ""),
                "person.update": Handler(Role.ADMIN, update, UpdateArgs, ""),
            }
        return {
            name: Handler(h.role, wrap(name, h.func), h.args_model, h.summary)
            for name, h in table.items()
        }

    def serve(self, socket_path: Path) -> AdminServer:
        import os

        roles = RoleMap.from_config({os.getuid(): "admin"}, {}, root_is_admin=True)
        server = AdminServer(socket_path, self.handlers(), roles, group=None, timeout_s=5.0)
        server.start()
        return server


@contextlib.contextmanager
def serve_https(app: Any, cert: Path, key: Path) -> Iterator[str]:
    """Run the console app on a free localhost port over HTTPS; yields its base URL."""
    import socket
    import threading
    import time

    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            ssl_certfile=str(cert),
            ssl_keyfile=str(key),
            lifespan="off",
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    end = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < end, "the console did not start"
        time.sleep(0.05)
    try:
        yield f"https://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
