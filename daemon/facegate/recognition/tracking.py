"""Follow faces across frames (IoU on boxes), so one approach is one attempt and one decision.

Pure: values in, values out. The tracker never looks at pixels; the loop feeds it the frame's
detections and it answers which track each detection continues.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..vision.types import Box, Detection, iou

__all__ = ["Track", "Tracker"]


@dataclass(slots=True)
class Track:
    """One face followed over consecutive frames.

    Attributes:
        id: increasing number, unique within a tracker.
        box: the latest box.
        first_seen, last_seen: monotonic times.
        hits: frames in which it was seen.
        templates: templates embedded from this track's best frames (held in memory only).
        decided_at: when its current attempt was decided, or ``None`` while undecided.
    """

    id: int
    box: Box
    first_seen: float
    last_seen: float
    hits: int = 1
    templates: list[np.ndarray] = field(default_factory=list)
    decided_at: float | None = None


class Tracker:
    """Greedy IoU association of detections with live tracks.

    Args:
        iou_threshold: least overlap for a detection to continue a track.
        lost_after_s: a track unseen this long is dropped (the person left).
    """

    def __init__(self, iou_threshold: float = 0.3, lost_after_s: float = 1.0) -> None:
        self.iou_threshold = iou_threshold
        self.lost_after_s = lost_after_s
        self._tracks: list[Track] = []
        self._next_id = 1

    @property
    def tracks(self) -> list[Track]:
        return list(self._tracks)

    def update(self, now: float, detections: list[Detection]) -> list[tuple[Track, Detection]]:
        """Associate this frame's detections; returns (track, detection) for every detection."""
        self._tracks = [t for t in self._tracks if now - t.last_seen < self.lost_after_s]
        pairs = sorted(
            (
                (iou(track.box, det.box), ti, di)
                for ti, track in enumerate(self._tracks)
                for di, det in enumerate(detections)
            ),
            reverse=True,
        )
        used_tracks: set[int] = set()
        assigned: dict[int, Track] = {}
        for overlap, ti, di in pairs:
            if overlap < self.iou_threshold:
                break
            if ti in used_tracks or di in assigned:
                continue
            track = self._tracks[ti]
            track.box = detections[di].box
            track.last_seen = now
            track.hits += 1
            used_tracks.add(ti)
            assigned[di] = track
        for di, det in enumerate(detections):
            if di not in assigned:
                track = Track(id=self._next_id, box=det.box, first_seen=now, last_seen=now)
                self._next_id += 1
                self._tracks.append(track)
                assigned[di] = track
        return [(assigned[di], det) for di, det in enumerate(detections)]
