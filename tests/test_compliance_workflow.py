"""Checks that can fail, the same checks everywhere, and the PIA/filing/incident workflow
(issue 15 findings 7 and 8)."""

from __future__ import annotations

import datetime as dt
import json
import socket
from pathlib import Path

import pytest

from facegate.cli import main
from facegate.compliance import Status, build_notice, gather_facts, run_checks
from facegate.compliance.device import daemon_answers, device_inputs, door_problems
from facegate.compliance.documents import pia_markdown, security_measures
from facegate.compliance.ledger import Ledger, add_working_days, processing_scope
from facegate.compliance.records import note_rendered, record_notice
from facegate.config import load_config_text
from facegate.errors import ConfigError
from facegate.service.rules import face_refusals
from facegate.store import create_master_key
from test_compliance_helpers import TODAY, config_text, good_facts, ledger, load

ONE_DOOR = """\
site:
  name: 阳光花园 3 号楼
  kind: residential_compound
  purpose: 为选择刷脸通行的业主开启小区大门；密码和门禁卡对所有人开放。
camera: {{type: replay, path: {state}/clip}}
doors:
  - id: main
    relay: {{pin: 17}}
{access}readers:
  - {{id: gate-reader, type: wiegand, door: main, d0: 22, d1: 23}}
store: {{state_dir: {state}}}
admin: {{socket: {state}/admin.sock}}
calendar:
  schedules:
    - {{name: nights, windows: {{daily: ["22:00-06:00"]}}}}
retention: {{template_days: 365, event_days: 30, record_years: 3}}
notice:
  controller_name: 阳光花园物业服务有限公司
  controller_contact: "物业服务中心 0571-8888 6666"
  withdrawal_how: 到物业服务中心或致电说明即可
"""

FACE_ONLY_AT_NIGHT = """\
    access:
      rules:
        - {schedule: nights, modes: "face"}
      default: ["face|card|pin"]
"""


def _write(tmp_path: Path, access: str = "") -> Path:
    state = tmp_path / "state"
    path = tmp_path / "facegate.yaml"
    path.write_text(ONE_DOOR.format(state=state, access=access), encoding="utf-8")
    create_master_key(state / "master.key")
    return path


def _row(results: list, rule: str):  # type: ignore[no-untyped-def]
    (row,) = [r for r in results if r.rule_id == rule]
    return row


# -- finding 7: compliance check runs what run runs ------------------------------------------


def test_a_face_only_window_fails_compliance_check_as_run_refuses_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, FACE_ONLY_AT_NIGHT)
    cfg = load_config_text(path.read_text(encoding="utf-8"))
    assert face_refusals(cfg, "main")  # run takes face down here …
    assert main(["compliance", "check", "-c", str(path)]) == 3  # … and check says so
    out = capsys.readouterr().out
    assert "face_only_window" in out and "refuse to start" in out
    facts = gather_facts(cfg, notice=cfg.notice, **device_inputs(cfg))
    assert _row(run_checks(cfg, cfg.notice, cfg.filing, facts), "face_only_window").status is (
        Status.FAIL
    )


def test_a_door_with_pin_or_card_in_every_window_passes(tmp_path: Path) -> None:
    path = _write(tmp_path)
    cfg = load_config_text(path.read_text(encoding="utf-8"))
    assert door_problems(cfg) == [] and face_refusals(cfg, "main") == []
    facts = gather_facts(cfg, notice=cfg.notice, **device_inputs(cfg))
    row = _row(run_checks(cfg, cfg.notice, cfg.filing, facts), "face_only_window")
    assert row.status is Status.PASS


def test_notice_recorded_but_never_rendered_fails(tmp_path: Path) -> None:
    path = _write(tmp_path)
    assert main(["notice", "hash", "-c", str(path), "--record"]) == 0
    cfg = load_config_text(path.read_text(encoding="utf-8"))
    facts = gather_facts(cfg, notice=cfg.notice, **device_inputs(cfg))
    assert facts.notice_rendered is False
    row = _row(run_checks(cfg, cfg.notice, cfg.filing, facts), "notice")
    assert row.status is Status.FAIL and "never rendered" in row.reason
    assert main(["notice", "render", "-c", str(path), "--format", "html", "--out",
                 str(tmp_path / "sign.html")]) == 0  # fmt: skip
    facts = gather_facts(cfg, notice=cfg.notice, **device_inputs(cfg))
    assert _row(run_checks(cfg, cfg.notice, cfg.filing, facts), "notice").status is Status.PASS


