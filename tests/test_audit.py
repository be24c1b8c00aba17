"""The audit trail: hash chain, signatures, rotation, tamper detection, nothing personal."""

from __future__ import annotations

import itertools
import json
import tarfile
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from facegate.audit import (
    AuditFieldError,
    AuditLog,
    audit_files,
    export,
    open_audit_log,
    verify,
    verify_bundle,
)
from facegate.cli.audit import add_audit_parsers
from facegate.clock import FakeClock

SEED = bytes(range(32))
SUBJECT_KEY = b"s" * 32
PSEUDONYM = "p-7f3a9c2e"
NAME = "Zhang Wei"
CARD = "0012345678"


@pytest.fixture()
def clock() -> FakeClock:
    return FakeClock()


def make_log(folder: Path, clock: FakeClock, **kw: object) -> AuditLog:
    return AuditLog(folder, SigningKey(SEED), SUBJECT_KEY, clock=clock, **kw)  # type: ignore[arg-type]


def fill(log: AuditLog, clock: FakeClock, n: int) -> None:
    for i in range(n):
        clock.advance(1.0)
        log.append("decision", subject=PSEUDONYM, door="main", result="granted", score=0.9, i=i)


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_append_and_verify(tmp_path: Path, clock: FakeClock) -> None:
    with make_log(tmp_path, clock, batch=5) as log:
        fill(log, clock, 12)
        log.append("alarm", door="main", what="tamper")
        log.append("admin", role="admin", command="person.delete", uid=1000)
    report = verify(tmp_path)
    assert report.ok and report.first_broken is None
    assert report.signatures >= 3 and report.unsigned_tail == 0
    assert report.first_seq == 1 and report.last_seq == report.records
    assert (tmp_path / "verify.pub").read_text().strip() == bytes(SigningKey(SEED).verify_key).hex()


def test_reopen_continues_the_chain_and_signs_a_crashed_tail(
    tmp_path: Path, clock: FakeClock
) -> None:
    log = make_log(tmp_path, clock, batch=100)
    fill(log, clock, 3)  # not closed: the tail is unsigned, as after a crash
    assert verify(tmp_path).unsigned_tail == 4  # the file record and three
    log2 = make_log(tmp_path, clock, batch=100)
    last = json.loads(lines(log2.path)[-1])
    assert last["kind"] == "signature" and last["recovered"] is True
    fill(log2, clock, 2)
    log2.close()
    report = verify(tmp_path)
    assert report.ok and report.unsigned_tail == 0


def test_time_based_signing(tmp_path: Path, clock: FakeClock) -> None:
    log = make_log(tmp_path, clock, batch=1000, sign_every_s=30.0)
    fill(log, clock, 2)
    assert not log.maybe_sign()
    clock.advance(30.0)
    assert log.maybe_sign()
    assert verify(tmp_path).unsigned_tail == 0


def test_nothing_personal_in_the_files(tmp_path: Path, clock: FakeClock) -> None:
    with make_log(tmp_path, clock) as log:
        fill(log, clock, 3)
        log.append("consent", subject=PSEUDONYM, method="written", notice="n-1a2b")
        log.append("deletion", subject=PSEUDONYM, templates=2)
        for bad in ({"name": NAME}, {"card_hash": "x"}, {"pin": "1234"}, {"image": "x"}):
            with pytest.raises(AuditFieldError):
                log.append("decision", **bad)
        with pytest.raises(AuditFieldError):
            log.append("decision", reason=CARD)  # a long digit run
        with pytest.raises(AuditFieldError):
            log.append("decision", note="x" * 500)
        with pytest.raises(AuditFieldError):
            log.append("decision", detail={"nested": 1})
        with pytest.raises(AuditFieldError):
            log.append("signature")
    blob = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    for secret in (NAME, PSEUDONYM, CARD, "1234"):
        assert secret.encode() not in blob
    assert log.subject(PSEUDONYM).encode() in blob
    assert verify(tmp_path).ok


def test_subject_id_depends_on_the_key(tmp_path: Path, clock: FakeClock) -> None:
    a = make_log(tmp_path / "a", clock)
    b = AuditLog(tmp_path / "b", SigningKey(SEED), b"t" * 32, clock=clock)
    assert a.subject(PSEUDONYM) != b.subject(PSEUDONYM)
    assert a.subject(PSEUDONYM) == a.subject(PSEUDONYM)


