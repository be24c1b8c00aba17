"""The installer script and the hardware files: shell syntax, shellcheck, pin map validity."""

from __future__ import annotations

import os
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
@pytest.mark.parametrize(
    "script",
    [INSTALL, ROOT / "scripts" / "check-arm64", ROOT / "scripts" / "dev"],
    ids=lambda p: p.name,
)
def test_scripts_shellcheck(script: Path) -> None:
    result = run("shellcheck", "--severity=info", str(script))
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


# --- the installer's steps, the README's manual steps and the unit agree ----------------------

README = ROOT / "README.md"
UNIT = ROOT / "systemd" / "facegate.service"


def dry_run(*args: str, source: Path = ROOT, config: Path | None = None) -> list[str]:
    """The installer's dry run; ``config`` stands in for an installed /etc/facegate/facegate.yaml
    (which decides the camera stack when there is one: this machine may have one)."""
    env = None if config is None else {**os.environ, "FACEGATE_INSTALL_CONFIG": str(config)}
    result = subprocess.run(
        ["bash", str(INSTALL), "--dry-run", "--source", str(source), *args],
        capture_output=True, text=True, timeout=60, check=False, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def readme_manual_steps() -> list[str]:
    section = README.read_text().split("## Install on a Raspberry Pi", 1)[1].split("\n## ", 1)[0]
    after = section.split("The same steps by hand", 1)[1]
    block = after.split("```sh\n", 1)[1].split("\n```", 1)[0]
    return block.splitlines()


def test_readme_manual_steps_are_exactly_the_installers() -> None:
    assert readme_manual_steps() == dry_run("--camera", "picamera2")


def commands(lines: list[str]) -> list[str]:
    return [line for line in lines if not line.startswith("#")]


def first(lines: list[str], pattern: str) -> int:
    for i, line in enumerate(lines):
        if re.search(pattern, line):
            return i
    raise AssertionError(f"no step matches {pattern!r}")


def test_steps_come_in_an_order_that_works_on_a_fresh_pi() -> None:
    steps = commands(dry_run("--camera", "picamera2"))
    user = first(steps, r"useradd .* facegate$")
    state = first(steps, r"install -d .* /var/lib/facegate$")
    conf = first(steps, r"install -d .* /etc/facegate$")
    credstore = first(steps, r"install -d .* /etc/credstore$")
    venv = first(steps, r"python3 -m venv --system-site-packages /opt/facegate/venv$")
    assert first(steps, r"apt-get update") < first(steps, r"apt-get install") < venv
    assert first(steps, r"groupadd") < user < state  # the folder is chowned to the user
    assert conf < first(steps, r"config/example.yaml /etc/facegate/facegate.yaml")
    assert state < first(steps, r"models install --dir /var/lib/facegate/models")
    assert venv < first(steps, r"pip install")
    assert credstore < first(steps, r"keys init") and first(steps, r"pip install") < first(
        steps, r"keys init"
    )
    assert first(steps, r"facegate.service /etc/systemd/system/") < first(steps, r"enable")
    # the models are fetched as the service user, with no pip cache in its home
    models = steps[first(steps, r"models install")]
    assert models.startswith("sudo -u facegate ") and "PIP_NO_CACHE_DIR=1" in models
    # nothing is built inside the checkout: the wheel is built in a temporary copy
    wheel = steps[first(steps, r"pip wheel")]
    assert wheel.endswith("/tmp/facegate-build/src") and "--no-cache-dir" in wheel
    assert all("pip install ." not in s and "pip install -e" not in s for s in steps)


def unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


def test_steps_and_unit_agree_on_paths_user_and_groups() -> None:
    text = "\n".join(dry_run("--camera", "picamera2"))
    unit = unit_settings()
    exec_start = unit["ExecStart"][0].split()
    assert exec_start[0] == "/opt/facegate/venv/bin/facegate"
    assert "--system-site-packages /opt/facegate/venv" in text
    config = exec_start[exec_start.index("--config") + 1]
    assert f"example.yaml {config}" in text
    assert unit["StateDirectory"] == ["facegate"] and "/var/lib/facegate/models" in text
    name, source = unit["LoadCredential"][0].split(":", 1)
    assert source == f"/etc/credstore/{name}" and f"--key-file {source}" in text
    assert unit["User"] == ["facegate"] and unit["Group"] == ["facegate"]
    groups = unit["SupplementaryGroups"][0].split()
    created = re.search(r"for g in ([\w -]+); do", text)
    assert created is not None and set(groups) <= set(created.group(1).split())
    assert f"--groups {','.join(groups)} facegate" in text
    assert "Documentation=file:///opt/facegate/systemd/README.md" in UNIT.read_text()
    assert "cp -r systemd hardware /opt/facegate/" in text


def test_camera_stack_only_for_picamera2(tmp_path: Path) -> None:
    none = tmp_path / "not-installed.yaml"  # no installed configuration: the source's decides
    usb = "\n".join(dry_run(config=none))
    assert "python3-picamera2" not in usb and "[display]" in usb
    for pkg in ("python3-evdev", "python3-smbus2", "python3-lgpio"):
        assert pkg in usb
    pi = "\n".join(dry_run("--camera", "picamera2"))
    assert "python3-picamera2 python3-libcamera" in pi and "[display,picamera]" in pi
    # without --camera the configuration decides (block or flow style)
    for text in ("camera:\n  # the Pi camera\n  type: picamera2\n", "camera: {type: picamera2}\n"):
        source = tmp_path / "src"
        (source / "config").mkdir(parents=True, exist_ok=True)
        (source / "pyproject.toml").write_text("")
        (source / "config" / "example.yaml").write_text("site: {}\n" + text + "doors: []\n")
        assert "python3-picamera2" in "\n".join(dry_run(source=source, config=none))
    assert "python3-picamera2" not in "\n".join(
        dry_run("--camera", "usb", source=source, config=none)
    )
    # An installed configuration decides over the source's example.
    installed = tmp_path / "installed.yaml"
    installed.write_text("camera: {type: opencv}\n")
    assert "python3-picamera2" not in "\n".join(dry_run(source=source, config=installed))


def test_the_picamera_extra_keeps_numpy_below_2() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert any(re.fullmatch(r"numpy>=1\.\d+,<2", req) for req in extras["picamera"])
    assert {"RPLCD>=1.3", "smbus2>=0.4"} <= set(extras["display"])


def test_unsupported_os_is_a_clear_error(tmp_path: Path) -> None:
    release = tmp_path / "os-release"
    env = {"PATH": "/usr/bin:/bin", "FACEGATE_OS_RELEASE": str(release)}

    def check() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(INSTALL), "--check-os"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )

    release.write_text(
        'PRETTY_NAME="Ubuntu 24.04 LTS"\nID=ubuntu\nID_LIKE=debian\nVERSION_CODENAME=noble\n'
    )
    result = check()
    if shutil.which("apt-get") is None:
        assert result.returncode == 1 and "no apt-get" in result.stderr
        return
    assert result.returncode == 1
    assert "supports Raspberry Pi OS Bookworm and Debian 12" in result.stderr
    assert "Ubuntu 24.04 LTS" in result.stderr and "E: " not in result.stderr
    release.write_text(
        'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_CODENAME=bookworm\n'
    )
    result = check()
    assert result.returncode == 0, result.stderr