def test_a_rendered_sign_of_another_version_does_not_count(tmp_path: Path) -> None:
    cfg, notice, _filing = load(tmp_path)
    assert notice is not None
    state = cfg.store.state_dir
    bundle = build_notice(cfg, notice)
    record_notice(state, bundle, now=1.0)
    note_rendered(state, "f" * 64, lang="zh-CN", fmt="pdf", page="A4", now=2.0)
    assert gather_facts(cfg, notice=notice).notice_rendered is False


def test_admin_socket_says_stopped_not_missing_from_the_build(tmp_path: Path) -> None:
    cfg, notice, filing = load(tmp_path)
    version = build_notice(cfg, notice).version if notice else None
    row = _row(run_checks(cfg, notice, filing, good_facts(version, admin_socket_mode=None)),
               "admin_socket")  # fmt: skip
    assert row.status is Status.WARN and "daemon is stopped" in row.reason
    assert "build" not in row.reason
    stale = good_facts(version, admin_socket_mode=0o660, daemon_running=False)
    row = _row(run_checks(cfg, notice, filing, stale), "admin_socket")
    assert row.status is Status.WARN and "stale" in row.reason


def test_daemon_answers_only_when_someone_listens(tmp_path: Path) -> None:
    path = tmp_path / "admin.sock"
    assert daemon_answers(path) is False
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    try:
        assert daemon_answers(path) is True
    finally:
        server.close()
    assert daemon_answers(path) is False  # the file is left behind: stale


def test_the_pia_never_calls_a_failing_audit_in_force(tmp_path: Path) -> None:
    cfg, notice, filing = load(tmp_path)
    version = build_notice(cfg, notice).version if notice else None
    facts = good_facts(version, audit_verified=False, audit_problem="the audit trail is missing")
    results = run_checks(cfg, notice, filing, facts)
    (audit,) = [r for r in security_measures(cfg, facts, results) if "audit" in r[0].lower()]
    assert audit[1].startswith("未落实") and "已落实" not in audit[1]
    md = pia_markdown(cfg, notice, filing, facts, today=TODAY)
    assert "audit_chain (Art. 9, 14)" in md  # listed under measures not in force


# -- filing: the legal threshold, the crossing day, 30 working days -------------------------


def test_the_filing_threshold_cannot_be_raised_above_the_law(tmp_path: Path) -> None:
    for too_high in (100_001, 100_000_000):
        with pytest.raises(ConfigError) as info:
            load(tmp_path, threshold=too_high)
        assert "filing.threshold" in " ".join(info.value.problems)
    assert load(tmp_path, threshold=10_000)[2].threshold == 10_000


def test_working_days_skip_weekends_and_holidays() -> None:
    assert add_working_days(dt.date(2026, 6, 5), 1) == dt.date(2026, 6, 8)  # Fri → Mon
    assert add_working_days(dt.date(2026, 6, 1), 30) == dt.date(2026, 7, 13)
    holiday = frozenset({dt.date(2026, 6, 19)})
    assert add_working_days(dt.date(2026, 6, 1), 30, holiday) == dt.date(2026, 7, 14)


@pytest.mark.parametrize(
    ("today", "reference", "status"),
    [
        (dt.date(2026, 6, 1), None, Status.WARN),  # the day it was crossed
        (dt.date(2026, 7, 13), None, Status.WARN),  # the 30th working day
        (dt.date(2026, 7, 14), None, Status.FAIL),  # past it, nothing filed
        (dt.date(2026, 7, 14), "浙网信备 330100-2026-0001", Status.PASS),
    ],
)
def test_filing_deadline_from_the_recorded_crossing(
    tmp_path: Path, today: dt.date, reference: str | None, status: Status
) -> None:
    cfg, notice, filing = load(tmp_path, threshold=10)
    version = build_notice(cfg, notice).version if notice else None
    crossed = ledger(filing_crossed_on=dt.date(2026, 6, 1), filing_reference=reference)
    facts = good_facts(version, people_with_face=12, ledger=crossed, today=today)
    row = _row(run_checks(cfg, notice, filing, facts), "filing")
    assert row.status is status, row
    if status is Status.WARN:
        assert "2026-06-01" in row.reason and "by 2026-07-13" in row.reason