@pytest.fixture()
def signed_log(tmp_path: Path, clock: FakeClock) -> Path:
    with make_log(tmp_path, clock, batch=4) as log:
        fill(log, clock, 10)
    assert verify(tmp_path).ok
    return tmp_path


def _one_file(folder: Path) -> Path:
    (path,) = audit_files(folder)
    return path


def test_edit_a_byte(signed_log: Path) -> None:
    path = _one_file(signed_log)
    data = bytearray(path.read_bytes())
    rows = lines(path)
    offset = sum(len(r) for r in rows[:2]) + rows[2].index(b'"granted"') + 1
    data[offset] = ord("G")
    path.write_bytes(bytes(data))
    report = verify(signed_log)
    assert not report.ok
    assert report.first_broken is not None
    assert (report.first_broken.file, report.first_broken.line) == (path.name, 3)
    assert "hash" in report.first_broken.reason
    assert report.records == 2


def test_edit_a_byte_into_invalid_json(signed_log: Path) -> None:
    path = _one_file(signed_log)
    rows = lines(path)
    rows[6] = rows[6].replace(b"{", b"[", 1)
    path.write_bytes(b"".join(rows))
    broken = verify(signed_log).first_broken
    assert broken is not None and broken.line == 7 and "JSON" in broken.reason


