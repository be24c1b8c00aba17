"""Vectorised 1:N matching over the enrolled gallery.

The gallery is one contiguous float32 matrix of unit-length templates (several rows per
person), so a search is a single matrix-vector product: the cosine similarity of the probe
with every template at once. Adding or removing a person edits the matrix in place; nothing
is reloaded.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from .embed import l2_normalize

__all__ = ["Gallery", "MatchResult"]


@dataclass(slots=True, frozen=True)
class MatchResult:
    """The best enrolled person for a probe.

    Attributes:
        subject: pseudonym of the best-scoring person, or ``None`` if the gallery is empty.
        score: cosine similarity with that person's closest template (-1..1).
        matched: ``score >= threshold``.
        threshold: the threshold used.
    """

    subject: str | None
    score: float
    matched: bool
    threshold: float


class Gallery:
    """Enrolled templates in memory, keyed by pseudonym.

    Thread-safe: the admin path may add or remove people while the loop searches.

    Args:
        dim: template dimension.
        capacity: initial number of rows reserved (grows by doubling).
    """

    def __init__(self, dim: int, capacity: int = 1024) -> None:
        self.dim = dim
        self._matrix = np.zeros((max(1, capacity), dim), dtype=np.float32)
        self._owner = np.full(max(1, capacity), -1, dtype=np.int64)
        self._count = 0
        self._subjects: list[str | None] = []
        self._index: dict[str, int] = {}
        self._lock = threading.RLock()

    def __len__(self) -> int:
        """Number of people (not templates)."""
        return len(self._index)

    @property
    def template_count(self) -> int:
        return self._count

    def __contains__(self, subject: object) -> bool:
        return subject in self._index

    def add(self, subject: str, templates: np.ndarray) -> None:
        """Add templates for ``subject`` (appended to any they already have)."""
        rows = l2_normalize(np.atleast_2d(np.asarray(templates, dtype=np.float32)))
        if rows.shape[1] != self.dim:
            raise ValueError(f"template dimension {rows.shape[1]} != gallery dimension {self.dim}")
        with self._lock:
            sid = self._index.get(subject)
            if sid is None:
                sid = len(self._subjects)
                self._subjects.append(subject)
                self._index[subject] = sid
            self._reserve(self._count + len(rows))
            self._matrix[self._count : self._count + len(rows)] = rows
            self._owner[self._count : self._count + len(rows)] = sid
            self._count += len(rows)

    def add_many(self, items: Iterable[tuple[str, np.ndarray]]) -> None:
        """Add many people at once (loading the store): one copy into the matrix."""
        subjects: list[str] = []
        blocks: list[np.ndarray] = []
        for subject, templates in items:
            subjects.append(subject)
            blocks.append(np.atleast_2d(np.asarray(templates, dtype=np.float32)))
        if not blocks:
            return
        counts = np.fromiter((len(b) for b in blocks), dtype=np.int64, count=len(blocks))
        rows = l2_normalize(np.concatenate(blocks))
        if rows.shape[1] != self.dim:
            raise ValueError(f"template dimension {rows.shape[1]} != gallery dimension {self.dim}")
        with self._lock:
            sids = []
            for subject in subjects:
                sid = self._index.get(subject)
                if sid is None:
                    sid = len(self._subjects)
                    self._subjects.append(subject)
                    self._index[subject] = sid
                sids.append(sid)
            self._reserve(self._count + len(rows))
            self._matrix[self._count : self._count + len(rows)] = rows
            self._owner[self._count : self._count + len(rows)] = np.repeat(
                np.asarray(sids, dtype=np.int64), counts
            )
            self._count += len(rows)

    def remove(self, subject: str) -> int:
        """Remove every template of ``subject``; returns how many were removed."""
        with self._lock:
            sid = self._index.pop(subject, None)
            if sid is None:
                return 0
            self._subjects[sid] = None
            keep = self._owner[: self._count] != sid
            removed = int(self._count - keep.sum())
            kept = int(keep.sum())
            self._matrix[:kept] = self._matrix[: self._count][keep]
            self._owner[:kept] = self._owner[: self._count][keep]
            # Overwrite the freed rows so no template lingers in memory.
            self._matrix[kept : self._count] = 0.0
            self._owner[kept : self._count] = -1
            self._count = kept
            return removed

    def search(self, probe: np.ndarray, threshold: float) -> MatchResult:
        """Best person for ``probe`` (one template, any scale) by cosine similarity."""
        q = l2_normalize(np.asarray(probe, dtype=np.float32).reshape(-1))
        if q.shape[0] != self.dim:
            raise ValueError(f"probe dimension {q.shape[0]} != gallery dimension {self.dim}")
        with self._lock:
            if self._count == 0:
                return MatchResult(subject=None, score=-1.0, matched=False, threshold=threshold)
            scores = self._matrix[: self._count] @ q
            best = int(np.argmax(scores))
            score = float(scores[best])
            subject = self._subjects[int(self._owner[best])]
        return MatchResult(
            subject=subject, score=score, matched=score >= threshold, threshold=threshold
        )

    def _reserve(self, rows: int) -> None:
        if rows <= self._matrix.shape[0]:
            return
        capacity = self._matrix.shape[0]
        while capacity < rows:
            capacity *= 2
        matrix = np.zeros((capacity, self.dim), dtype=np.float32)
        matrix[: self._count] = self._matrix[: self._count]
        owner = np.full(capacity, -1, dtype=np.int64)
        owner[: self._count] = self._owner[: self._count]
        self._matrix, self._owner = matrix, owner
