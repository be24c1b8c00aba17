"""Intrusion detection for the files the gate trusts (2025 Measures Art. 14).

At start the daemon fingerprints its configuration and model files; every
``watchdog.integrity_every_s`` it fingerprints them again. It also reads SQLite's
``data_version``, which changes on the daemon's own connection only when *another* process
commits to the database — while the daemon runs, every legitimate change goes through it, so
any such change was made outside facegate. Each finding is an alarm (raised once).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..vision.runtime import sha256_file

__all__ = ["Finding", "IntegrityMonitor", "watched_files"]

logger = logging.getLogger(__name__)


@dataclass(slots=True, frozen=True)
class Finding:
    kind: str  # "config_changed", "model_changed", "database_changed_outside"
    what: str  # a file name (never its content)


class IntegrityMonitor:
    """Periodic fingerprints of files and the database's change counter.

    Args:
        files: label → path of each watched file (the label says which alarm it raises).
        data_version: reads the database's ``PRAGMA data_version`` (None: no database).
        every_s: how often to look again (monotonic seconds).
    """

    def __init__(
        self,
        files: Mapping[str, Path],
        data_version: Callable[[], int] | None,
        *,
        every_s: float,
    ) -> None:
        self.files = dict(files)
        self.every_s = every_s
        self._data_version = data_version
        self._hashes = {label: self._fingerprint(path) for label, path in self.files.items()}
        self._version = data_version() if data_version is not None else None
        self._next = 0.0
        self._raised: set[tuple[str, str]] = set()

    @staticmethod
    def _fingerprint(path: Path) -> str | None:
        try:
            return sha256_file(path)
        except OSError:
            return None

    def check(self, now: float, *, force: bool = False) -> list[Finding]:
        """Look again when due; returns new findings (each raised once)."""
        if not force and now < self._next:
            return []
        self._next = now + self.every_s
        findings: list[Finding] = []
        for label, path in self.files.items():
            if self._fingerprint(path) != self._hashes[label]:
                kind = "config_changed" if label == "config" else "model_changed"
                findings.append(Finding(kind, path.name))
        if self._data_version is not None:
            version = self._data_version()
            if version != self._version:
                findings.append(Finding("database_changed_outside", "facegate.db"))
                self._version = version
        new = [f for f in findings if (f.kind, f.what) not in self._raised]
        self._raised.update((f.kind, f.what) for f in new)
        return new


def watched_files(config_path: Path | None, models_dir: Path | None) -> dict[str, Path]:
    """The files the daemon trusts: its configuration and the model files in its folder."""
    from ..models.manifest import default_models_dir

    files: dict[str, Path] = {}
    if config_path is not None:
        files["config"] = config_path
    models = models_dir or default_models_dir()
    if models.is_dir():
        for path in sorted(models.iterdir()):
            if path.suffix in (".tflite", ".dat", ".onnx"):
                files[f"model:{path.name}"] = path
    return files
