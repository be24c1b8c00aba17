"""One flat exception hierarchy, each also inheriting the closest builtin.

Like gpiozero's ``class BadPinFactory(GPIOZeroError, ImportError)``: callers can catch
``FacegateError`` for "anything facegate refused", or the builtin for generic handling.
Messages are written for the installer reading a terminal: they name the file, key or
device, and never contain a name, image, embedding, PIN, card number or key.
"""

from __future__ import annotations

__all__ = [
    "CameraError",
    "ConfigError",
    "FacegateError",
    "GateError",
    "ImageError",
    "MasterKeyError",
    "ModelError",
    "ModelInstallError",
    "StoreError",
]


class FacegateError(Exception):
    """Base class of every error facegate raises on purpose."""


class ConfigError(FacegateError, ValueError):
    """The configuration is invalid; ``problems`` holds one line per problem."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]


class ModelError(FacegateError, RuntimeError):
    """A model file is missing, has the wrong hash, or cannot be loaded."""


class ModelInstallError(FacegateError, RuntimeError):
    """``facegate models install`` could not fetch or verify a pinned artifact."""


class ImageError(FacegateError, ValueError):
    """An image could not be read or has an unsupported format."""


class CameraError(FacegateError, RuntimeError):
    """A camera backend could not open or read frames."""


class StoreError(FacegateError, RuntimeError):
    """The encrypted store is unreadable, corrupt, locked, or from a newer schema."""


class MasterKeyError(StoreError):
    """The master key is missing, has unsafe permissions, or does not open the store."""


class GateError(FacegateError, RuntimeError):
    """A gate device (relay, input) could not be set up."""
