"""``facegate eval``: the error-rate maths on hand-made scores, and the protocol on real photos."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import shutil
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from facegate.cli import eval as eval_cli
from facegate.cli.eval import add_eval_parser, eval_config
from facegate.config import DlibEmbedderConfig
from facegate.measure.eval_setup import EVAL_KEYS
from facegate.measure.faces import FacesFolderError, read_photo, scan_faces
from facegate.measure.metrics import det_curve, eer, fnmr_fmr, fpir, rank1, tar_at_far

# -- metrics ---------------------------------------------------------------------------------


def test_perfect_separation() -> None:
    genuine = np.array([0.8, 0.85, 0.9])
    impostor = np.array([0.1, 0.2, 0.3, 0.4])
    assert eer(genuine, impostor) == 0.0
    assert fnmr_fmr(genuine, impostor, 0.6) == (0.0, 0.0)
    # At the lowest genuine score that score is still accepted (≥), one below it is not.
    assert fnmr_fmr(genuine, impostor, 0.8) == (0.0, 0.0)
    assert fnmr_fmr(genuine, impostor, 0.85) == (pytest.approx(1 / 3), 0.0)
    assert fnmr_fmr(genuine, impostor, 0.4) == (0.0, 0.25)  # an impostor AT t is a match
    tar, t, limited = tar_at_far(genuine, impostor, 1e-3)
    assert tar == 1.0 and 0.4 < t <= 0.8 and limited  # 4 impostors cannot resolve 1e-3


def test_fully_overlapping_scores_give_eer_one_half() -> None:
    same = np.linspace(0.0, 1.0, 101)
    assert eer(same, same) == pytest.approx(0.5, abs=1e-9)
    rng = np.random.default_rng(7)
    g, i = rng.normal(0.5, 0.1, 20_000), rng.normal(0.5, 0.1, 20_000)
    assert eer(g, i) == pytest.approx(0.5, abs=0.02)


def test_eer_on_a_hand_computed_set() -> None:
    # Between 0.5 and 0.55 one genuine (0.5) is rejected and one impostor (0.55) accepted:
    # FNMR = FMR = 1/4, and no threshold does better on both.
    genuine = np.array([0.5, 0.6, 0.7, 0.8])
    impostor = np.array([0.1, 0.2, 0.3, 0.55])
    assert eer(genuine, impostor) == pytest.approx(0.25)


def test_tar_at_far_by_hand() -> None:
    impostor = np.arange(1000) / 1000.0  # 0.000 … 0.999
    genuine = np.array([0.5, 0.9985, 0.999, 1.2])
    # 1000 impostors at FAR 1e-3: one false accept allowed (0.999), so the loosest threshold
    # is just above 0.998, which accepts 0.9985, 0.999 and 1.2: TAR 3/4.
    tar, t, limited = tar_at_far(genuine, impostor, 1e-3)
    assert (tar, limited) == (0.75, False)
    assert 0.998 < t < 0.9985
    assert fnmr_fmr(genuine, impostor, t)[1] == pytest.approx(1e-3)
    # At 1e-4 the sample allows no false accept: measured just above the top impostor (0.999),
    # and flagged as limited by the sample size.
    tar, t, limited = tar_at_far(genuine, impostor, 1e-4)
    assert (tar, limited) == (0.25, True)
    assert 0.999 < t < 0.9991
    assert fnmr_fmr(genuine, impostor, t)[1] == 0.0


def test_rank1_and_fpir_by_hand() -> None:
    scores = np.array([[0.9, 0.1], [0.2, 0.3], [0.5, 0.4]])
    assert rank1(scores, np.array([0, 0, 1])) == pytest.approx(1 / 3)
    assert rank1(scores, np.array([0, 1, 0])) == 1.0
    assert fpir(np.array([0.1, 0.5, 0.95]), 0.5) == pytest.approx(2 / 3)


def test_empty_sets_are_not_a_number_not_a_guess() -> None:
    empty = np.zeros(0)
    assert math.isnan(fpir(empty, 0.5))
    assert math.isnan(eer(empty, np.array([0.1])))
    assert all(math.isnan(x) for x in fnmr_fmr(empty, empty, 0.5))
    tar, t, limited = tar_at_far(np.array([0.9]), empty, 1e-3)
    assert math.isnan(tar) and math.isnan(t) and limited
    with pytest.raises(ValueError):
        det_curve(empty, np.array([0.1]))


@settings(max_examples=60, deadline=None)
@given(
    genuine=st.lists(st.sampled_from(np.linspace(-1, 1, 41).tolist()), min_size=1, max_size=40),
    impostor=st.lists(st.sampled_from(np.linspace(-1, 1, 41).tolist()), min_size=1, max_size=40),
)
def test_det_curve_is_monotonic_and_matches_brute_force(
    genuine: list[float], impostor: list[float]
) -> None:
    g, i = np.array(genuine), np.array(impostor)
    thresholds, fmr, fnmr = det_curve(g, i)
    assert np.all(np.diff(thresholds) > 0)
    assert np.all(np.diff(fmr) <= 0) and np.all(np.diff(fnmr) >= 0)
    assert (fmr[0], fnmr[0], fmr[-1], fnmr[-1]) == (1.0, 0.0, 0.0, 1.0)
    for t, a, b in zip(thresholds, fmr, fnmr, strict=True):  # small sets: a plain loop is fine
        assert (b, a) == pytest.approx(fnmr_fmr(g, i, t))
    e = eer(g, i)
    assert 0.0 <= e <= 1.0
    assert e >= min(min(x, y) for x, y in zip(fmr, fnmr, strict=True)) - 1e-12
    assert e <= min(max(x, y) for x, y in zip(fmr, fnmr, strict=True)) + 1e-12


# -- the folder ------------------------------------------------------------------------------


def run_eval(argv: list[str]) -> tuple[int, str, str]:
    """``facegate eval ARGV`` through its own parser; returns (status, stdout, stderr)."""
    parser = argparse.ArgumentParser(prog="facegate")
    add_eval_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["eval", *argv])
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = args.func(args)
    return status, out.getvalue(), err.getvalue()


def test_scan_ignores_hidden_and_non_image_files(tmp_path: Path) -> None:
    (tmp_path / "ann").mkdir()
    for name in ("b.JPG", "a.png", "notes.txt", ".hidden.jpg", "c.jpeg"):
        (tmp_path / "ann" / name).write_bytes(b"x")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.jpg").write_bytes(b"x")
    (tmp_path / "empty").mkdir()
    (tmp_path / "loose.jpg").write_bytes(b"x")
    people = scan_faces(tmp_path)
    assert [p.name for p in people] == ["ann"]
    assert [p.name for p in people[0].photos] == ["a.png", "b.JPG", "c.jpeg"]
    with pytest.raises(FacesFolderError, match="no person folders"):
        scan_faces(tmp_path / "empty")


def test_large_photos_are_scaled_down_to_1600(tmp_path: Path) -> None:
    big = np.full((1000, 2400, 3), 90, np.uint8)
    cv2.imwrite(str(tmp_path / "big.png"), big)
    rgb = read_photo(tmp_path / "big.png")
    assert rgb is not None and rgb.shape == (667, 1600, 3)
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg")
    assert read_photo(tmp_path / "bad.jpg") is None


@pytest.fixture
def tiny_faces(tmp_path: Path, testdata: Path) -> Path:
    """2 enrolled people, 1 stranger, 1 failed enrolment, a broken file, a faceless image."""
    src = testdata / "faces"
    root = tmp_path / "faces"
    grey = np.full((480, 640, 3), 128, np.uint8)

    def put(person: str, name: str, source: Path | None = None) -> None:
        (root / person).mkdir(parents=True, exist_ok=True)
        if source is not None:
            shutil.copyfile(source, root / person / name)

    put("alice", "1.jpg", src / "barack_obama" / "obama.jpg")  # enrolled
    put("alice", "2.jpg", src / "barack_obama" / "obama2.jpg")  # genuine probe
    (root / "alice" / "broken.jpg").write_bytes(b"\xff\xd8 truncated, not an image")  # FTA
    (root / "alice" / "notes.txt").write_text("ignored")
    put("bob", "a.jpg", src / "jack_dorsey" / "img16.jpg")  # enrolled
    put("bob", "b.jpg", src / "jack_dorsey" / "img17.jpg")  # genuine probe
    put("bob", ".hidden.jpg", src / "elon_musk" / "img18.jpg")  # hidden: ignored
    put("carol", "0.png")  # enrolment photo without a face: failure to enrol
    cv2.imwrite(str(root / "carol" / "0.png"), grey)
    put("carol", "1.jpg", src / "elon_musk" / "img18.jpg")  # so not a probe
    put("stranger", "x.jpg", src / "sundar_pichai" / "img24.jpg")  # impostor probe
    put("nobody", "grey.png")  # stranger without a face: FTA
    cv2.imwrite(str(root / "nobody" / "grey.png"), grey)
    (root / "README.txt").write_text("not a person")
    return root


def test_protocol_counts_on_a_tiny_folder(
    tiny_faces: Path, models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(eval_cli, "PROGRESS_ABOVE", 0)  # exercise the progress-bar path too
    out_json = tmp_path / "tiny.json"
    status, out, err = run_eval(["--faces", str(tiny_faces), "--details", str(out_json)])
    assert status == 0, err
    report = json.loads(out_json.read_text())
    assert {k: report[k] for k in COUNTS} == {
        "identities": 5,  # alice, bob, carol, stranger, nobody
        "enrolled": 2,  # alice, bob
        "genuine_probes": 2,  # alice/2.jpg, bob/b.jpg
        # 2 genuine probes × 1 other enrolled person + 1 stranger × 2 enrolled people
        "impostor_comparisons": 4,
        "failure_to_enroll": 1,  # carol/0.png
        "failure_to_acquire": 2,  # alice/broken.jpg, nobody/grey.png
    }
    assert report["stranger_probes"] == 1
    assert report["photos_not_used"] == 1  # carol/1.jpg
    assert report["rank1"] == 1.0
    assert report["fpir"] == 0.0
    assert report["fmr"] == 0.0
    assert (
        "enrolment carol/0.png: no face found (failure to enrol; 1 other photo(s) not used" in out
    )
    assert "probe alice/broken.jpg: not a readable JPEG/PNG image" in out
    assert "probe nobody/grey.png: no face found" in out


# -- the shared faces folder -----------------------------------------------------------------

COUNTS = (
    "identities",
    "enrolled",
    "genuine_probes",
    "impostor_comparisons",
    "failure_to_enroll",
    "failure_to_acquire",
)
RATES = ("threshold", "fnmr", "fmr", "tar_at_far_1e-3", "tar_at_far_1e-4", "eer", "rank1")


@pytest.fixture(scope="module")
def shared_run(
    models_dir: Path, testdata: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """``facegate eval`` on ../shared/testdata/faces once for the whole module (~10 s)."""
    tmp = tmp_path_factory.mktemp("eval")
    status, out, err = run_eval(
        [
            "--faces",
            str(testdata / "faces"),
            "--json",
            str(tmp / "out.json"),
            "--details",
            str(tmp / "details.json"),
            "--plot",
            str(tmp / "det.png"),
            "--embedder",  # dlib's numbers below; sface (the default) in tests/test_sface.py
            "dlib-fast",
        ]
    )
    assert status == 0, err
    published = json.loads((tmp / "out.json").read_text())
    assert list(published) == list(EVAL_KEYS)  # exactly the published keys, in order
    details = json.loads((tmp / "details.json").read_text())
    assert {k: details[k] for k in EVAL_KEYS} == published
    return {
        "report": details,
        "png": tmp / "det.png",
        "out": out,
    }


def test_shared_faces_report(shared_run: dict[str, Any]) -> None:
    r = shared_run["report"]
    for key in COUNTS:
        assert type(r[key]) is int, key
    for key in (*RATES, "ms_per_image", "impostor_mean", "impostor_std"):
        assert type(r[key]) is float, key
    assert r["embedder"] == "dlib-fast"
    # Every person has 2+ photos: no strangers, so FPIR cannot be measured and is null.
    assert r["fpir"] is None and r["stranger_probes"] == 0
    assert r["identities"] == 13
    assert r["enrolled"] == 13 - r["failure_to_enroll"]
    assert r["failure_to_enroll"] <= 1  # 001_A.jpg, a full-body shot, may have no usable face
    photos = 34
    used = r["enrolled"] + r["failure_to_enroll"] + r["genuine_probes"] + r["failure_to_acquire"]
    assert used + r["photos_not_used"] == photos
    assert r["impostor_comparisons"] == r["genuine_probes"] * (r["enrolled"] - 1)
    assert r["genuine_probes"] >= 15
    assert r["rank1"] >= 0.95
    assert r["fmr"] == 0.0
    assert r["fnmr"] <= 0.1
    assert 0.0 <= r["eer"] <= 0.05
    # Fewer than 1000 impostor comparisons: both TAR@FAR points are sample-limited and say so.
    assert r["tar_at_far_limited_by_sample"] == {"1e-3": True, "1e-4": True}
    assert "limited by sample size" in shared_run["out"]
    assert 0.7 < r["impostor_mean"] < 0.9 and 0.0 < r["impostor_std"] < 0.1
    fpir_thresholds = r["thresholds_for_fpir"]
    assert fpir_thresholds["0.01"] == pytest.approx(r["threshold"])  # the configured target
    values = [fpir_thresholds[k] for k in ("0.1", "0.01", "0.001", "0.0001")]
    assert values == sorted(values)  # stricter FPIR target, higher threshold
    assert 0 < r["ms_per_image"] < 10_000


def test_shared_faces_det_plot(shared_run: dict[str, Any]) -> None:
    png: Path = shared_run["png"]
    assert png.stat().st_size > 10_000
    image = cv2.imread(str(png), cv2.IMREAD_COLOR)
    assert image is not None
    h, w = image.shape[:2]
    assert w >= 600 and h >= 500
    assert image.std() > 10  # not a blank canvas


# -- usage errors ----------------------------------------------------------------------------


def one_line_usage_error(argv: list[str]) -> str:
    status, out, err = run_eval(argv)
    assert status == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_missing_folder(tmp_path: Path) -> None:
    assert "no such folder" in one_line_usage_error(["--faces", str(tmp_path / "nope")])


def test_folder_without_person_folders(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "empty-person").mkdir()
    assert "no person folders" in one_line_usage_error(["--faces", str(tmp_path)])


def test_folder_where_nobody_can_be_enrolled(tmp_path: Path) -> None:
    for person in ("a", "b"):
        (tmp_path / person).mkdir()
        (tmp_path / person / "only.jpg").write_bytes(b"x")
    assert "2 or more photos" in one_line_usage_error(["--faces", str(tmp_path)])


TFLITE_CONFIG = """\
site: {name: t, kind: campus, purpose: Testing the eval command only.}
camera: {type: replay, path: clip}
doors: [{id: main, relay: {pin: 17}}]
embedder:
  type: tflite
  model: mobilefacenet.tflite
  sha256: "0000000000000000000000000000000000000000000000000000000000000000"
  name: mobilefacenet
  impostor_mean: 0.0
  impostor_std: 0.1
