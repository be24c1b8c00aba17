"""A full state disk (issue 14, item 3): the gate keeps deciding, raises one alarm, keeps the
unwritten event rows and audit records in order and writes them later; the audit chain never
breaks; a full disk stops neither the first event nor a restart.

Fault injection two ways: a store whose ``record_event`` raises ``database or disk is full``
(and an ``os.write`` that fails with ENOSPC half-way through an audit line), and a real small
tmpfs filled to the last byte (root only; skipped with the reason elsewhere).
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from facegate.audit import AuditLog, audit_files, signing_key_from_seed, verify
from facegate.audit import log as audit_log_module
from facegate.audit.signing import audit_folder
from facegate.clock import FakeClock
from facegate.readers.events import CardNumber, CardRead
from facegate.service.app import App, AppEvent
from facegate.service.recording import EventRecorder, failure_kind
from facegate.service.state import PURGE_RETRY_S
from facegate.store import Event, Store, create_master_key
from helpers import make_config

FULL = "database or disk is full"


# -- the audit log: no half line, nothing lost, the chain in order ---------------------------


class FailingWrites:
    """``os.write`` for the audit log: after ``ok`` whole writes, writes half then ENOSPC."""

    def __init__(self, ok: int = 0, fits: bytes = b"\0") -> None:
        self.ok = ok
        self.fits = fits  # bytes put back where they were just freed: they fit
        self.failing = True
        self.real = os.write

    def __call__(self, fd: int, data: Any) -> int:
        if not self.failing or bytes(data) == self.fits:
            return self.real(fd, data)
        if self.ok > 0:
            self.ok -= 1
            return self.real(fd, data)
        if len(data) > 1:
            return self.real(fd, bytes(data[: len(data) // 2]))  # a short write…
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # …then no room at all


def make_log(folder: Path, clock: FakeClock, **kw: Any) -> AuditLog:
    return AuditLog(folder, signing_key_from_seed(b"k" * 32), b"s" * 32, clock=clock, **kw)


def records(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for p in audit_files(folder) for line in p.read_text().splitlines()]


def whole_lines(folder: Path) -> bool:
    return all(p.read_bytes().endswith(b"\n") for p in audit_files(folder))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(wall=1_800_000_000.0)


def test_a_failed_audit_write_is_cut_back_and_raised_without_a_buffer(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = make_log(tmp_path / "a", clock)
    log.append("service", event="start")
    before = log.path.read_bytes()
    writes = FailingWrites()
    monkeypatch.setattr(audit_log_module.os, "write", writes)
    with pytest.raises(OSError) as err:
        log.append("decision", door="main", result="denied")
    assert err.value.errno == errno.ENOSPC
    assert log.path.read_bytes() == before  # no half line
    writes.failing = False
    log.append("decision", door="main", result="granted")
    log.close()
    report = verify(tmp_path / "a")
    assert report.ok and report.torn_bytes == 0, report


def test_the_daemons_audit_log_keeps_records_in_order_through_enospc(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "a"
    log = make_log(folder, clock, buffer_limit=10, batch=4)
    log.append("service", event="start")
    writes = FailingWrites()
    monkeypatch.setattr(audit_log_module.os, "write", writes)
    times = []
    for i in range(6):
        clock.advance(1.0)
        times.append(round(clock.time(), 3))
        assert log.append("decision", door="main", result="denied", n=i) is None
    assert log.pending == 6 and log.write_error is not None
    assert whole_lines(folder) and verify(folder).ok
    assert not log.flush()  # still full
    writes.failing = False
    clock.advance(30.0)
    assert log.flush() and log.pending == 0 and log.write_error is None
    log.close()
    got = [r for r in records(folder) if r["kind"] == "decision"]
    assert [r["n"] for r in got] == list(range(6))
    assert [r["ts"] for r in got] == times  # when it happened, not when it was written
    report = verify(folder)
    assert report.ok and report.torn_bytes == 0, report


def test_a_full_audit_buffer_drops_the_oldest_and_says_how_many(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "a"
    log = make_log(folder, clock, buffer_limit=3)
    writes = FailingWrites()
    monkeypatch.setattr(audit_log_module.os, "write", writes)
    for i in range(8):
        log.append("decision", door="main", result="denied", n=i)
    assert log.pending == 3 and log.dropped_total == 5
    writes.failing = False
    assert log.flush()
    log.close()
    kinds = [(r["kind"], r.get("n", r.get("count"))) for r in records(folder)]
    tail = [k for k in kinds if k[0] in ("records_dropped", "decision")]
    assert tail == [("records_dropped", 5), ("decision", 5), ("decision", 6), ("decision", 7)]
    assert verify(folder).ok


def test_opening_the_audit_log_on_a_full_disk_signs_the_recovered_tail_later(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "a"
    log = make_log(folder, clock, batch=100)
    log.append("decision", door="main", result="granted")  # then a crash: never signed
    with log.path.open("ab") as f:
        f.write(b'{"v":1,"seq":')  # and a torn line
    writes = FailingWrites(fits=b'{"v":1,"seq":')
    monkeypatch.setattr(audit_log_module.os, "write", writes)
    with pytest.raises(OSError):
        make_log(folder, clock)  # a command: raised
    reopened = make_log(folder, clock, buffer_limit=10)  # the daemon: carries on
    assert reopened.write_error is not None
    writes.failing = False
    reopened.append("service", event="start")
    reopened.close()
    signatures = [r for r in records(folder) if r["kind"] == "signature"]
    assert signatures[0].get("recovered") is True and signatures[0]["dropped_bytes"] == 13
    assert verify(folder).ok


# -- the daemon: deciding goes on, one alarm, rows written later in order -------------------


@pytest.fixture
def app(tmp_path: Path, clock: FakeClock) -> Iterator[tuple[App, list[AppEvent]]]:
    """The daemon's decision and recording path (no camera, no face models): doors, store,
    audit trail, policy."""
    cfg = make_config(tmp_path)
    key = create_master_key(tmp_path / "state" / "master.key")
    timeline: list[AppEvent] = []
    a = App(cfg, pin_factory=MockFactory(), clock=clock, master_key=key, listener=timeline.append)
    a.init_gate()
    a.init_store()
    a.init_access()
    a.init_readers()
    yield a, timeline
    a.close()


def card(i: int) -> CardRead:
    return CardRead("gate-reader", CardNumber(99, 1000 + i, 26), 0.0, "H10301")


def alarms(timeline: list[AppEvent], kind: str = "alarm") -> list[dict[str, Any]]:
    return [e.detail for e in timeline if e.kind == kind and e.detail.get("kind") == "disk_full"]


def stored_events(a: App) -> list[Event]:
    assert a.store is not None
    return a.store.events(1000)


def full(*_args: object, **_kw: object) -> None:
    raise sqlite3.OperationalError(FULL)


def test_a_full_disk_at_an_event_keeps_deciding_and_alarms_once(
    app: tuple[App, list[AppEvent]], clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, timeline = app
    assert a.store is not None and a.audit is not None
    monkeypatch.setattr(a.store, "record_event", full)
    opened = a.remote_open("main", 3.0, uid=0)  # the door still opens…
    assert opened and not a.doors["main"].lock.locked
    denied = [a.handle_reader_event(card(i)) for i in range(3)]  # …and still denies
    assert all(o is not None and not o.granted for o in denied)
    assert len(alarms(timeline)) == 1  # once, not per event
    assert "disk_full" in a.status_line()
    assert len(a.actuator.recorder.pending) == 4
    clock.advance(1.0)
    a.tick()  # too soon to retry; still alarmed, still nothing raised
    assert len(alarms(timeline)) == 1

    monkeypatch.undo()  # room again
    clock.advance(15.0)
    a.tick()
    rows = stored_events(a)
    assert [(r.method, r.result) for r in rows] == [("remote", "granted")] + [
        ("card", "denied")
    ] * 3
    assert [r.ts for r in rows] == sorted(r.ts for r in rows)
    (cleared,) = alarms(timeline, "alarm_cleared")
    assert cleared["written"] == 4 and cleared["dropped"] == 0
    assert "disk_full" not in a.status_line()
    a.audit.close()
    audit = records(audit_folder(a.cfg.store.state_dir))
    alarm_records = [r for r in audit if r["kind"] == "alarm" and r["alarm"] == "disk_full"]
    assert [r["cleared"] for r in alarm_records] == [False, True]
    assert verify(audit_folder(a.cfg.store.state_dir)).ok


def test_the_event_buffer_is_bounded_and_counts_what_it_dropped(
    app: tuple[App, list[AppEvent]], clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, timeline = app
    assert a.store is not None
    a.actuator.recorder.limit = 2
    tried: list[Event] = []

    def full_counting(event: Event) -> None:
        tried.append(event)
        full()

    monkeypatch.setattr(a.store, "record_event", full_counting)
    for i in range(5):
        a.handle_reader_event(card(i))  # five denials, and the lockout alarm's row
    kept = list(a.actuator.recorder.pending)
    assert len(kept) == 2 and len(tried) == 1  # no write tried while rows are waiting
    monkeypatch.undo()
    clock.advance(15.0)
    a.tick()
    rows = stored_events(a)
    assert [(r.method, r.reason) for r in rows] == [(r.method, r.reason) for r in kept]
    assert kept[-1].reason == "unknown_card"  # the newest are kept
    (cleared,) = alarms(timeline, "alarm_cleared")
    assert cleared == {"kind": "disk_full", "written": 2, "dropped": 4}


def test_rows_held_back_are_written_at_shutdown_if_there_is_room(
    app: tuple[App, list[AppEvent]], clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _timeline = app
    assert a.store is not None
    store = a.store
    monkeypatch.setattr(store, "record_event", full)
    a.handle_reader_event(card(1))
    monkeypatch.undo()
    a.actuator.flush_writes()  # as App.close() does before the store closes
    assert [r.method for r in store.events(10)] == ["card"]


def test_any_write_error_is_a_store_write_failed_alarm() -> None:
    assert failure_kind(sqlite3.OperationalError(FULL)) == "disk_full"
    assert failure_kind(OSError(errno.ENOSPC, "no space")) == "disk_full"
    assert failure_kind(sqlite3.OperationalError("disk I/O error")) == "store_write_failed"
    raised: list[tuple[str, bool]] = []
    recorder = EventRecorder(lambda kind, cleared, detail: raised.append((kind, cleared)))

    class Broken:
        reserve_released = False

        def record_event(self, event: Event) -> None:
            raise sqlite3.OperationalError("attempt to write a readonly database")

    recorder.store = Broken()  # type: ignore[assignment]
    recorder.record(Event(0.0, "main", "card", "denied", None, None, "unknown_card"))
    recorder.record(Event(1.0, "main", "card", "denied", None, None, "unknown_card"))
    assert raised == [("store_write_failed", False)] and len(recorder.pending) == 2


def test_a_purge_that_cannot_write_at_start_is_an_alarm_not_a_stop(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("facegate.service.state.purge_expired", full)
    cfg = make_config(tmp_path)
    key = create_master_key(tmp_path / "state" / "master.key")
    timeline: list[AppEvent] = []
    a = App(cfg, pin_factory=MockFactory(), clock=clock, master_key=key, listener=timeline.append)
    try:
        a.init_gate()
        a.init_store()  # does not raise
        a.init_access()
        a.init_readers()
        assert len(alarms(timeline)) == 1
        assert a._next_purge == clock.monotonic() + PURGE_RETRY_S
        assert a.handle_reader_event(card(1)) is not None
    finally:
        a.close()


# -- a real full disk: a small tmpfs filled to the last byte --------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path) -> Path:
    """Write zeros until the disk is full, to the last byte."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 1 << 12, 1):
            try:
                while os.write(fd, bytes(size)) == size:
                    pass
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def test_a_really_full_disk_neither_crashes_nor_loses_the_chain(
    small_disk: Path, clock: FakeClock
) -> None:
    cfg = make_config(small_disk)
    state = cfg.store.state_dir
    key = create_master_key(state / "master.key")
    timeline: list[AppEvent] = []

    def start() -> App:
        a = App(
            cfg, pin_factory=MockFactory(), clock=clock, master_key=key, listener=timeline.append
        )
        a.init_gate()
        a.init_store()
        a.init_access()
        a.init_readers()
        return a

    a = start()
    a.handle_reader_event(card(0))
    filler = fill(small_disk)
    for i in range(1, 40):  # WAL frames and audit lines: the disk is full at once
        clock.advance(0.5)
        assert a.handle_reader_event(card(i)) is not None
        a.tick()
    assert a.remote_open("main", 3.0, uid=0)
    assert len(alarms(timeline)) == 1
    assert whole_lines(audit_folder(state)) and verify(audit_folder(state)).ok
    filler.unlink()
    clock.advance(15.0)
    a.tick()
    assert len(alarms(timeline, "alarm_cleared")) == 1
    decisions = [r for r in stored_events(a) if r.method != "alarm"]  # and the lockout's row
    assert len(decisions) == 41 and decisions[-1].method == "remote"
    a.close()
    report = verify(audit_folder(state))
    assert report.ok and report.torn_bytes == 0, report
    assert sum(1 for r in records(audit_folder(state)) if r["kind"] == "decision") == 41

    # A restart on a disk that filled up while the daemon was down (its WAL already folded
    # in and removed): the store's reserve makes room to open, the gate decides, one alarm.
    timeline.clear()
    filler = fill(small_disk)
    a = start()
    try:
        assert a.store is not None and a.store.reserve_released
        a.tick()
        assert len(alarms(timeline)) == 1
        assert a.handle_reader_event(card(99)) is not None
        assert a.remote_open("main", 3.0, uid=0)
    finally:
        a.close()
    filler.unlink()
    a = start()
    try:
        methods = [r.method for r in stored_events(a)]
        assert methods.count("remote") >= 1 and methods.count("card") >= 40
    finally:
        a.close()
    assert verify(audit_folder(state)).ok


def test_a_store_opened_on_a_full_disk_without_its_reserve_names_the_cause(
    small_disk: Path,
) -> None:
    from facegate.errors import StoreError

    state = small_disk / "state"
    key = create_master_key(state / "master.key")
    with Store(state, key):
        pass
    (state / "facegate.reserve").unlink()
    filler = fill(small_disk)
    with pytest.raises(StoreError, match="full"):
        Store(state, key)
    filler.unlink()
    with Store(state, key) as s:
        assert s.reserve_path.stat().st_size > 0
