"""PIA and filing drafts (Markdown and PDF), and the compliance subcommands end to end."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import pytest

from facegate.cli.compliance import add_compliance_parsers
from facegate.compliance import build_notice
from facegate.compliance.documents import filing_markdown, pia_markdown
from facegate.compliance.facts import ComplianceFacts
from facegate.config.filing import FilingConfig
from facegate.errors import ConfigError
from facegate.store import create_master_key
from test_compliance_helpers import config_text, good_facts, load
from test_compliance_notice import _font_or_skip, assert_not_blank, pdf_pages

TODAY = dt.date(2026, 7, 1)
MARK = "【待填写 / TO FILL"


def _facts(tmp_path: Path, **overrides: object) -> tuple[object, ...]:
    cfg, notice, filing = load(tmp_path)
    assert notice is not None
    version = build_notice(cfg, notice).version
    return cfg, notice, filing, good_facts(version, **overrides)


def test_pia_has_the_required_parts(tmp_path: Path) -> None:
    cfg, notice, filing, facts = _facts(tmp_path, people_with_face=1234, audit_verified=None)
    md = pia_markdown(cfg, notice, filing, facts, today=TODAY)  # type: ignore[arg-type]
    assert "2026-07-01" in md
    for part in (
        "处理目的与必要性",
        "处理方式",
        "处理范围",
        "是否合法、正当、必要",
        "对个人权益的影响",
        "泄露、篡改、丢失",
        "与风险相适应",
        "Security measures in force",
        "保存期限",
        "签字 Signatures",
    ):
        assert part in md, part
    assert "1234" in md  # live count
    assert "main (南门), north" in md  # doors
    assert "阳光花园物业服务有限公司" in md
    # Measures come from the live state: the missing audit chain is not claimed.
    assert "| 安全审计 Security audit (hash-chained, signed log) | 待确认 unconfirmed |" in md
    assert md.count(MARK) >= 8
    assert "不少于三年" in md


def test_pia_lists_failing_measures(tmp_path: Path) -> None:
    cfg, notice, filing, facts = _facts(tmp_path, key_file_mode=0o644)
    md = pia_markdown(cfg, notice, filing, facts, today=TODAY)  # type: ignore[arg-type]
    assert "key_file (Art. 14)" in md
    assert "未落实 NOT in force" in md


def test_pia_without_notice_marks_the_controller_to_fill(tmp_path: Path) -> None:
    cfg, _notice, filing = load(tmp_path)
    md = pia_markdown(cfg, None, filing, ComplianceFacts(), today=TODAY)
    assert f"Controller: {MARK}" in md


@pytest.mark.parametrize(("count", "reached"), [(99_999, False), (100_000, True)])
def test_filing_report(tmp_path: Path, count: int, reached: bool) -> None:
    cfg, notice, _filing, facts = _facts(tmp_path, people_with_face=count)
    md = filing_markdown(cfg, notice, FilingConfig(), facts, today=TODAY)  # type: ignore[arg-type]
    assert f"**{count}**" in md
    assert ("已达到" in md) is reached
    for part in (
        "处理者基本情况",
        "处理目的和方式",
        "存储人脸信息的数量",
        "安全保护措施",
        "处理规则和操作规程",
        "个人信息保护影响评估",
    ):
        assert part in md, part
    assert f"统一社会信用代码 Unified social credit code | {MARK}" in md
    assert f"备案编号 Filing reference: {MARK}" in md
    filed = filing_markdown(
        cfg,  # type: ignore[arg-type]
        notice,  # type: ignore[arg-type]
        FilingConfig(reference="浙网信备 0001"),
        facts,  # type: ignore[arg-type]
        today=TODAY,
    )
    assert "备案编号 Filing reference: 浙网信备 0001" in filed


# -- the subcommands -------------------------------------------------------------------------


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    add_compliance_parsers(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "facegate.yaml"
    path.write_text(config_text(tmp_path / "state"), encoding="utf-8")
    create_master_key(tmp_path / "state" / "master.key")
    return path


def test_check_command_exit_codes(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Fresh device: the notice version is not recorded yet → FAIL → 3.
    assert _run("compliance", "check", "-c", str(config_file)) == 3
    out = capsys.readouterr().out
    assert "notice" in out and "FAIL" in out and "would refuse to start" in out
    assert _run("notice", "hash", "-c", str(config_file), "--record") == 0
    version = capsys.readouterr().out.strip()
    assert len(version) == 64
    # Recorded but never rendered: no sign is posted → still FAIL (issue 15 finding 7).
    assert _run("compliance", "check", "-c", str(config_file)) == 3
    out = capsys.readouterr().out
    assert "1 FAIL" in out and "never" in out and "rendered" in out
    sign = tmp_path / "sign.html"
    assert _run("notice", "render", "-c", str(config_file), "--out", str(sign)) == 0
    assert _run("compliance", "check", "-c", str(config_file)) == 0
    assert "ready to start" in capsys.readouterr().out
    private = tmp_path / "private.yaml"
    private.write_text(config_text(tmp_path / "state", kind="hotel_room"), encoding="utf-8")
    assert _run("compliance", "check", "-c", str(private)) == 3


def test_config_errors_raise_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(config_text(tmp_path / "s").replace("controller_name", "controler_name"))
    with pytest.raises(ConfigError):
        _run("compliance", "check", "-c", str(bad))
    none = tmp_path / "none.yaml"
    none.write_text(config_text(tmp_path / "s", notice=False))
    with pytest.raises(ConfigError) as err:
        _run("notice", "hash", "-c", str(none))
    # Before notice: is wired into FacegateConfig the command says so; after, the loader does.
    message = " ".join([str(err.value), *err.value.problems])
    assert "no notice: section" in message or "required key is missing" in message


def test_notice_render_command_writes_and_records(config_file: Path, tmp_path: Path) -> None:
    for fmt, name in (("html", "n.html"), ("short", "short.txt"), ("audio", "audio.txt")):
        out = tmp_path / name
        assert (
            _run("notice", "render", "-c", str(config_file), "--format", fmt, "--out", str(out))
            == 0
        )
        assert out.stat().st_size > 100
    assert list((tmp_path / "state" / "notices").glob("*.json"))
    with pytest.raises(ConfigError, match="--format"):
        _run("notice", "render", "-c", str(config_file), "--out", str(tmp_path / "x.doc"))


def test_documents_as_markdown_and_pdf(config_file: Path, tmp_path: Path) -> None:
    for cmd in (("pia", "render"), ("filing", "report")):
        md = tmp_path / f"{cmd[0]}.md"
        assert _run(*cmd, "-c", str(config_file), "--out", str(md)) == 0
        assert MARK in md.read_text(encoding="utf-8")
    _font_or_skip()
    for cmd in (("pia", "render"), ("filing", "report")):
        pdf = tmp_path / f"{cmd[0]}.pdf"
        assert _run(*cmd, "-c", str(config_file), "--out", str(pdf)) == 0
        folder = tmp_path / cmd[0]
        folder.mkdir()
        pages = pdf_pages(pdf, folder)
        assert 2 <= len(pages) <= 8
        for page in pages:
            assert page.shape[:2] == (585, 414)  # A4 at 50 dpi (height, width)
            assert_not_blank(page)
    with pytest.raises(ConfigError):
        _run("pia", "render", "-c", str(config_file), "--out", str(tmp_path / "pia.docx"))


def test_notice_pdf_command(config_file: Path, tmp_path: Path) -> None:
    _font_or_skip()
    out = tmp_path / "sign.pdf"
    args = ("notice", "render", "-c", str(config_file), "--lang", "zh-CN", "--size", "A5")
    assert _run(*args, "--out", str(out)) == 0
    pages = pdf_pages(out, tmp_path)
    assert 1 <= len(pages) <= 2  # an A5 hand-out of the complete sign
    for page in pages:
        assert_not_blank(page)