def test_edit_and_rehash_is_caught_by_the_next_link(signed_log: Path) -> None:
    from facegate.audit.records import record_hash

    path = _one_file(signed_log)
    rows = lines(path)
    record = json.loads(rows[2])
    record["result"] = "denied"
    record["hash"] = record_hash(record)
    rows[2] = (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode()
    path.write_bytes(b"".join(rows))
    broken = verify(signed_log).first_broken
    assert broken is not None and broken.line == 4 and "prev" in broken.reason


def test_delete_a_record(signed_log: Path) -> None:
    path = _one_file(signed_log)
    rows = lines(path)
    del rows[3]
    path.write_bytes(b"".join(rows))
    broken = verify(signed_log).first_broken
    assert broken is not None and broken.line == 4 and "missing" in broken.reason


def test_reorder_records(signed_log: Path) -> None:
    path = _one_file(signed_log)
    rows = lines(path)
    rows[2], rows[3] = rows[3], rows[2]
    path.write_bytes(b"".join(rows))
    broken = verify(signed_log).first_broken
    assert broken is not None and broken.line == 3 and "expected seq 3" in broken.reason


def test_truncate_mid_line(signed_log: Path) -> None:
    """A last line cut short is what a crash during an append leaves: a torn tail, not a
    broken chain; every record before it is verified and counted (issue 14 item 8)."""
    path = _one_file(signed_log)
    whole = verify(signed_log)
    data = path.read_bytes()
    path.write_bytes(data[:-20])
    report = verify(signed_log)
    assert report.ok and report.first_broken is None
    last_line = len(data.splitlines()[-1]) + 1
    assert report.torn_bytes == last_line - 20
    assert report.records == whole.records - 1 and report.last_seq == whole.last_seq - 1


def test_a_torn_line_in_an_earlier_file_is_a_break(tmp_path: Path, clock: FakeClock) -> None:
    log = make_log(tmp_path, clock, batch=100)
    fill(log, clock, 3)
    first = log.path
    log._rotate()  # a second file: the first one is closed and must be whole
    fill(log, clock, 2)
    log.close()
    first.write_bytes(first.read_bytes()[:-5])
    broken = verify(tmp_path).first_broken
    assert broken is not None and broken.file == first.name and "truncated" in broken.reason


def test_cutting_the_last_signature_leaves_an_unsigned_tail(signed_log: Path) -> None:
    path = _one_file(signed_log)
    rows = lines(path)
    path.write_bytes(b"".join(rows[:-1]))
    report = verify(signed_log)
    assert report.ok and report.unsigned_tail > 0


def test_forged_signature(signed_log: Path) -> None:
    path = _one_file(signed_log)
    rows = lines(path)
    index = next(i for i, r in enumerate(rows) if b'"kind":"signature"' in r)
    record = json.loads(rows[index])
    record["sig"] = SigningKey(b"x" * 32).sign(b"anything").signature.hex()
    from facegate.audit.records import record_hash

    record["hash"] = record_hash(record)
    rows[index] = (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode()
    path.write_bytes(b"".join(rows))
    broken = verify(signed_log).first_broken
    assert broken is not None and broken.line == index + 1 and "signature" in broken.reason


def test_untrusted_key(signed_log: Path) -> None:
    other = bytes(SigningKey(b"y" * 32).verify_key)
    broken = verify(signed_log, other).first_broken
    assert broken is not None and "key" in broken.reason


def test_rotation_keeps_the_chain(tmp_path: Path, clock: FakeClock) -> None:
    with make_log(tmp_path, clock, max_bytes=4096, batch=8) as log:
        fill(log, clock, 120)
    files = audit_files(tmp_path)
    assert len(files) >= 3
    report = verify(tmp_path)
    assert report.ok and report.files == len(files) and report.last_seq == report.records
    for before, after in itertools.pairwise(files):
        last = json.loads(lines(before)[-1])
        first = json.loads(lines(after)[0])
        assert last["kind"] == "signature"
        assert first["kind"] == "file" and first["prev"] == last["hash"]


def test_deleting_a_middle_file_or_truncating_one_is_caught(
    tmp_path: Path, clock: FakeClock
) -> None:
    with make_log(tmp_path, clock, max_bytes=4096, batch=8) as log:
        fill(log, clock, 120)
    files = audit_files(tmp_path)
    rows = lines(files[0])
    files[0].write_bytes(b"".join(rows[:-3]))  # truncate whole lines of a closed file
    broken = verify(tmp_path).first_broken
    assert broken is not None and (broken.file, broken.line) == (files[1].name, 1)
    files[0].write_bytes(b"".join(rows))
    assert verify(tmp_path).ok
    files[1].unlink()
    broken = verify(tmp_path).first_broken
    assert broken is not None and broken.file == files[2].name and "missing" in broken.reason


def test_retention_keeps_three_years(tmp_path: Path, clock: FakeClock) -> None:
    with pytest.raises(ValueError):
        make_log(tmp_path, clock, keep_years=1)
    log = make_log(tmp_path, clock, max_bytes=4096, batch=8)
    fill(log, clock, 60)
    before = audit_files(tmp_path)
    assert len(before) >= 2
    clock.advance(2.9 * 365 * 86_400)
    assert log.prune() == []
    clock.advance(0.2 * 365 * 86_400)
    removed = log.prune()
    assert removed and removed == before[: len(removed)]
    assert log.path.exists()
    log.close()
    report = verify(tmp_path)
    assert report.ok and report.first_seq > 1


def test_export_bundle_verifies_on_its_own(tmp_path: Path, clock: FakeClock) -> None:
    folder = tmp_path / "audit"
    with make_log(folder, clock, max_bytes=4096, batch=8) as log:
        fill(log, clock, 120)
    files = audit_files(folder)
    mid = json.loads(lines(files[1])[3])["ts"]
    bundle = export(folder, mid, mid + 1, tmp_path / "out" / "bundle.tar.gz")
    assert files[1].name in bundle.files and files[0].name not in bundle.files
    with tarfile.open(bundle.path) as tar:
        names = tar.getnames()
    assert "audit/verify.pub" in names and "MANIFEST.json" in names
    for f in folder.iterdir():  # the bundle needs nothing from the device
        f.unlink()
    report = verify_bundle(bundle.path)
    assert report.ok and report.first_seq > 1


def test_export_to_a_stream_bundles_whole_lines_and_refuses_too_much(
    tmp_path: Path, clock: FakeClock
) -> None:
    """The daemon's ``audit.export`` bundles into memory while the log is live: a line half
    written at the end of the live file is left out (it is not in the chain yet), so the
    bundle verifies; a period larger than the caller can carry is refused, nothing written."""
    import io

    from facegate.audit.export import ExportTooLarge

    folder = tmp_path / "audit"
    with make_log(folder, clock, max_bytes=4096, batch=8) as log:
        fill(log, clock, 40)
    live = audit_files(folder)[-1]
    with live.open("ab") as f:
        f.write(b'{"seq": 999, "half')  # a record being written as the export reads
    buffer = io.BytesIO()
    result = export(folder, 0, clock.time() + 1, buffer)
    assert result.path is None and live.name in result.files
    bundle = tmp_path / "bundle.tar.gz"
    bundle.write_bytes(buffer.getvalue())
    report = verify_bundle(bundle)
    assert report.ok and report.torn_bytes == 0 and report.last_seq == report.records
    total = sum(p.stat().st_size for p in audit_files(folder))
    empty = io.BytesIO()
    with pytest.raises(ExportTooLarge, match="shorter period"):
        export(folder, 0, clock.time() + 1, empty, max_bytes=total - 1)
    assert empty.getvalue() == b""


def test_open_audit_log_uses_store_device_keys(tmp_path: Path, clock: FakeClock) -> None:
    from facegate.store import Store

    store = Store(tmp_path, b"k" * 32, clock=clock)
    try:
        log = open_audit_log(store, tmp_path, clock=clock)
        log.append("admin", command="start")
        log.close()
        seed = store.device_key("audit-signing")
    finally:
        store.close()
    pub = (tmp_path / "audit" / "verify.pub").read_text().strip()
    assert pub == bytes(SigningKey(seed).verify_key).hex()
    assert verify(tmp_path / "audit").ok


def _cli(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser()
    add_audit_parsers(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_cli_verify_and_export(
    signed_log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli(["audit", "verify", "--dir", str(signed_log)]) == 0
    out = tmp_path / "b.tar.gz"
    assert _cli(["audit", "export", "--dir", str(signed_log), "--from", "2025-12-31",
                 "--to", "2026-01-01", "--out", str(out)]) == 0  # fmt: skip
    assert _cli(["audit", "verify", "--bundle", str(out)]) == 0
    path = _one_file(signed_log)
    rows = lines(path)
    del rows[2]
    path.write_bytes(b"".join(rows))
    assert _cli(["audit", "verify", "--dir", str(signed_log)]) == 1
    assert "line 3" in capsys.readouterr().err


def test_a_half_written_record_is_dropped_on_reopen(tmp_path: Path, clock: FakeClock) -> None:
    log = make_log(tmp_path, clock, batch=100)
    fill(log, clock, 3)
    with log.path.open("ab") as f:
        f.write(b'{"v":1,"seq":5,"kin')  # power cut during a write
    torn = verify(tmp_path)
    assert torn.ok and torn.torn_bytes == 19 and torn.records == 4
    log2 = make_log(tmp_path, clock, batch=100)
    last = json.loads(lines(log2.path)[-1])
    assert last["kind"] == "signature" and last["dropped_bytes"] == 19
    log2.close()
    assert verify(tmp_path).ok


def test_audit_export_on_the_socket_runs_one_at_a_time(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each ``audit.export`` holds up to 32 MiB of files and their bundle in memory on an
    admin thread: a second one while the first runs is told ``busy`` (seven auditors' exports
    at once would hold hundreds of MiB beside the face models), and runs once it is done."""
    import importlib
    import threading

    from facegate.admin import AdminCommandError
    from facegate.admin.wiring import AuditExportArgs, audit_handlers

    export_module = importlib.import_module("facegate.audit.export")

    folder = tmp_path / "audit"
    log = make_log(folder, clock, max_bytes=4096, batch=8)
    fill(log, clock, 20)
    real, started, release = export_module.export, threading.Event(), threading.Event()

    def slow(*args: object, **kw: object) -> object:
        started.set()
        release.wait(10)
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(export_module, "export", slow)
    handler = audit_handlers(log)["audit.export"].func
    args = AuditExportArgs(start=946_684_800, end=clock.time() + 1)
    replies: list[object] = []
    first = threading.Thread(target=lambda: replies.append(handler(args, None)))  # type: ignore[arg-type]
    first.start()
    assert started.wait(10)
    try:
        with pytest.raises(AdminCommandError) as refused:
            handler(args, None)  # type: ignore[arg-type]
        assert refused.value.code == "busy"
    finally:
        release.set()
        first.join(10)
    assert len(replies) == 1 and replies[0]["bytes"] > 0  # type: ignore[index]
    assert handler(args, None)["bytes"] > 0  # type: ignore[arg-type]
    log.close()
