"""Face templates from uploaded photos, in memory only.

The console computes templates as ``facegate enroll --photo`` does (the same pipeline and
quality gate) and sends only the templates to the daemon, which checks them again, seals them
and reloads. The photo bytes are never written anywhere: the upload is held in memory (the
multipart parser's spool is larger than any body the console accepts), decoded in memory,
and dropped when the request ends. The face models are loaded on the first enrolment, not at
start, so a console that only watches the gate stays small.
"""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import FacegateConfig

__all__ = ["PhotoResult", "Templates", "templates_from_uploads"]


@dataclass(frozen=True)
class PhotoResult:
    filename: str
    ok: bool
    reason: str | None


@dataclass(frozen=True)
class Templates:
    space: str
    encoded: list[str]  # base64 little-endian float32, as the ``enroll`` command takes them
    photos: list[PhotoResult]


_lock = threading.Lock()
_pipelines: dict[int, Any] = {}


def _pipeline(cfg: FacegateConfig) -> Any:
    from ..recognition import FacePipeline

    with _lock:
        pipeline = _pipelines.get(id(cfg))
        if pipeline is None:
            pipeline = _pipelines[id(cfg)] = FacePipeline(cfg)
        return pipeline


def templates_from_uploads(cfg: FacegateConfig, photos: list[tuple[str, bytes]]) -> Templates:
    """One template per usable photo; ``photos`` are (file name, bytes) held in memory."""
    from ..capture.images import decode_image
    from ..errors import ImageError

    pipeline = _pipeline(cfg)
    encoded: list[str] = []
    results: list[PhotoResult] = []
    for filename, data in photos:
        try:
            rgb = decode_image(data, max_side=1600)
        except ImageError as exc:
            results.append(PhotoResult(filename, False, str(exc)))
            continue
        with _lock:  # the models are not shared between threads
            found = pipeline.template_for_photo(rgb)
        del rgb
        if found.template is None:
            results.append(PhotoResult(filename, False, found.reason or "no usable face"))
            continue
        encoded.append(base64.b64encode(found.template.astype("<f4").tobytes()).decode("ascii"))
        results.append(PhotoResult(filename, True, None))
    return Templates(pipeline.space, encoded, results)
