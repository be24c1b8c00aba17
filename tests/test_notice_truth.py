"""The sign is truthful and complete (issue 15 findings 2 and 3): every item Art. 5 and
PIPL Art. 17/30 ask for, the periods the code enforces (driven here through that code), the
handler as 个人信息处理者, pseudonymised not anonymised, localised fields, speech that reads
numbers and addresses, and a deletion receipt in Chinese at local time.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from facegate.compliance.notice_items import IDENTITY_LABELS
from facegate.compliance.notice_speech import audio_text
from facegate.compliance.notice_text import build_notice
from facegate.compliance.periods import retention_periods
from facegate.config import load_config_text
from facegate.store import ConsentInput, Store, create_master_key, enroll_person, withdraw
from facegate.store.db import Event
from facegate.store.lifecycle import Identity, Receipt
from facegate.store.retention import DAY_S, purge_expired
from test_compliance_helpers import config_text, load

ITEMS = [
    "controller",  # 个人信息处理者 and contact (Art. 5; PIPL Art. 17)
    "purpose",
    "necessity",  # PIPL Art. 30
    "zone",  # where faces are processed, and what happens there
    "method",
    "data",  # kinds of data (PIPL Art. 17)
    "retention",
    "minors",
    "alternatives",
    "withdrawal",
    "rights",  # with the procedure and a response time
    "complaints",  # the cyberspace administration
    "changes",  # PIPL Art. 14
]


def _bundle(tmp_path: Path, extra: str = ""):  # type: ignore[no-untyped-def]
    cfg = load_config_text(config_text(tmp_path / "state", extra=extra))
    return cfg, build_notice(cfg)


def test_every_item_in_both_languages_zh_cn_first(tmp_path: Path) -> None:
    _cfg, bundle = _bundle(tmp_path)
    assert bundle.languages[0] == "zh-CN"
    for lang in ("zh-CN", "en"):
        assert [i.key for i in bundle.text(lang).items] == ITEMS
    zh = bundle.text("zh-CN")
    assert zh.item("controller").heading == "个人信息处理者及联系方式"
    assert "收集者" not in zh.canonical()
    assert "人脸识别区域" in zh.banner and zh.banner in zh.canonical()
    assert "个工作日内答复" in zh.item("rights").body
    assert "网信部门" in zh.item("complaints").body
    assert "14周岁" in zh.item("minors").body and "监护人" in zh.item("minors").body
    for label, _en in IDENTITY_LABELS.values():
        assert label in zh.item("data").body
    assert "哈希值" in zh.item("data").body and "通行的记录" in zh.item("data").body


def test_the_data_kinds_follow_the_identity_fields_of_the_store() -> None:
    assert [f.name for f in dataclasses.fields(Identity)] == list(IDENTITY_LABELS)


def test_events_are_called_pseudonymised_never_anonymised(tmp_path: Path) -> None:
    _cfg, bundle = _bundle(tmp_path)
    zh, en = bundle.text("zh-CN").canonical(), bundle.text("en").canonical()
    assert "假名化" in zh and "匿名保存" not in zh and "不是匿名" in zh
    assert "pseudonymised" in en and "anonymized" not in en and "not anonymous" in en


def test_periods_come_from_the_configuration(tmp_path: Path) -> None:
    extra = "enrollment: {minor_age: 16}\n"
    cfg, bundle = _bundle(tmp_path, extra)
    other = cfg.retention.model_copy(update={"template_days": 200, "event_days": 45})
    changed = build_notice(cfg.model_copy(update={"retention": other}))
    zh = changed.text("zh-CN").item("retention").body
    assert "200天" in zh and "45天" in zh and "3年" in zh
    assert "16周岁" in bundle.text("zh-CN").item("minors").body
    assert "under 16" in bundle.text("en").item("minors").body


def _templates(seed: int) -> np.ndarray:
    t = np.random.default_rng(seed).normal(size=(1, 128)).astype(np.float32)
    return t / np.linalg.norm(t)


def test_the_periods_on_the_sign_are_the_ones_the_code_enforces(tmp_path: Path) -> None:
    cfg = load_config_text(config_text(tmp_path / "state"))
    keys = [p.key for p in retention_periods(cfg)]
    assert keys == ["templates", "events", "audit", "records", "identity"]
    r = cfg.retention
    key = create_master_key(tmp_path / "state" / "master.key")
    with Store(tmp_path / "state", key) as store:
        now = store.clock.time()
        consent = ConsentInput("paper", "v", "admin", "door main")
        expiring = enroll_person(store, consent=consent, templates=_templates(1), space="s",
                                 expires_at=now - 1)  # fmt: skip
        for age_days in (r.event_days - 1, r.event_days + 1):
            when = now - age_days * DAY_S
            store.record_event(Event(when, "main", "pin", "granted", "p", None, ""))
        with store.transaction() as db:
            db.execute(
                "INSERT INTO processing_records (ts, kind, pseudonym, consent_id, detail)"
                " VALUES (?, 'old', NULL, NULL, '{}')",
                (now - (r.record_years * 365.25 + 1) * DAY_S,),
            )
        report = purge_expired(store, event_days=r.event_days, record_years=r.record_years,
                               now=now)  # fmt: skip
        assert report.templates == 1 and report.events == 1 and report.records == 1
        assert store._db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 1
        # Consent records stay (the sign says "at least", as evidence of lawful processing).
        assert (
            store._db.execute(
                "SELECT COUNT(*) FROM consents WHERE pseudonym = ?", (expiring.pseudonym,)
            ).fetchone()[0]
            == 1
        )
    from facegate.clock import FakeClock
    from facegate.service.state import open_state

    store, audit = open_state(cfg, FakeClock(), master_key=key)
    try:
        assert audit.keep_years == r.record_years  # the audit log's period on the sign
    finally:
        audit.close()
        store.close()


def test_localised_site_name_and_contact(tmp_path: Path) -> None:
    text = config_text(tmp_path / "state").replace(
        "  controller_contact:",
        "  site_name: {zh-CN: 阳光花园 3 号楼, en: Sunrise Garden Building 3}\n"
        "  controller_contact:",
    )
    text = text.replace(
        'controller_contact: "物业服务中心 0571-8888 6666"',
        "controller_contact: {zh-CN: 物业服务中心 0571-8888 6666,"
        " en: Property office 0571-8888 6666}",
    )
    bundle = build_notice(load_config_text(text))
    assert bundle.text("zh-CN").site_name == "阳光花园 3 号楼"
    assert bundle.text("en").site_name == "Sunrise Garden Building 3"
    assert "Property office" in bundle.text("en").item("controller").body
    assert "物业服务中心" not in bundle.text("en").canonical()


@pytest.mark.parametrize(
    ("lang", "text", "spoken"),
    [
        ("zh-CN", "地址：5 号楼 2 单元 301 室", "五号楼二单元三零一室"),
        ("zh-CN", "举报电话12377", "一 二 三 七 七"),
        ("zh-CN", "生效 2026 年", "二零二六年"),
        ("en", "Room 301, Building 5", "room three oh one, Building five"),
        ("en", "the middle 15% of the picture", "fifteen percent"),
    ],
)
def test_speech_reads_numbers_and_addresses(
    tmp_path: Path, lang: str, text: str, spoken: str
) -> None:
    cfg = _bundle(tmp_path)[0]
    notice = cfg.notice.model_copy(update={"extra": [text], "languages": [lang]})  # type: ignore[union-attr]
    said = audio_text(build_notice(cfg, notice), lang)  # type: ignore[arg-type]
    assert spoken.replace(" ", "") in said.replace(" ", "").replace("，", "")


def test_the_deletion_receipt_is_chinese_first_at_local_time() -> None:
    at = dt.datetime(2026, 6, 1, 1, 30, tzinfo=dt.UTC).timestamp()
    receipt = Receipt("withdrawal", "p-3f6d0d", ("c-1",), {"face templates": 2}, at, ("PIN entry",))
    lines = receipt.lines("Asia/Shanghai")
    assert lines[0] == "facegate 撤回同意回执"
    assert any("2026年06月01日 09:30:00（北京时间" in line for line in lines)
    assert any("人脸特征模板 2 项" in line for line in lines)
    english = lines.index("facegate consent withdrawal receipt")
    assert english > 4 and any("09:30:00 CST" in line for line in lines[english:])
    assert any("2026-06-01 01:30:00 UTC" in line for line in lines)


def test_a_withdrawal_receipt_from_the_store(tmp_path: Path) -> None:
    key = create_master_key(tmp_path / "state" / "master.key")
    with Store(tmp_path / "state", key) as store:
        consent = ConsentInput("paper", "v", "admin", "door main")
        person = enroll_person(store, consent=consent, templates=_templates(3), space="s",
                               expires_at=store.clock.time() + 86_400)  # fmt: skip
        lines = withdraw(store, person.pseudonym).lines("Europe/Berlin")
    assert any("（Europe/Berlin；" in line for line in lines)
    assert load  # the helper module is shared with the checklist tests


def test_the_readme_sign_is_the_current_one() -> None:
    """The README shows hardware/notice-zh-CN.png with the version it was rendered at; a
    change of the sign's text changes the version, and this test asks to render it again."""
    root = Path(__file__).resolve().parents[1]
    bundle = build_notice(load_config_text((root / "config" / "example.yaml").read_text()))
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert "![the zh-CN notice sign](hardware/notice-zh-CN.png)" in readme
    assert f"notice version `{bundle.short_version}`" in readme, (
        "re-render: facegate notice render -c config/example.yaml --size A3 --dpi 72 "
        "--no-record --out hardware/notice-zh-CN.png, and put its version in the README"
    )
    assert (root / "hardware" / "notice-zh-CN.png").stat().st_size > 50_000


def test_every_test_the_article_table_names_exists() -> None:
    """The README's article table names tests as ``file.py::test`` (or ``::test`` for the
    file named before it in the row); each must exist, so the table cannot drift."""
    import re

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The law, article by article", 1)[1].split("\n## ", 1)[0]
    checked = 0
    for row in section.splitlines():
        if not row.startswith("| ") or row.startswith("| article") or row.startswith("| ---"):
            continue
        current = None
        for file, name in re.findall(r"`(?:(test_\w+\.py))?(?:::(\w+))?(?:\[\w+\])?`", row):
            if file:
                current = file
                assert (root / "tests" / file).is_file(), file
            if name:
                assert current is not None, row
                source = (root / "tests" / current).read_text(encoding="utf-8")
                assert f"def {name}(" in source, f"{current}::{name}"
                checked += 1
    assert checked >= 20
