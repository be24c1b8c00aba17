"""Helpers shared by the tests (imported as ``from helpers import …``)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from facegate.config import FacegateConfig, load_config_text

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

MINIMAL_CONFIG = """\
site:
  name: Test gate
  kind: residential_compound
  purpose: Open the gate for enrolled residents.
camera:
  type: replay
  path: {clip}
  fps: 10
  loop: false
doors:
  - id: main
    relay: {{pin: 17, pulse_s: 3.0}}
readers:
  - {{id: gate-reader, type: wiegand, door: main, d0: 22, d1: 23}}
store:
  state_dir: {state}
liveness:
  mode: "off"   # the test clips are still photos: liveness has its own tests
"""


def load_rgb(path: Path, max_side: int = 1600) -> np.ndarray:
    """Read a photo as RGB, downscaling very large camera originals."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert bgr is not None, f"cannot decode {path}"
    scale = max_side / max(bgr.shape[:2])
    if scale < 1:
        bgr = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(bgr[:, :, ::-1])


def make_config(
    tmp_path: Path, models_dir: Path | None = None, **overrides: object
) -> FacegateConfig:
    """A minimal valid configuration rooted in ``tmp_path``."""
    text = MINIMAL_CONFIG.format(clip=tmp_path / "clip", state=tmp_path / "state")
    cfg = load_config_text(text)
    if models_dir is not None:
        cfg = cfg.model_copy(update={"models": cfg.models.model_copy(update={"dir": models_dir})})
    if overrides:
        cfg = cfg.model_copy(update=overrides)
    return cfg


TEST_NOTICE = """\
notice:
  controller_name: Test Property Co.
  controller_contact: "Property office 0571-8888 6666"
  purpose: To open the gate for residents who chose face entry.
  alternatives: Get a free card or a PIN at the property office.
  withdrawal_how: Ask the property office
"""


def post_notice(state_dir: Path, *, now: float = 1_700_000_000.0, wording: str = "") -> str:
    """Record a notice as posted in ``state_dir`` (as `facegate notice hash --record` does);
    returns its version, which enrolment then accepts as ``--notice-version``."""
    from facegate.compliance.notice_text import build_notice
    from facegate.compliance.records import record_notice

    text = MINIMAL_CONFIG.format(clip=state_dir / "clip", state=state_dir) + TEST_NOTICE
    cfg = load_config_text(text.replace("face entry.", f"face entry.{wording}"))
    assert cfg.notice is not None
    bundle = build_notice(cfg)
    record_notice(state_dir, bundle, now=now)
    return bundle.version


def _notice_version() -> str:
    from facegate.compliance.notice_text import build_notice

    cfg = load_config_text(
        MINIMAL_CONFIG.format(clip=Path("/nonexistent"), state=Path("/nonexistent")) + TEST_NOTICE
    )
    assert cfg.notice is not None
    return build_notice(cfg).version


NOTICE_VERSION = _notice_version()  # what post_notice() records (no wording added)
# The consent flags of `facegate enroll` for an adult, under the notice post_notice() records.
CONSENT_ARGS = [
    "--consent-method",
    "paper-form",
    "--notice-version",
    NOTICE_VERSION,
    "--taken-by",
    "admin",
    "--consent-ref",
    "F-2027-0001",
    "--adult",
]
