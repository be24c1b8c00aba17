"""`facegate bench` runs end to end at a tiny gallery size and writes every key.

A benchmark, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from facegate.cli import main
from facegate.measure.bench import BENCH_KEYS


def test_bench_writes_every_key(
    models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "b.json"
    code = main(
        [
            "bench",
            "--gallery",
            "50",
            "--repeat",
            "1",
            "--json",
            str(out),
            "--models-dir",
            str(models_dir),
        ]
    )
    assert code == 0
    data = json.loads(out.read_text())
    assert list(data) == list(BENCH_KEYS)
    assert data["n"] == 50
    for key in BENCH_KEYS:
        assert isinstance(data[key], (int, float)) and math.isfinite(data[key]), key
        assert data[key] > 0, key
    assert data["decision_ms_p95"] >= data["decision_ms_p50"]
    text = capsys.readouterr().out
    assert "grants (to the relay command)" in text and "N = 50 templates" in text


def test_bench_with_a_given_source_and_bad_arguments(
    models_dir: Path, testdata: Path, tmp_path: Path
) -> None:
    clip = testdata / "video" / "WDA_AlexandriaOcasioCortez_000.mp4"
    if not clip.is_file():
        pytest.skip(f"{clip} not present")
    out = tmp_path / "b.json"
    code = main(
        [
            "bench",
            "--gallery",
            "20",
            "--repeat",
            "1",
            "--source",
            str(clip),
            "--json",
            str(out),
            "--models-dir",
            str(models_dir),
        ]
    )
    assert code == 0
    assert json.loads(out.read_text())["n"] == 20
    assert main(["bench", "--gallery", "0", "--models-dir", str(models_dir)]) == 1
    assert (
        main(
            [
                "bench",
                "--source",
                str(tmp_path / "missing.mp4"),
                "--gallery",
                "5",
                "--models-dir",
                str(models_dir),
            ]
        )
        == 1
    )
