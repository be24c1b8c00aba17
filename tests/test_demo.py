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
    assert out.count("GRANTED door main by pin") == 2  # the second with the face paused
    assert out.count("GRANTED door main by card") == 2  # the second while face is down
    assert out.count("DENIED  door main by face (unknown_face)") == 1
    assert out.count("DENIED  door main by pin (wrong_pin)") == 3
    assert out.count("DENIED  door main by pin (locked_out)") == 1
    # Liveness on: the resident's printed photo is challenged (one retry at most) and refused;
    # never granted. Whether the frame detector's evidence ends it during the first challenge
    # or the retry goes unanswered depends on where the detector puts the face box.
    assert 1 <= out.count("CHALLENGE door main") <= 2
    assert out.count("DENIED  door main by face (liveness)") == 1
    assert out.index("CHALLENGE door main") < out.index("by face (liveness)")
    assert "ALARM   door main: door_held" in out and "ALARM   door main: lockout" in out
    assert "alarm cleared door main: door_held" in out
    # door_held, lockout and the pulled camera cable; no spurious camera alarms before it
    assert out.count("ALARM") == 3 and out.index("camera_lost") > out.index("liveness)")
    # Degraded mode: the camera dies, face goes down alone, the card still opens.
    down = out.index("FACE DOWN door main: camera lost; PIN, card and the exit button keep")
    assert down < out.rindex("GRANTED door main by card") < out.index("face up door main")
    assert out.count("relay ON") == 6 and out.count("relay OFF") == 6
    # Only faces that asked: a passer-by outside the zone is seen, never searched, and the
    # resident typing their PIN in front of the camera is not scanned.
    assert "outside the face zone, not processed" in out
    assert out.count("face paused at door main: a keypad or card is in use") >= 3
    assert "too small" in out or "matches" in out
    summary = re.search(
        r"summary: (\d+) granted, (\d+) denied, (\d+) relay pulses, (\d+) frames \((\d+) of "
        r"the clip, (\d+) in the scenes after it\); every scene as expected",
        out,
    )
    assert summary, out
    granted, denied, pulses, frames, clip, after = summary.groups()
    assert (granted, denied, pulses, frames) == ("6", "6", "6", "252")
    # The header and the summary count the clip alike (issue 17).
    header = re.search(r"clip: (\d+) frames at 10 fps", out)
    assert header and header.group(1) == clip and int(clip) + int(after) == 252
    # The anonymized timeline never prints an embedding or a raw score vector.
    timeline = out.split("clip:")[1].split("summary")[0]
    assert not re.search(r"-?\d\.\d+,\s*-?\d\.\d+,\s*-?\d\.\d+", timeline)
    assert "array(" not in timeline
