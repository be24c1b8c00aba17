"""The face path: detector, tracker, liveness, quality, aligner, embedder, matcher, attempts.

One collaborator for the daemon: :meth:`FacePath.observe` takes a frame and returns a
:class:`FaceEvent` (an observation for the timeline, and an attempt's outcome when the frame
decided one). Layer 3: it imports config, capture, models and vision; never store, service,
admin or the command line.
"""

from .events import ChallengeRequested, FaceEvent, FaceObservation, FaceOutcome
from .face import FacePath, build_face_path
from .pipeline import DLIB_SPACE, FacePipeline, TemplateResult, model_path

__all__ = [
    "DLIB_SPACE",
    "ChallengeRequested",
    "FaceEvent",
    "FaceObservation",
    "FaceOutcome",
    "FacePath",
    "FacePipeline",
    "TemplateResult",
    "build_face_path",
    "model_path",
]