def test_the_crossing_day_is_recorded_once_and_survives_deletions(tmp_path: Path) -> None:
    state = tmp_path / "state"
    book = Ledger(state)
    assert book.note_count(9, 10, dt.date(2026, 5, 1)) is False
    assert book.note_count(10, 10, dt.date(2026, 6, 1)) is True
    assert Ledger(state).note_count(11, 10, dt.date(2026, 6, 2)) is False
    assert Ledger(state).facts().filing_crossed_on == dt.date(2026, 6, 1)
    cfg, notice, filing = load(tmp_path, threshold=10)
    version = build_notice(cfg, notice).version if notice else None
    # people deleted since: still owed, and the reason says so
    facts = good_facts(version, people_with_face=3, ledger=Ledger(state).facts(),
                       today=dt.date(2026, 9, 1))  # fmt: skip
    row = _row(run_checks(cfg, notice, filing, facts), "filing")
    assert row.status is Status.FAIL and "now 3" in row.reason


def test_a_change_of_method_after_filing_asks_for_a_change_filing(tmp_path: Path) -> None:
    cfg, notice, filing = load(tmp_path)
    version = build_notice(cfg, notice).version if notice else None
    filed = ledger(filing_reference="REF-1", filing_scope="old-scope")
    row = _row(run_checks(cfg, notice, filing, good_facts(version, ledger=filed)), "filing")
    assert row.status is Status.WARN and "filing change" in row.reason


# -- the PIA as a workflow ------------------------------------------------------------------


def test_pia_rule_asks_for_assessment_and_reassessment(tmp_path: Path) -> None:
    cfg, notice, filing = load(tmp_path)
    version = build_notice(cfg, notice).version if notice else None

    def pia(**facts: object) -> tuple[Status, str]:
        row = _row(run_checks(cfg, notice, filing, good_facts(version, **facts)), "pia")
        return row.status, row.reason

    assert pia()[0] is Status.PASS
    assert "no signed impact assessment" in pia(ledger=ledger(pia_scopes=(), last_pia_at=None))[1]
    assert "changed" in pia(scope="another-scope")[1]
    assert "incident" in pia(ledger=ledger(last_incident_at=2.0e9))[1]


def test_processing_scope_follows_purpose_and_method(tmp_path: Path) -> None:
    a = load(tmp_path)[0]
    b = load(
        tmp_path, purpose="为选择刷脸通行的业主和访客开启小区大门；密码和门禁卡对所有人开放。"
    )[0]
    c = load_config_text(config_text(tmp_path / "state", extra="face_zone: {min_face_px: 120}\n"))
    assert processing_scope(a) == processing_scope(load(tmp_path)[0])
    assert len({processing_scope(a), processing_scope(b), processing_scope(c)}) == 3


def test_pia_sign_incident_and_filing_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path)
    cfg = load_config_text(path.read_text(encoding="utf-8"))
    draft = tmp_path / "pia.md"
    assert main(["pia", "render", "-c", str(path), "--out", str(draft)]) == 0
    assert main(["pia", "sign", "-c", str(path), str(draft), "--by", "Wang Li"]) == 2
    assert "TO FILL" in capsys.readouterr().err  # an unfinished draft is not an assessment
    done = tmp_path / "pia-signed.md"
    done.write_text(draft.read_text(encoding="utf-8").replace("【待填写", "[done"), "utf-8")
    assert main(["pia", "sign", "-c", str(path), str(done), "--by", "Wang Li"]) == 0
    facts = gather_facts(cfg, notice=cfg.notice, **device_inputs(cfg))
    assert _row(run_checks(cfg, cfg.notice, cfg.filing, facts), "pia").status is Status.PASS

    note = tmp_path / "incident.md"
    argv = ["incident", "record", "-c", str(path), "--kind", "loss", "--summary",
            "backup disk missing", "--affected", "12", "--out", str(note)]  # fmt: skip
    assert main(argv) == 0
    text = note.read_text(encoding="utf-8")
    needed = ["第五十七条", "涉及的个人信息种类", "补救措施", "联系方式", "PIPL Art. 57"]
    needed += ["Kinds of personal information", "What you can do", "People affected: 12"]
    assert [n for n in needed if n not in text] == []
    facts = gather_facts(cfg, notice=cfg.notice, **device_inputs(cfg))
    row = _row(run_checks(cfg, cfg.notice, cfg.filing, facts), "pia")
    assert row.status is Status.WARN and "incident" in row.reason

    assert main(["filing", "record", "-c", str(path), "--reference", "REF 2026-1"]) == 0
    assert main(["filing", "cancel", "-c", str(path), "--note", "face entry ended"]) == 0
    book = Ledger(cfg.store.state_dir).facts()
    assert book.filing_cancelled and book.filing_reference is None

    kinds = [
        json.loads(line)["kind"]
        for f in sorted((cfg.store.state_dir / "audit").glob("*.jsonl"))
        for line in f.read_text(encoding="utf-8").splitlines()
    ]
    assert {"pia_signed", "incident", "filing"} <= set(kinds)
    assert main(["audit", "verify", "-c", str(path)]) == 0


