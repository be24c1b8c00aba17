"""Configuration: valid files pass, every kind of mistake is reported with key path and line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from facegate.cli import main
from facegate.config import FacegateConfig, load_config, load_config_text
from facegate.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]

GOOD = """\
site:
  name: Test gate
  kind: residential_compound
  purpose: Open the gate for enrolled residents.
camera:
  type: opencv
  device: 0
doors:
  - id: main
    relay:
      pin: 17
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config_text(text)
    return info.value.problems


def test_shipped_configs_are_valid() -> None:
    for name in ("example.yaml", "demo.yaml"):
        cfg = load_config(REPO / "config" / name)
        assert cfg.doors[0].id == "main"


def test_minimal_config_gets_defaults() -> None:
    cfg = load_config_text(GOOD)
    assert cfg.matcher.threshold is None and cfg.matcher.target_fpir == pytest.approx(0.01)
    assert cfg.embedder.type == "sface" and cfg.detector.type == "yunet"  # issue 20
    assert cfg.doors[0].relay.active_high is True
    assert cfg.camera.type == "opencv"


def test_unknown_key_names_path_and_line() -> None:
    text = GOOD.replace("    relay:\n", "    relais: {}\n    relay:\n")
    assert problems_of(text) == [
        "doors.0.relais (line 10): unknown key (not an option here; check the spelling)"
    ]


def test_unknown_top_level_section() -> None:
    (line,) = problems_of(GOOD + "matchr:\n  threshold: 0.9\n")
    assert line.startswith("matchr (line 12): unknown key")


def test_wrong_type_names_path_line_and_value() -> None:
    text = GOOD + "matcher:\n  threshold: strict\n"
    (line,) = problems_of(text)
    assert line.startswith("matcher.threshold (line 13): Input should be a valid number")
    assert "(got 'strict')" in line


def test_out_of_range_value() -> None:
    text = GOOD.replace("pin: 17", "pin: 40")
    assert problems_of(text) == [
        "doors.0.relay.pin (line 11): Input should be less than or equal to 27 (got 40)"
    ]


def test_discriminated_union_field_reports_user_path() -> None:
    text = GOOD.replace("  device: 0\n", "  device: 0\n  fps: 0\n")
    (line,) = problems_of(text)
    # pydantic's internal tag ("opencv") must not appear in the path the installer sees.
    assert line.startswith("camera.fps (line 8): Input should be greater than 0")


def test_unknown_camera_type() -> None:
    (line,) = problems_of(GOOD.replace("type: opencv", "type: webcam"))
    assert line.startswith("camera (line 5):") or line.startswith("camera.type (line 6):")
    assert "replay" in line and "opencv" in line and "picamera2" in line


def test_missing_required_section_and_key() -> None:
    text = GOOD.replace("  purpose: Open the gate for enrolled residents.\n", "")
    assert problems_of(text) == ["site.purpose (line 1): required key is missing"]
    lines = problems_of(GOOD.split("camera:")[0] + "doors: []\n")
    assert any(line.startswith("camera (line 1): required key is missing") for line in lines)
    assert any(line.startswith("doors (line 5):") for line in lines)


def test_several_problems_each_on_their_own_line() -> None:
    text = GOOD.replace("pin: 17", "pin: -1").replace("name: Test gate", "name: ''") + "x: 1\n"
    lines = problems_of(text)
    assert len(lines) == 3
    assert {line.split(" ")[0] for line in lines} == {"site.name", "doors.0.relay.pin", "x"}


def test_duplicate_doors_and_pins() -> None:
    text = GOOD + "  - id: main\n    relay: {pin: 18}\n"
    assert problems_of(text) == ["doors (line 8): two doors have the id 'main'"]
    text = GOOD + "  - id: side\n    relay: {pin: 17}\n"
    assert problems_of(text) == [
        "doors (line 8): doors 'main' and 'side' both use GPIO 17 for their relay"
    ]


def test_yaml_syntax_error_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\(line 3\): not valid YAML"):
        load_config_text("site:\n  name: [unclosed\n")
    with pytest.raises(ConfigError, match="the top level must be a mapping"):
        load_config_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="empty"):
        load_config_text("")
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "missing.yaml")
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(tmp_path / "bin.yaml")


def test_relative_paths_follow_the_config_file(tmp_path: Path) -> None:
    text = GOOD.replace("type: opencv\n  device: 0", "type: replay\n  path: clips/a.mp4")
    (tmp_path / "c.yaml").write_text(text + "store:\n  state_dir: state\n")
    cfg = load_config(tmp_path / "c.yaml")
    assert cfg.camera.path == tmp_path / "clips" / "a.mp4"  # type: ignore[union-attr]
    assert cfg.store.state_dir == tmp_path / "state"


def test_config_is_immutable() -> None:
    cfg = load_config_text(GOOD)
    with pytest.raises(Exception, match="frozen"):
        cfg.matcher.threshold = 0.1  # type: ignore[misc]


def _fields(model: type[BaseModel], prefix: str = "") -> list[tuple[str, object]]:
    out = []
    for name, field in model.model_fields.items():
        out.append((prefix + name, field))
        ann = field.annotation
        for candidate in getattr(ann, "__args__", ()) or (ann,):
            inner = getattr(candidate, "__args__", None)
            for t in (*(inner or ()), candidate):
                if isinstance(t, type) and issubclass(t, BaseModel):
                    out.extend(_fields(t, prefix + name + "."))
    return out


def test_every_field_is_documented_and_in_the_example() -> None:
    example = (REPO / "config" / "example.yaml").read_text()
    # Keys in block style ("key:" at a line start) and in flow style ("{key: …, key: …}").
    keys_in_example = set(
        re.findall(r"(?:^\s*#?\s*-?\s*|[{,]\s*)([a-z_][a-z_0-9]*):", example, re.MULTILINE)
    )
    missing_description, missing_in_example = [], []
    for path, field in _fields(FacegateConfig):
        if not field.description:  # type: ignore[attr-defined]
            missing_description.append(path)
        if path.split(".")[-1] not in keys_in_example:
            missing_in_example.append(path)
    assert not missing_description, f"fields without a description: {missing_description}"
    assert not missing_in_example, f"options missing from config/example.yaml: {missing_in_example}"


def test_cli_config_check_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", str(REPO / "config" / "example.yaml")]) == 0
    assert "valid" in capsys.readouterr().out
    bad = tmp_path / "typo.yaml"
    bad.write_text(GOOD.replace("  kind:", "  knid:"))
    assert main(["config", "check", str(bad)]) == 2
    out = capsys.readouterr().out.splitlines()
    assert "site.knid (line 3): unknown key (not an option here; check the spelling)" in out
    assert "site.kind (line 1): required key is missing" in out
    assert main(["config", "check", str(tmp_path / "nope.yaml")]) == 2
    assert "no such file" in capsys.readouterr().out
