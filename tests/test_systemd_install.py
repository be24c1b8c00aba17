"""The installer script and the hardware files: shell syntax, shellcheck, pin map validity."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from pydantic import TypeAdapter

from facegate.config.doors import DoorConfig
from facegate.config.readers import ReaderConfig

ROOT = Path(__file__).resolve().parent.parent
INSTALL = ROOT / "scripts" / "install.sh"
HARDWARE = ROOT / "hardware"


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def test_install_sh_syntax() -> None:
    result = run("bash", "-n", str(INSTALL))
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
def test_install_sh_shellcheck() -> None:
    result = run("shellcheck", "--severity=info", str(INSTALL))
    assert result.returncode == 0, result.stdout


def test_install_sh_help_and_bad_options() -> None:
    result = run("bash", str(INSTALL), "--help")
    assert result.returncode == 0 and "--uninstall" in result.stdout
    assert "set -euo" not in result.stdout
    result = run("bash", str(INSTALL), "--purge")
    assert result.returncode == 1 and "--uninstall" in result.stderr
    result = run("bash", str(INSTALL), "--bogus")
    assert result.returncode == 1 and "unknown option" in result.stderr


def test_pinmap_is_a_valid_config_fragment() -> None:
    data = yaml.safe_load((HARDWARE / "pinmap.yaml").read_text())
    doors = [DoorConfig.model_validate(d) for d in data["doors"]]
    readers = [TypeAdapter(ReaderConfig).validate_python(r) for r in data["readers"]]
    assert doors[0].relay.pin == 17
    used: list[int] = [doors[0].relay.pin] + [pin for _, pin in doors[0].gate.pins()]
    for reader in readers:
        if reader.type == "wiegand":
            used += [reader.d0, reader.d1]
        if reader.type == "keypad":
            used += [*reader.rows, *reader.cols]
    assert len(used) == len(set(used)), "a GPIO is used twice"
    reserved = {0, 1, 7, 8, 9, 10, 11, 14, 15}
    assert not reserved & set(used)
    i2c = {pin for role, pin in doors[0].gate.pins() if role.startswith("display.")}
    assert {2, 3} & set(used) == i2c  # I2C only for the display
    # the README's pin map names every pin the YAML uses
    table = (HARDWARE / "README.md").read_text().split("## Pin map", 1)[1].split("\n## ", 1)[0]
    documented = {int(n) for n in re.findall(r"(?m)^\| ([\d, ]+) \|", table) for n in n.split(",")}
    assert set(used) == documented


def test_udev_rules_are_well_formed() -> None:
    for line in (HARDWARE / "99-facegate.rules").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        assert line.startswith("SUBSYSTEM=="), line
        assert re.search(r'GROUP="(input|dialout|gpio|video)"', line), line
        assert re.search(r'MODE="0[64][64]0"', line), line
