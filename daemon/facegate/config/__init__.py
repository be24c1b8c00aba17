"""Configuration: pydantic models, one module per YAML section, and a line-aware loader."""

from .camera import OpenCVCameraConfig, Picamera2CameraConfig, ReplayCameraConfig
from .doors import DoorConfig, RelayConfig
from .liveness import LivenessConfig, LivenessMode
from .loader import load_config, load_config_text
from .root import FacegateConfig
from .service import ServiceConfig
from .site import PRIVATE_SPACE_KINDS, SiteConfig, SiteKind
from .store import StoreConfig
from .vision import (
    DefaultEmbedderConfig,
    DetectorConfig,
    DlibEmbedderConfig,
    DlibFastEmbedderConfig,
    MatcherConfig,
    ModelsConfig,
    QualityConfig,
    SFaceEmbedderConfig,
    TFLiteEmbedderConfig,
)

__all__ = [
    "PRIVATE_SPACE_KINDS",
    "DefaultEmbedderConfig",
    "DetectorConfig",
    "DlibEmbedderConfig",
    "DlibFastEmbedderConfig",
    "DoorConfig",
    "FacegateConfig",
    "LivenessConfig",
    "LivenessMode",
    "MatcherConfig",
    "ModelsConfig",
    "OpenCVCameraConfig",
    "Picamera2CameraConfig",
    "QualityConfig",
    "RelayConfig",
    "ReplayCameraConfig",
    "SFaceEmbedderConfig",
    "ServiceConfig",
    "SiteConfig",
    "SiteKind",
    "StoreConfig",
    "TFLiteEmbedderConfig",
    "load_config",
    "load_config_text",
]
