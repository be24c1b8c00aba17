"""``facegate models install --from FILE``: a pinned model from a local copy.

A model is identified by its SHA-256, not by where it came from: when the package index is
unreachable or a package disappears, a copy obtained elsewhere serves as well.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from facegate.errors import ModelInstallError

from .install import InstallReport, install_models
from .manifest import ARTIFACTS, STATUS_MISSING, STATUS_OK, Artifact, file_status, sha256_file
from .staging import install_verified, os_error_message, prepare_dest, short

__all__ = ["install_from_file"]


def install_from_file(
    source: str | Path,
    dest: str | Path,
    *,
    console: Console | None = None,
    artifacts: Sequence[Artifact] = ARTIFACTS,
) -> InstallReport:
    """Install a pinned model file, or a pinned archive's files, from a local file.

    A model is identified by its SHA-256, not by where it came from: when the package index
    is unreachable or a package disappears, a copy obtained elsewhere serves as well. The
    file is accepted when its SHA-256 is that of a pinned model file (it is installed under
    that file's name) or of a pinned archive (the archive's files are extracted from it,
    as ``facegate models install`` would after downloading it).

    Raises:
        ModelInstallError: The file cannot be read, or its SHA-256 is pinned nowhere.
    """
    source = Path(source).expanduser()
    dest = Path(dest).expanduser()
    console = console if console is not None else Console()
    try:
        actual = sha256_file(source)
    except OSError as exc:
        raise ModelInstallError(os_error_message(f"cannot read {source}", exc)) from exc
    for artifact in artifacts:
        if artifact.sha256 == actual:

            def local(artifact: Artifact, tmpdir: Path) -> Path:
                copy = tmpdir / artifact.filename
                shutil.copyfile(source, copy)
                return copy

            return install_models(
                dest, console=console, downloader=local, progress=False, artifacts=[artifact]
            )
    for artifact in artifacts:
        for pin in artifact.files:
            if pin.sha256 != actual:
                continue
            prepare_dest(dest)
            report = InstallReport(dest=dest)
            status, _ = file_status(dest / pin.name, pin)
            if status == STATUS_OK:
                report.present.append(pin.name)
                console.print(f"{pin.name} already installed and verified in {dest}")
                return report
            try:
                with open(source, "rb") as fh:
                    install_verified(fh, dest, pin, artifact)
            except OSError as exc:
                raise ModelInstallError(os_error_message(f"cannot read {source}", exc)) from exc
            report.installed.append(pin.name)
            if status != STATUS_MISSING:
                report.replaced.append(pin.name)
            console.print(
                f"installed {pin.name} from {source} ({pin.size:,} bytes, sha256 "
                f"{short(pin.sha256)})",
                markup=False,
                highlight=False,
            )
            return report
    raise ModelInstallError(
        f"{source} has sha256 {short(actual)}, which is neither a pinned model file nor a "
        "pinned archive; refusing to install it"
    )
