"""Shared fixtures: the real models and the shared test photos, skipped with a reason if absent.

``../shared`` (beside the repository) holds real photos and clips; the models are the pinned
files `facegate models install` puts in the models folder (the README's test command installs
them first). Nothing from ``../shared`` is ever copied into the repository.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from facegate.models.manifest import artifacts_with, default_models_dir, verify_installed
from helpers import SHARED


@pytest.fixture(autouse=True)
def _no_host_credstore(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tests never find this machine's /etc/credstore key (install.sh may have made one)."""
    monkeypatch.setenv("FACEGATE_CREDSTORE", str(tmp_path_factory.getbasetemp() / "credstore"))


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """The installed, hash-verified models folder (what scripts/dev installs: `--with dlib`;
    the optional anti-spoofing model is not needed)."""
    path = default_models_dir()
    status = verify_installed(path, artifacts_with("dlib"))
    bad = {name: s for name, s in status.items() if s != "ok"}
    if bad:
        pytest.skip(
            f"models not installed in {path} ({bad}); run `facegate models install` "
            "(the README's test command does)"
        )
    return path


@pytest.fixture(scope="session")
def testdata() -> Path:
    path = SHARED / "testdata"
    if not (path / "MANIFEST.md").is_file():
        pytest.skip(f"shared test photos not found at {path} (../shared beside the repo)")
    return path