"""


def test_unknown_embedder(tmp_path: Path) -> None:
    faces = tmp_path / "faces"
    (faces / "a").mkdir(parents=True)
    for name in ("1.jpg", "2.jpg"):
        (faces / "a" / name).write_bytes(b"x")
    line = one_line_usage_error(["--faces", str(faces), "--embedder", "arcface"])
    assert "--embedder arcface" in line and "dlib" in line

    cfg = tmp_path / "facegate.yaml"
    cfg.write_text(TFLITE_CONFIG)
    line = one_line_usage_error(["--faces", str(faces), "--embedder", "arcface", "-c", str(cfg)])
    assert "'mobilefacenet'" in line

    dlib_cfg = tmp_path / "dlib.yaml"
    dlib_cfg.write_text(TFLITE_CONFIG.split("embedder:")[0])
    line = one_line_usage_error(
        ["--faces", str(faces), "--embedder", "arcface", "-c", str(dlib_cfg)]
    )
    assert "dlib embedder" in line


def test_embedder_selection(tmp_path: Path) -> None:
    cfg = tmp_path / "facegate.yaml"
    cfg.write_text(TFLITE_CONFIG)
    assert eval_config(cfg, "mobilefacenet").embedder.type == "tflite"
    assert isinstance(eval_config(cfg, "dlib").embedder, DlibEmbedderConfig)
    builtin = eval_config(None, None)  # issue 20: the built-in default is SFace on YuNet
    assert (builtin.embedder.type, builtin.detector.type) == ("sface", "yunet")
    assert eval_config(None, "dlib-fast").embedder.type == "dlib-fast"


def test_plot_must_be_png(tmp_path: Path) -> None:
    faces = tmp_path / "faces"
    (faces / "a").mkdir(parents=True)
    for name in ("1.jpg", "2.jpg"):
        (faces / "a" / name).write_bytes(b"x")
    line = one_line_usage_error(["--faces", str(faces), "--plot", str(tmp_path / "det.pdf")])
    assert ".png" in line


def test_help_describes_the_protocol(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="facegate")
    add_eval_parser(parser.add_subparsers(dest="command"))
    with pytest.raises(SystemExit) as exc:
        parser.parse_args(["eval", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for word in ("--faces", "--json", "--plot", "--embedder", "name order", "FPIR"):
        assert word in text


def test_eval_is_a_facegate_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from facegate.cli import main

    assert main(["eval", "--faces", str(tmp_path / "missing")]) == 2
    assert "missing" in capsys.readouterr().err
