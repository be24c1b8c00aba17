"""dlib left the default path (issue 20): its package is the `facegate[dlib]` extra and its
model files come with `facegate models install --with dlib`; without them, one clear line."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

from facegate.cli import main
from facegate.errors import ModelError
from facegate.models.manifest import (
    ARTIFACTS,
    DLIB_RESNET,
    DLIB_RESNET_ONNX,
    DLIB_SHAPE5,
    SFACE_2021DEC,
    YUNET_2023MAR,
    artifacts_with,
    model_files,
)
from facegate.vision.embed import _load_dlib
from facegate.vision.runtime import verify_model_file

REPO = Path(__file__).resolve().parents[1]


def test_the_base_install_has_no_dlib_and_the_extra_has_it() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    base = " ".join(project["dependencies"])
    assert "dlib" not in base and "onnx>" not in base
    extra = " ".join(project["optional-dependencies"]["dlib"])
    assert "dlib-bin" in extra and "onnx>" in extra
    # The test command installs what the tests need, dlib included (CI runs the dlib tests).
    dev = (REPO / "scripts" / "dev").read_text()
    assert '".[dev,demo,dlib]"' in dev and "models install --no-progress --with dlib" in dev


def test_models_install_fetches_dlib_only_when_asked() -> None:
    default = model_files(artifacts_with())
    assert YUNET_2023MAR in default and SFACE_2021DEC in default
    assert not {DLIB_RESNET, DLIB_SHAPE5, DLIB_RESNET_ONNX} & default.keys()
    assert artifacts_with("dlib", "antispoof") == ARTIFACTS
    assert len(artifacts_with("dlib")) == len(ARTIFACTS) - 1  # not the anti-spoofing model
    everything = model_files(artifacts_with("dlib"))
    assert {DLIB_RESNET, DLIB_SHAPE5, DLIB_RESNET_ONNX} <= everything.keys()


def test_models_help_names_the_dlib_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["models", "install", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps to the terminal
    assert "--with {dlib,antispoof}" in text and "the default `sface` does not need them" in text


def test_without_the_extra_one_line_names_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "dlib", None)  # import dlib → ImportError
    with pytest.raises(ModelError, match=r"pip install 'facegate\[dlib\]'"):
        _load_dlib()
    with pytest.raises(ModelError, match="models install --with dlib"):
        verify_model_file(tmp_path / DLIB_RESNET)
    with pytest.raises(ModelError, match=r"models install`\)"):
        verify_model_file(tmp_path / SFACE_2021DEC)
