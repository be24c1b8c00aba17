"""Screen detector: the colour fringes a camera sees on a display (moiré of the pixel grid).

A display is a grid of red, green and blue sub-pixels. A camera that films it samples that grid
with its own, coarser one, and the two beat: coloured stripes (moiré) run across the face, and
the fine detail of the image carries colour that skin and a printed photo do not. Skin filmed
directly has fine detail almost only in brightness (pores, hair, edges), while its colour
varies slowly; the camera's own chroma subsampling (4:2:0 video) flattens its colour detail
further.

The score of a frame is the energy of the face crop's fine *colour* detail (Cr and Cb, band-
passed: a Gaussian blur of 0.8 pixels minus one of 2.5) over that of its fine *brightness*
detail (the same band, plus one grey level, so that a blurred, detail-free face does not divide
by nothing). The band starts above single pixels: sensor noise, independent from pixel to pixel
and channel to channel, would otherwise read as colour detail on a dark, blurry face, while
moiré stripes span several pixels. The track's score is
its second-highest frame score (``screen.kth_highest``), because moiré comes and goes with the
screen's angle and distance; at or above ``screen.moire_spoof`` it is attack evidence. The judge
accepts no face before the detector has ``screen.min_samples`` samples.

On ``pad-dev`` over whole clips (every 2nd frame): the 31 live clips (22 people; 9 darker,
320-px or heavily compressed variants) score at most 0.36 (a dark + JPEG-20 variant), the 20
simulated phone and tablet attacks (stills and video replays) at least 0.60, the 20
synthesized prints at most 0.22. ``pad synth``'s prints, whose noise is independent per colour
channel, stayed at or below 0.24 over their first 3 s (0.45 without the band-pass).

Cost: one colour conversion and two blurs of a crop of at most ``max_side`` pixels on every
``every_n_frames``-th frame (about 0.3 ms here).
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from ...config.liveness import ScreenConfig
from ..types import Detection
from .signal import SignalResult

__all__ = ["ScreenSignal", "moire_score"]

_CROP = 0.8  # crop side over the detection's longer side: forehead to mouth, cheek to cheek
_BAND = (0.8, 2.5)  # Gaussian sigmas (pixels) of the band-pass: above pixel noise, below shading


def moire_score(image_rgb: npt.NDArray[np.uint8], detection: Detection) -> float | None:
    """Fine colour detail over fine brightness detail in the face crop (``None``: no crop)."""
    x1, y1, x2, y2 = detection.box
    side = max(x2 - x1, y2 - y1) * _CROP
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    h, w = image_rgb.shape[:2]
    a, b = int(max(0.0, cx - side / 2)), int(min(w, cx + side / 2))
    c, d = int(max(0.0, cy - side / 2)), int(min(h, cy + side / 2))
    if b - a < 16 or d - c < 16:
        return None
    ycc = cv2.cvtColor(image_rgb[c:d, a:b], cv2.COLOR_RGB2YCrCb).astype(np.float32)
    fine = cv2.GaussianBlur(ycc, (0, 0), _BAND[0]) - cv2.GaussianBlur(ycc, (0, 0), _BAND[1])
    energy = np.sqrt(np.mean(fine.reshape(-1, 3) ** 2, axis=0))
    luma = float(energy[0])
    chroma = float(np.sqrt(energy[1] ** 2 + energy[2] ** 2))
    return chroma / (luma + 1.0)


class ScreenSignal:
    """Per-track screen evidence: the k-th highest of the sampled frames' moiré scores.

    It never vouches for a live face (a face without moiré may still be a print, or a screen
    the camera resolves poorly); it only finds attacks.
    """

    def __init__(self, cfg: ScreenConfig) -> None:
        self.cfg = cfg
        self.frames = 0
        self.scores: list[float] = []

    def add(self, image_rgb: npt.NDArray[np.uint8], detection: Detection) -> None:
        """Sample one frame (every ``every_n_frames``-th frame is measured)."""
        self.frames += 1
        if (self.frames - 1) % self.cfg.every_n_frames:
            return
        score = moire_score(image_rgb, detection)
        if score is not None:
            self.scores.append(score)

    def result(self) -> SignalResult:
        if len(self.scores) < self.cfg.min_samples:
            return SignalResult("inconclusive", 0.0, "too few samples")
        k = min(self.cfg.kth_highest, len(self.scores))
        score = float(np.partition(np.asarray(self.scores), -k)[-k])
        if score >= self.cfg.moire_spoof:
            return SignalResult("spoof", score, f"moire {score:.2f}")
        return SignalResult("inconclusive", score, f"moire {score:.2f}")

    @property
    def checked(self) -> bool:
        """Whether enough frames were measured for the detector to have had its say."""
        return len(self.scores) >= self.cfg.min_samples