def test_workflow_commands_refuse_while_the_daemon_writes_the_audit_trail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(tmp_path / "state" / "admin.sock"))
    server.listen(1)
    try:
        assert main(["filing", "record", "-c", str(path), "--reference", "R1"]) == 1
    finally:
        server.close()
    assert "only writer" in capsys.readouterr().err
    assert not (tmp_path / "state" / "compliance" / "ledger.json").exists()


# -- finding 9: the PIA says exactly what protects the key --------------------------------------


@pytest.mark.parametrize(
    ("protection", "state", "said"),
    [
        ("plain", "未落实", "stolen card yields every template"),
        ("passphrase", "已落实", "admin passphrase"),
        ("rpi-otp", "已落实", "OTP"),
        ("credential", "待确认", "TPM"),
    ],
)
def test_the_pia_says_what_protects_the_key(
    tmp_path: Path, protection: str, state: str, said: str
) -> None:
    cfg, notice, filing = load(tmp_path)
    version = build_notice(cfg, notice).version if notice else None
    facts = good_facts(version, key_protection=protection)
    rows = security_measures(cfg, facts, run_checks(cfg, notice, filing, facts))
    (key,) = [r for r in rows if r[0].startswith("主密钥防盗")]
    assert key[1].startswith(state) and said in key[2]
    names = " ".join(r[0] for r in rows)
    assert "Intrusion detection (" not in names and "not intrusion detection" in names
    (backups,) = [r for r in rows if "old backups" in r[0]]
    assert backups[1].startswith("部分落实") and "rotation" in backups[2]


def test_gather_facts_tells_the_key_protection(tmp_path: Path) -> None:
    cfg, notice, _filing = load(tmp_path)
    create_master_key(cfg.store.state_dir / "master.key")
    assert gather_facts(cfg, notice=notice).key_protection == "plain"


def test_the_daemon_records_the_day_the_threshold_is_reached(tmp_path: Path) -> None:
    import numpy as np

    from facegate.service.state import apply_retention
    from facegate.store import ConsentInput, Store, enroll_person

    cfg, _notice, _filing = load(tmp_path, threshold=2)
    key = create_master_key(cfg.store.state_dir / "master.key")
    with Store(cfg.store.state_dir, key) as store:
        for seed in range(2):
            t = np.random.default_rng(seed).normal(size=(1, 128)).astype(np.float32)
            consent = ConsentInput("paper", "v", "admin", "door main")
            enroll_person(store, consent=consent, templates=t / np.linalg.norm(t), space="s",
                          expires_at=store.clock.time() + 86_400)  # fmt: skip
        apply_retention(store, None, cfg)
    crossed = Ledger(cfg.store.state_dir).facts().filing_crossed_on
    assert crossed is not None and abs((crossed - dt.date.today()).days) <= 1


def test_the_filing_report_names_the_crossing_day_and_deadline(tmp_path: Path) -> None:
    from facegate.compliance.documents import filing_markdown

    cfg, notice, filing = load(tmp_path, threshold=10)
    facts = good_facts(None, people_with_face=12,
                       ledger=ledger(filing_crossed_on=dt.date(2026, 6, 1)))  # fmt: skip
    md = filing_markdown(cfg, notice, filing, facts, today=TODAY)
    assert "2026-06-01" in md and "filing due by 2026-07-13" in md


def test_the_pia_states_the_capture_zone_and_trigger(tmp_path: Path) -> None:
    cfg, notice, filing = load(tmp_path)
    zone = cfg.face_zone.model_copy(update={"trigger": "request"})
    cfg = cfg.model_copy(update={"face_zone": zone})
    md = pia_markdown(cfg, notice, filing, good_facts(None), today=TODAY)
    assert "人脸识别区域" in md and "trigger: request" in md and "never embedded" in md
