"""The notice: required items in zh-CN, a stable version hash, renderings, the font error."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from facegate.compliance import FontNotFoundError, audio_text, build_notice, short_text
from facegate.compliance import fonts as fonts_mod
from facegate.compliance.layout import wrap
from facegate.compliance.notice_render import render_html, render_notice
from facegate.compliance.notice_speech import en_number, zh_number
from facegate.compliance.notice_text import NoticeBundle
from test_compliance_helpers import CONTACT, load


@pytest.fixture
def bundle(tmp_path: Path) -> NoticeBundle:
    cfg, notice, _ = load(tmp_path)
    assert notice is not None
    return build_notice(cfg, notice)


def _font_or_skip() -> None:
    try:
        fonts_mod.find_cjk_font()
    except FontNotFoundError as exc:
        pytest.skip(str(exc))


def _pdftoppm() -> str:
    exe = shutil.which("pdftoppm")
    if exe is None:
        pytest.skip("pdftoppm not installed (Debian: apt-get install poppler-utils)")
    return exe


def pdf_pages(pdf: Path, out_dir: Path, dpi: int = 50) -> list[np.ndarray]:
    """Rasterise a PDF with pdftoppm; one BGR image per page."""
    subprocess.run(
        [_pdftoppm(), "-r", str(dpi), "-png", str(pdf), str(out_dir / "page")],
        check=True,
        capture_output=True,
        timeout=60,
    )
    pages: list[np.ndarray] = []
    for path in sorted(out_dir.glob("page-*.png")):
        img = cv2.imread(str(path))
        assert img is not None, path
        pages.append(img)
    assert pages
    return pages


def assert_not_blank(img: np.ndarray) -> None:
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    ink = float(np.mean(grey < 160))
    assert 0.003 < ink < 0.6, f"page looks blank or solid ({ink:.4f} dark)"
    assert float(grey.std()) > 10


def test_zh_cn_notice_has_every_required_item(bundle: NoticeBundle) -> None:
    zh = bundle.text("zh-CN")
    text = zh.canonical()
    assert "阳光花园物业服务有限公司" in zh.item("controller").body  # who
    assert CONTACT in zh.item("controller").body  # contact
    assert "08:00-20:00" in zh.item("controller").body
    assert "开启小区大门" in zh.item("purpose").body  # purpose
    method = zh.item("method").body
    assert "仅在本设备" in method and "模板" in method and "不保存人脸照片" in method
    assert "加密" in method
    retention = zh.item("retention").body
    assert "365天" in retention and "30天" in retention and "3年" in retention
    alt = zh.item("alternatives").body
    assert "密码" in alt and "门禁卡" in alt and "任何人" in alt
    assert "物业服务中心免费办理" in alt  # how
    withdrawal = zh.item("withdrawal").body
    assert "致电" in withdrawal and "立即删除" in withdrawal
    assert "2026-06-01" in text  # date
    assert bundle.short_version in bundle.footer("zh-CN")  # version
    assert "生效日期 2026-06-01" in bundle.footer("zh-CN")


def test_english_notice_has_the_same_items(bundle: NoticeBundle) -> None:
    en = bundle.text("en")
    assert [i.key for i in en.items] == [i.key for i in bundle.text("zh-CN").items]
    assert "PIN" in en.item("alternatives").body and "card" in en.item("alternatives").body
    assert "365 days" in en.item("retention").body
    assert "On this device only" in en.item("method").body


def test_version_is_the_sha256_of_the_canonical_text(tmp_path: Path) -> None:
    import hashlib

    cfg, notice, _ = load(tmp_path)
    assert notice is not None
    a = build_notice(cfg, notice)
    b = build_notice(cfg, notice)
    assert a.version == b.version == hashlib.sha256(a.canonical().encode()).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", a.version) and a.short_version == a.version[:16]
    changed = notice.model_copy(update={"office_hours": "09:00-18:00"})
    assert build_notice(cfg, changed).version != a.version
    longer = cfg.retention.model_copy(update={"template_days": 366})
    assert build_notice(cfg.model_copy(update={"retention": longer}), notice).version != a.version
    wider = cfg.face_zone.model_copy(update={"min_face_px": 120})
    assert build_notice(cfg.model_copy(update={"face_zone": wider}), notice).version != a.version


def test_short_text_fits_a_small_screen(bundle: NoticeBundle) -> None:
    for lang in ("zh-CN", "en"):
        lines = short_text(bundle, lang).splitlines()
        assert 1 <= len(lines) <= 6
        assert all(len(line) <= 40 for line in lines), lines
    zh = short_text(bundle, "zh-CN")
    assert "密码" in zh and "门禁卡" in zh and bundle.short_version in zh


def test_audio_text_is_plain_sentences(bundle: NoticeBundle) -> None:
    zh = audio_text(bundle, "zh-CN")
    assert not re.search(r"\d", zh), "numbers are written out"
    assert not re.search(r"[#*|<>\[\]{}/@·]", zh)
    assert "三百六十五天" in zh and "三十天" in zh
    assert "零 五 七 一" in zh  # the phone number is read digit by digit
    assert "上午八点至晚上八点" in zh
    assert "密码或门禁卡" in zh
    en = audio_text(bundle, "en")
    assert not re.search(r"\d", en)
    assert "three hundred sixty-five days" in en
    assert "eight in the morning to eight in the evening" in en


@pytest.mark.parametrize(
    ("n", "zh", "en"),
    [
        (0, "零", "zero"),
        (10, "十", "ten"),
        (14, "十四", "fourteen"),
        (90, "九十", "ninety"),
        (101, "一百零一", "one hundred one"),
        (730, "七百三十", "seven hundred thirty"),
        (1005, "一千零五", "one thousand five"),
        (100_000, "十万", "one hundred thousand"),
        (100_010, "十万零一十", "one hundred thousand ten"),
    ],
)
def test_numbers_in_words(n: int, zh: str, en: str) -> None:
    assert zh_number(n) == zh
    assert en_number(n) == en


def test_wrap_keeps_punctuation_and_latin_words() -> None:
    def measure(text: str, size: float) -> float:
        return sum(size if ord(c) > 0x2E80 else size * 0.5 for c in text)

    lines = wrap(
        "人脸信息仅在本设备上处理和保存，不通过网络上传。Use a PIN card.", 100, 10, measure
    )
    assert all(measure(line, 10) <= 100 for line in lines)
    assert not any(line.startswith(("，", "。")) for line in lines)
    assert (
        "".join(lines).replace(" ", "")
        == "人脸信息仅在本设备上处理和保存，不通过网络上传。UseaPINcard."
    )


@pytest.mark.parametrize("page", ["A3", "A4", "A5"])
def test_zh_cn_pdf_renders_readable_pages(bundle: NoticeBundle, tmp_path: Path, page: str) -> None:
    _font_or_skip()
    out = tmp_path / "notice.pdf"
    assert render_notice(bundle, "zh-CN", "pdf", out, page=page) == [out]  # type: ignore[arg-type]
    data = out.read_bytes()
    assert data.startswith(b"%PDF") and b"FontFile2" in data  # the CJK font is embedded
    pages = pdf_pages(out, tmp_path)
    # The complete Chinese sign fits one A3 (posted) or A4 page; an A5 hand-out may take two.
    assert len(pages) == 1 or (page == "A5" and len(pages) == 2)
    h, w = pages[0].shape[:2]
    expected = {"A3": (585, 827), "A4": (413, 585), "A5": (292, 413)}[page]  # at 50 dpi
    assert abs(w - expected[0]) <= 2 and abs(h - expected[1]) <= 2
    assert_not_blank(pages[0])


def test_english_pdf_and_png_render(bundle: NoticeBundle, tmp_path: Path) -> None:
    _font_or_skip()
    pdf = tmp_path / "en.pdf"
    render_notice(bundle, "en", "pdf", pdf)
    for img in pdf_pages(pdf, tmp_path):
        assert_not_blank(img)
    png = tmp_path / "en.png"
    written = render_notice(bundle, "en", "png", png)
    assert written[0] == png
    png_img = cv2.imread(str(png))
    assert png_img is not None
    assert png_img.shape[:2] == (1754, 1240)  # A4 at 150 dpi
    assert_not_blank(png_img)


def test_png_large_type(bundle: NoticeBundle, tmp_path: Path) -> None:
    """The posted A3 sign: body text at least 12 pt, and the zone banner in large type."""
    _font_or_skip()
    from collections import Counter

    from facegate.compliance import notice_render

    def measure(text: str, size: float) -> float:
        return len(text) * size

    pages = notice_render.layout_notice(bundle, "zh-CN", "A3", measure)
    assert len(pages) == 1
    texts = [op for op in pages[0] if isinstance(op, notice_render.TextOp)]
    sizes = Counter(op.size for op in texts)
    body = sizes.most_common(1)[0][0]
    assert body >= 12
    assert max(sizes) >= body * 1.7  # the title stands out
    (banner,) = [op for op in texts if "人脸识别区域" in op.text and "Face recognition" in op.text]
    assert banner.size >= body * 1.75  # "人脸识别区域 / Face recognition zone", large


def test_html_is_self_contained_with_print_css(bundle: NoticeBundle, tmp_path: Path) -> None:
    out = tmp_path / "n.html"
    doc = render_html(bundle, "zh-CN", out, page="A5")
    assert out.read_text(encoding="utf-8") == doc
    assert '<html lang="zh-CN">' in doc and "@page { size: A5" in doc
    assert bundle.version in doc and "不刷脸也能通行" in doc
    assert "http" not in doc.replace("http-equiv", "")  # nothing fetched


def test_missing_cjk_font_names_the_package(
    bundle: NoticeBundle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(fonts_mod.FONT_ENV, raising=False)
    monkeypatch.setattr(fonts_mod, "_fontconfig_fonts", lambda: [])
    monkeypatch.setattr(fonts_mod, "KNOWN_FONTS", (("/nonexistent/font.ttc", 0),))
    for fmt in ("pdf", "png"):
        with pytest.raises(FontNotFoundError) as err:
            render_notice(bundle, "zh-CN", fmt, tmp_path / f"x.{fmt}")
        assert "fonts-wqy-microhei" in str(err.value) and "fonts-noto-cjk" in str(err.value)
    # HTML needs no font file.
    render_notice(bundle, "zh-CN", "html", tmp_path / "x.html")


def test_font_env_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bad = tmp_path / "not-a-font.ttf"
    bad.write_bytes(b"nope")
    monkeypatch.setenv(fonts_mod.FONT_ENV, str(bad))
    with pytest.raises(FontNotFoundError, match="FACEGATE_CJK_FONT"):
        fonts_mod.find_cjk_font()


def test_unconfigured_language_is_refused(tmp_path: Path) -> None:
    cfg, notice, _ = load(tmp_path)
    assert notice is not None
    only_zh = notice.model_copy(update={"languages": ["zh-CN"]})
    b = build_notice(cfg, only_zh)
    with pytest.raises(KeyError):
        render_notice(b, "en", "html", tmp_path / "x.html")
