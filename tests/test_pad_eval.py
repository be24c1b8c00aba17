"""``eval-pad`` and ``pad synth``: the measurement itself must be right, and its CLI kind.

The attempt bookkeeping is tested with a scripted judge (so the expected rates are known
exactly); the CLI end to end with real models on a handful of short clips; the anti-spoofing
model on the real screen replay when ``../shared`` has it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from facegate.cli import main
from facegate.config.liveness import LivenessConfig, PadModelConfig
from facegate.measure.pad import (
    PAD_KEYS,
    Attempt,
    AttemptResult,
    PadDraw,
    PadReport,
    evaluate_pad,
    iter_attempts,
    read_clip,
    readme_table,
    run_attempt,
    scan_attacks,
    scan_clips,
    wilson,
)
from facegate.measure.pad_synth import synth_print_clip, write_frames
from facegate.vision.liveness.judge import LivenessVerdict
from facegate.vision.types import Detection

FACE = Detection((10.0, 10.0, 60.0, 60.0), 0.9, ())
SCREEN_MODEL = "face_anti_spoofing/FaceAntiSpoofing.tflite"
SCREEN_MODEL_SHA256 = "a980757d55e2835aff69f2fa9b04914e21d426dd8a43588c2982d50e8038ec02"


@dataclass
class Script:
    """A judge that returns a scripted status per frame time (by clip brightness)."""

    cfg: LivenessConfig
    plan: dict[int, list[str]]  # clip brightness → status per frame index within the track
    seen: dict[int, int]

    def observe(self, track_id: int, image: Any, detection: Any, now: float) -> LivenessVerdict:
        n = self.seen.get(track_id, 0)
        self.seen[track_id] = n + 1
        statuses = self.plan[int(image[0, 0, 0])]
        status = statuses[min(n, len(statuses) - 1)]
        challenged = "challenge" in statuses[: n + 1]
        return LivenessVerdict(status, f"scripted_{status}", {}, None, challenged)  # type: ignore[arg-type]

    def forget(self, track_id: int) -> None:
        self.seen.pop(track_id, None)


def clip(folder: Path, value: int, frames: int) -> Path:
    image = np.full((48, 64, 3), value, np.uint8)
    return write_frames([image] * frames, folder)


def test_attempts_split_long_clips_only() -> None:
    path = Path("x")
    assert list(iter_attempts(59, 15.0, path, 2.0)) == [Attempt(path, 0, 59)]
    assert list(iter_attempts(60, 15.0, path, 2.0)) == [Attempt(path, 0, 30), Attempt(path, 30, 60)]
    assert [a.start for a in iter_attempts(100, 15.0, path, 2.0)] == [0, 30, 60]  # tail dropped


def test_a_challenge_runs_past_the_window_and_a_clip_that_ends_first_is_refused() -> None:
    cfg = LivenessConfig(mode="passive+challenge")
    frames = [np.full((4, 4, 3), 1, np.uint8)] * 10
    dets: list[list[Detection]] = [[FACE]] * 10
    # Challenged at frame 2, answered at frame 6: past the 4-frame window, still counted live.
    judge = Script(cfg, {1: ["inconclusive"] * 2 + ["challenge"] * 4 + ["live"]}, {})
    ms: list[float] = []
    result = run_attempt(judge, 1, frames, dets, 10.0, Attempt(Path("c"), 0, 4), frame_ms=ms)  # type: ignore[arg-type]
    assert (result.accepted, result.challenged, result.status) == (True, True, "live")
    assert len(ms) == 7
    # The same challenge in a clip that ends before the answer: refused.
    result = run_attempt(
        judge, 2, frames[:5], dets[:5], 10.0, Attempt(Path("c"), 0, 4), frame_ms=ms
    )  # type: ignore[arg-type]
    assert (result.accepted, result.challenged, result.status) == (False, True, "challenge")
    # Without a challenge nothing runs past the window, even if a later frame would say live.
    judge = Script(cfg, {1: ["inconclusive"] * 5 + ["live"]}, {})
    result = run_attempt(judge, 3, frames, dets, 10.0, Attempt(Path("c"), 0, 4), frame_ms=ms)  # type: ignore[arg-type]
    assert not result.accepted and result.status == "inconclusive"
    # Frames without a face are not shown to the judge.
    result = run_attempt(judge, 4, frames, [[]] * 10, 10.0, Attempt(Path("c"), 0, 4), frame_ms=ms)  # type: ignore[arg-type]
    assert (result.accepted, result.reason) == (False, "no_face")


@dataclass
class Recorder:
    """A judge that records which track key saw which box, and never decides."""

    cfg: LivenessConfig
    seen: list[tuple[int, tuple[float, ...]]]
    forgotten: set[int]

    def observe(self, key: int, image: Any, detection: Detection, now: float) -> LivenessVerdict:
        self.seen.append((key, tuple(detection.box)))
        return LivenessVerdict("inconclusive", "waiting")

    def forget(self, key: int) -> None:
        self.forgotten.add(key)


def test_two_faces_taking_turns_as_the_largest_are_judged_as_two_tracks() -> None:
    """A photo of two people (or two people in view) must not be spliced into one face: the
    judge would read the jump from one to the other as a head turn with 3-D structure."""
    left = Detection((10.0, 10.0, 60.0, 60.0), 0.9, ())  # boxes are (x1, y1, x2, y2)
    right = Detection((200.0, 10.0, 252.0, 62.0), 0.9, ())  # a little larger than left
    larger_left = Detection((10.0, 10.0, 64.0, 64.0), 0.9, ())  # larger than right
    frames = [np.zeros((4, 4, 3), np.uint8)] * 8
    # Both faces in every frame; which one is the largest alternates.
    dets = [[left, right] if k % 2 else [larger_left, right] for k in range(4)]
    dets += [[larger_left, right], [larger_left, right], [left, right], [left]]
    dets[0] = [larger_left]
    judge = Recorder(LivenessConfig(), [], set())
    ms: list[float] = []
    result = run_attempt(judge, 7, frames, dets, 10.0, Attempt(Path("c"), 0, 8), frame_ms=ms)  # type: ignore[arg-type]
    keys: dict[int, set[float]] = {}
    for key, box in judge.seen:
        keys.setdefault(key, set()).add(box[0])
    assert len(keys) == 2 and result.tracks == 2
    assert sorted(min(xs) for xs in keys.values()) == [10.0, 200.0]
    assert all(len(xs) == 1 for xs in keys.values())  # each key only ever saw its own face
    assert judge.forgotten == set(keys)
    # One face that moves a little from frame to frame stays one track.
    moving = [[Detection((10.0 + 3 * k, 10.0, 60.0 + 3 * k, 60.0), 0.9, ())] for k in range(8)]
    judge = Recorder(LivenessConfig(), [], set())
    result = run_attempt(judge, 8, frames, moving, 10.0, Attempt(Path("c"), 0, 8), frame_ms=ms)  # type: ignore[arg-type]
    assert result.tracks == 1 and len({k for k, _ in judge.seen}) == 1


def test_rates_are_counted_per_attack_type(tmp_path: Path) -> None:
    bona, attacks = tmp_path / "bona", tmp_path / "attacks"
    # Brightness selects the script: 1 live, 2 refused, 3 live after a challenge.
    clip(bona / "a", 1, 4)
    clip(bona / "b", 2, 4)
    clip(bona / "c", 3, 6)
    clip(attacks / "print" / "p1", 2, 4)
    clip(attacks / "print" / "p2", 2, 4)
    clip(attacks / "print" / "p3", 2, 4)
    clip(attacks / "print" / "p4", 1, 4)
    clip(attacks / "screen" / "s1", 3, 6)
    (attacks / "empty").mkdir()
    (bona / ".hidden").mkdir()
    cfg = LivenessConfig(mode="passive+challenge")
    plan = {1: ["live"], 2: ["spoof"], 3: ["challenge", "challenge", "live"]}
    report = evaluate_pad(
        bona,
        attacks,
        judge=Script(cfg, plan, {}),
        detect=lambda _i: [FACE],
        window_s=10.0,  # type: ignore[arg-type]
    )
    summary = report.summary()
    assert tuple(summary) == PAD_KEYS
    assert summary["apcer"] == {"print": 0.25, "screen": 1.0}
    assert summary["apcer_max"] == 1.0
    assert summary["bpcer"] == pytest.approx(1 / 3)
    assert summary["challenge_rate"] == pytest.approx(2 / 8)
    assert summary["attempts"] == {"bona_fide": 3, "print": 4, "screen": 1}
    assert summary["ms_per_frame"] >= 0.0
    details = report.details()
    assert len(details["results"]) == 8 and details["frames"] == len(report.frame_ms)
    json.dumps(details, allow_nan=False)


def test_further_challenge_draws_are_pooled_with_their_range(tmp_path: Path) -> None:
    bona, attacks = tmp_path / "bona", tmp_path / "attacks"
    for k in range(4):
        clip(bona / f"b{k}", 1 + k % 2, 4)  # brightness 1, 2, 1, 2
    clip(attacks / "print" / "p", 2, 4)
    cfg = LivenessConfig(mode="passive+challenge")
    first = Script(cfg, {1: ["live"], 2: ["spoof"]}, {})  # refuses the two of brightness 2
    worse = Script(cfg, {1: ["spoof"], 2: ["spoof"]}, {})  # refuses all four
    better = Script(cfg, {1: ["live"], 2: ["live"]}, {})  # refuses none, accepts the print
    report = evaluate_pad(
        bona,
        attacks,
        judge=first,
        detect=lambda _i: [FACE],
        redraws=[worse, better],  # type: ignore[arg-type, list-item]
    )
    assert report.rates()["bona_fide"]["errors"] == 2  # the first draw's rows are unchanged
    pooled = report.draw_rates()
    assert pooled["bona_fide"] == {"errors": 6, "attempts": 12, "rate": 0.5, "per_draw": [2, 4, 0]}
    assert pooled["print"]["per_draw"] == [0, 0, 1]
    report.seeds = [7, 8, 9]
    details = report.details()
    assert details["draws"]["seeds"] == [7, 8, 9]
    json.dumps(details, allow_nan=False)
    row = readme_table([("default", details)]).splitlines()[-1]
    assert "50% (6/12; 0-4 of 4 a draw, 3 draws)" in row and "| 1/3 |" in row
    # One draw: no pooled cells.
    single = PadReport(mode="passive+challenge", bona_fide=report.bona_fide)
    assert single.draw_rates()["bona_fide"]["per_draw"] == [2]
    assert "| - | - |" in readme_table([("one", single.details())])
    assert PadDraw().bona_fide == []


def test_empty_report_has_the_keys_and_no_nan() -> None:
    summary = PadReport(mode="passive").summary()
    assert tuple(summary) == PAD_KEYS
    json.dumps(summary, allow_nan=False)


def test_scanning_ignores_hidden_files_and_reads_frame_folders(tmp_path: Path) -> None:
    clip(tmp_path / "one", 5, 3)
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / ".cache").mkdir()
    clip(tmp_path / ".cache" / "x", 5, 2)
    (tmp_path / "one" / ".DS_Store").write_bytes(b"\0")
    assert scan_clips(tmp_path) == [tmp_path / "one"]
    frames, fps = read_clip(tmp_path / "one", 12.0)
    assert len(frames) == 3 and fps == 12.0 and frames[0].shape == (48, 64, 3)
    assert scan_attacks(tmp_path) == {}


def test_synthesized_print_is_reproducible_and_moves(testdata: Path) -> None:
    photo = cv2.imread(str(testdata / "faces" / "barack_obama" / "obama.jpg"))[:, :, ::-1]
    a = synth_print_clip(photo, rng=np.random.default_rng(5), seconds=1.0, fps=10.0)
    b = synth_print_clip(photo, rng=np.random.default_rng(5), seconds=1.0, fps=10.0)
    c = synth_print_clip(photo, rng=np.random.default_rng(6), seconds=1.0, fps=10.0)
    assert len(a) == 10 and a[0].shape == (480, 640, 3) and a[0].dtype == np.uint8
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])
    assert float(np.abs(a[0].astype(int) - a[-1].astype(int)).mean()) > 2.0  # the card moved


# -- the CLI, end to end with the real models -----------------------------------------------


@pytest.fixture
def small_set(tmp_path: Path, models_dir: Path, testdata: Path) -> tuple[Path, Path]:
    """Two synthesized prints, one still photo as a 'screen', and 3 s of the live clip."""
    assert main(
        ["pad", "synth", "--face", str(testdata / "faces" / "barack_obama" / "obama.jpg"),
         "--out", str(tmp_path / "attacks" / "print"), "--clips", "2", "--seconds", "3",
         "--seed", "1"]
    ) == 0  # fmt: skip
    prints = sorted((tmp_path / "attacks" / "print").iterdir())
    assert len(prints) == 2 and all(len(list(p.glob("*.jpg"))) == 45 for p in prints)
    video = cv2.VideoCapture(str(testdata / "video" / "WDA_AlexandriaOcasioCortez_000.mp4"))
    frames = []
    while len(frames) < 75:
        ok, bgr = video.read()
        assert ok
        frames.append(bgr[:, :, ::-1])
    write_frames(frames, tmp_path / "bona" / "live")
    photo = cv2.imread(str(testdata / "faces" / "jeff_bezos" / "img20.jpg"))[:, :, ::-1]
    scale = 400 / max(photo.shape[:2])
    still = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    write_frames([still] * 45, tmp_path / "attacks" / "still" / "one")
    return tmp_path / "bona", tmp_path / "attacks"


def test_eval_pad_cli_end_to_end(
    small_set: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bona, attacks = small_set
    out, details = tmp_path / "pad.json", tmp_path / "details.json"
    code = main(
        ["eval-pad", "--bona-fide", str(bona), "--attacks", str(attacks), "--mode", "passive",
         "--fps", "25", "--json", str(out), "--details", str(details)]
    )  # fmt: skip
    assert code == 0
    summary = json.loads(out.read_text())
    assert tuple(summary) == PAD_KEYS
    assert summary["attempts"] == {"bona_fide": 1, "print": 2, "still": 1}
    # The live clip blinks (frames 10-12); the prints and the still photo are refused.
    assert summary["bpcer"] == 0.0
    assert summary["apcer"] == {"print": 0.0, "still": 0.0}
    assert summary["challenge_rate"] == 0.0  # passive mode never challenges
    assert 0.0 < summary["ms_per_frame"] < 50.0
    document = json.loads(details.read_text())
    results = document["results"]
    assert [r["type"] for r in results] == ["bona_fide", "print", "print", "still"]
    # CPU time of the judging thread: FaceMesh alone costs more than nothing.
    assert 0.0 < document["cpu_ms_per_frame"] <= 10 * summary["ms_per_frame"]
    printed = capsys.readouterr().out
    assert "APCER print" in printed and "BPCER" in printed
    # Counts and the 95 % Wilson interval per type: 0 of 2 prints is 0-66 %, not "0 %".
    assert "0/2" in printed and "0%-66%" in printed and "unchallenged" in printed


def test_eval_pad_without_a_detector_says_so(
    small_set: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bona, attacks = small_set
    args = ["eval-pad", "--bona-fide", str(bona), "--attacks", str(attacks), "--fps", "25"]
    details = tmp_path / "details.json"
    code = main([*args, "--without", "frame", "--without", "screen", "--details", str(details)])
    assert code == 0
    assert "without frame without screen" in capsys.readouterr().out
    scores = [r["scores"] for r in json.loads(details.read_text())["results"]]
    assert all(s.get("frame", 0.0) == 0.0 for s in scores)  # the frame detector did not run
    # Two challenge draws: the table and the details add the pooled rates.
    code = main([*args, "--draws", "2", "--seed", "5", "--details", str(details)])
    assert code == 0
    assert "BPCER, 2 draws" in capsys.readouterr().out
    draws = json.loads(details.read_text())["draws"]
    assert draws["seeds"] == [5, 6] and draws["rates"]["bona_fide"]["attempts"] == 2
    with pytest.raises(SystemExit) as exc:
        main([*args, "--without", "everything"])
    assert exc.value.code == 2


def test_eval_pad_cli_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["eval-pad", "--bona-fide", str(tmp_path / "nope"), "--attacks", str(empty)]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert main(["eval-pad", "--bona-fide", str(empty), "--attacks", str(empty)]) == 2
    assert "no clips" in capsys.readouterr().err
    clip(tmp_path / "bona" / "a", 1, 3)
    assert main(["eval-pad", "--bona-fide", str(tmp_path / "bona"), "--attacks", str(empty)]) == 2
    assert "no attack-type subfolders" in capsys.readouterr().err
    clip(tmp_path / "att" / "print" / "a", 1, 3)
    args = ["eval-pad", "--bona-fide", str(tmp_path / "bona"), "--attacks", str(tmp_path / "att")]
    assert main([*args, "--window", "0"]) == 2
    assert main([*args, "--draws", "0"]) == 2
    assert "--draws must be 1-20" in capsys.readouterr().err
    assert main([*args, "--model", str(tmp_path / "missing.tflite")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main([*args, "--json", str(tmp_path / "no" / "where.json")]) == 2


def test_eval_pad_refuses_a_model_with_another_hash(
    tmp_path: Path, models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clip(tmp_path / "bona" / "a", 1, 3)
    clip(tmp_path / "att" / "print" / "a", 1, 3)
    model = models_dir / "face_detection_short_range.tflite"
    code = main(
        ["eval-pad", "--bona-fide", str(tmp_path / "bona"), "--attacks", str(tmp_path / "att"),
         "--mode", "passive", "--model", str(model), "--model-sha256", "0" * 64]
    )  # fmt: skip
    assert code == 1
    assert "hash" in capsys.readouterr().err.lower()


def test_pad_synth_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pad", "synth", "--face", str(tmp_path / "nope.jpg"), "--out", str(tmp_path)]) == 2
    assert "no such file" in capsys.readouterr().err
    (tmp_path / "photos").mkdir()
    assert main(["pad", "synth", "--face", str(tmp_path / "photos"), "--out", str(tmp_path)]) == 2
    assert "no JPEG/PNG" in capsys.readouterr().err


# -- the anti-spoofing model on the real screen replay ------------------------------------------


def test_the_model_tells_the_screen_replay_from_the_live_clip(
    models_dir: Path, testdata: Path
) -> None:
    model_file = testdata.parent / "models" / SCREEN_MODEL
    if not model_file.is_file():
        pytest.skip(f"{model_file} not found (../shared/models)")
    from facegate.vision.detect import BlazeFaceDetector, largest
    from facegate.vision.landmarks import FaceMesh
    from facegate.vision.liveness.model import PadModel

    detector = BlazeFaceDetector(models_dir / "face_detection_short_range.tflite")
    mesh = FaceMesh(models_dir / "face_mesh_mediapipe.tflite")
    model = PadModel(model_file, sha256=SCREEN_MODEL_SHA256)
    threshold = PadModelConfig.model_fields["threshold"].default

    def median_score(name: str) -> float:
        video = cv2.VideoCapture(str(testdata / "video" / "liveness_pair" / name))
        scores, index = [], 0
        while True:  # every 15th frame of the whole clip (about 40 samples)
            ok, bgr = video.read()
            if not ok:
                break
            index += 1
            if index % 15:
                continue
            rgb = np.ascontiguousarray(bgr[:, :, ::-1])
            face = largest(detector.detect(rgb))
            if face is None:  # the head turned away from the camera
                continue
            scores.append(model.score(rgb, mesh.landmarks(rgb, face).points))
        assert len(scores) >= 30, f"{name}: only {len(scores)} samples"
        return float(np.median(scores))

    live, replay = median_score("real.mp4"), median_score("fake.mp4")
    assert live < threshold < replay, (live, replay)


@pytest.mark.parametrize(
    ("errors", "n", "low", "high"),
    [(0, 10, 0.0, 0.2775), (1, 10, 0.0179, 0.4042), (10, 10, 0.7225, 1.0), (5, 49, 0.0444, 0.2176)],
)
def test_wilson_interval(errors: int, n: int, low: float, high: float) -> None:
    lo, hi = wilson(errors, n)
    assert lo == pytest.approx(low, abs=1e-3) and hi == pytest.approx(high, abs=1e-3)
    assert wilson(0, 0) == (0.0, 1.0)


def test_rates_have_counts_intervals_and_the_unchallenged_bpcer() -> None:
    def result(accepted: bool, challenged: bool) -> AttemptResult:
        status = "live" if accepted else "spoof"
        return AttemptResult("c", 0, accepted, challenged, status, "r")

    report = PadReport(mode="passive+challenge")
    report.bona_fide = [result(True, False)] * 6 + [result(False, True)] * 3 + [result(True, True)]
    report.attacks = {"screen": [result(False, False)] * 9 + [result(True, True)]}
    rates = report.rates()
    assert rates["screen"]["errors"] == 1 and rates["screen"]["attempts"] == 10
    assert rates["bona_fide"]["errors"] == 3 and rates["bona_fide"]["rate"] == pytest.approx(0.3)
    assert rates["bona_fide_unchallenged"] == {
        "errors": 0,
        "attempts": 6,
        "rate": 0.0,
        "ci95": list(wilson(0, 6)),
    }
    details = report.details()
    json.dumps(details, allow_nan=False)
    table = readme_table([("default", details)])
    assert table.splitlines()[0].startswith("| mode | APCER screen | BPCER |")
    assert "10% (1/10; 2%-40%)" in table and "30% (3/10; 11%-60%)" in table


def test_readme_table_counts_attacks_refused_on_evidence() -> None:
    def attack(status: str, reason: str) -> AttemptResult:
        return AttemptResult("c", 0, status == "live", False, status, reason)

    report = PadReport(mode="passive+challenge")
    report.bona_fide = [AttemptResult("b", 0, True, False, "live", "blink+expression")]
    report.attacks = {
        "screen": [attack("spoof", "screen")] * 3 + [attack("spoof", "frame")],
        "print": [attack("spoof", "challenge_failed")] * 2 + [attack("live", "blink+3d_turn")],
    }
    row = readme_table([("default", report.details())]).splitlines()[-1]
    assert row.rstrip(" |").endswith("4/7 (screen 3, frame 1)")
    none = PadReport(mode="passive")
    none.bona_fide = report.bona_fide
    none.attacks = {"print": [attack("spoof", "no_liveness_evidence")]}
    assert readme_table([("p", none.details())]).splitlines()[-1].rstrip(" |").endswith("0/1")
