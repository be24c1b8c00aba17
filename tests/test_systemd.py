"""The hardened unit: required settings present, and `systemd-analyze security` exposure ≤ 2.0."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "systemd" / "facegate.service"
MAX_EXPOSURE = 2.0


def settings(path: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        out.setdefault(key, []).append(value)
    return out


def test_unit_has_the_required_settings() -> None:
    s = settings(UNIT)
    expect = {
        "Type": "notify",
        "Restart": "on-failure",
        "User": "facegate",
        "StateDirectory": "facegate",
        "StateDirectoryMode": "0700",
        "RuntimeDirectory": "facegate",
        "ConfigurationDirectory": "facegate",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateNetwork": "yes",
        "IPAddressDeny": "any",
        "CapabilityBoundingSet": "",
        "DevicePolicy": "closed",
        "UMask": "0077",
        "LoadCredential": "facegate-master-key:/etc/credstore/facegate-master-key",
    }
    for key, value in expect.items():
        assert s.get(key) == [value], key
    assert s["SystemCallFilter"][0] == "@system-service"
    assert set(s["SupplementaryGroups"][0].split()) >= {"gpio", "video", "input", "dialout"}
    assert set(s["RestrictAddressFamilies"][0].split()) <= {"AF_UNIX", "AF_NETLINK"}
    assert re.fullmatch(r"\d+s?", s["WatchdogSec"][0])
    assert s["StartLimitBurst"] and s["StartLimitIntervalSec"]
    allowed = " ".join(s["DeviceAllow"])
    for dev in ("/dev/gpiochip0", "/dev/gpiochip4", "char-video4linux", "char-media",
                "char-dma_heap", "char-input", "char-ttyUSB", "char-ttyAMA"):  # fmt: skip
        assert dev in allowed
    assert "char-alsa" in allowed  # the door speaker (issue 16)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_security_exposure_is_low() -> None:
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", str(UNIT)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if "--offline" in result.stderr and "unrecognized" in result.stderr:
        pytest.skip("this systemd-analyze has no --offline (systemd < 250)")
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d)", result.stdout + result.stderr)
    assert match, result.stdout[-2000:] + result.stderr[-2000:]
    assert float(match.group(1)) <= MAX_EXPOSURE, result.stdout
