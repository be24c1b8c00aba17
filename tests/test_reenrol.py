"""A store with templates of another embedder (issue 20): never converted, never matched,
listed by `person list` and counted by the start-up checklist."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facegate.cli import main
from facegate.compliance import Status, gather_facts, run_checks
from facegate.config import DlibFastEmbedderConfig, load_config
from facegate.store import ConsentInput, Store, create_master_key, enroll_person, people_to_reenrol
from facegate.vision.embed import DLIB_SPACE
from facegate.vision.registry import embedding_space
from facegate.vision.sface import SFACE_SPACE

CONSENT = ConsentInput("paper form 2026-0001", "v" * 64, "office", "this device")
EXP = 4_000_000_000.0  # templates need an expiry (retention); far in the future


def _unit(seed: int, n: int = 1) -> np.ndarray:
    t = np.random.default_rng(seed).normal(size=(n, 128)).astype(np.float32)
    return t / np.linalg.norm(t, axis=1, keepdims=True)


def _config(tmp_path: Path, embedder: str = "") -> Path:
    path = tmp_path / "gate.yaml"
    path.write_text(
        "site: {name: T, kind: residential_compound, purpose: Open the gate for residents.}\n"
        f"camera: {{type: replay, path: {tmp_path}}}\n"
        "doors: [{id: main, relay: {pin: 17}}]\n"
        f"store: {{state_dir: {tmp_path / 'state'}}}\n" + embedder
    )
    return path


@pytest.fixture
def old_store(tmp_path: Path) -> Path:
    """Two people enrolled with dlib's ResNet (the old default), one with SFace."""
    state = tmp_path / "state"
    key = create_master_key(state / "master.key")
    with Store(state, key) as store:
        for seed in (1, 2):
            enroll_person(
                store, consent=CONSENT, templates=_unit(seed, 2), space=DLIB_SPACE, expires_at=EXP
            )
        enroll_person(store, consent=CONSENT, templates=_unit(3), space=SFACE_SPACE, expires_at=EXP)
    return state


def test_the_default_configuration_is_sface_and_counts_old_templates(
    tmp_path: Path, old_store: Path
) -> None:
    cfg = load_config(_config(tmp_path))
    assert cfg.embedder.type == "sface" and cfg.detector.type == "yunet"
    assert embedding_space(cfg) == SFACE_SPACE
    with Store(old_store, (old_store / "master.key").read_bytes()) as store:
        assert people_to_reenrol(store, SFACE_SPACE) == 2
        assert people_to_reenrol(store, DLIB_SPACE) == 1
        # Each space's gallery holds only its own templates: nothing converted or mixed.
        assert [t.shape for _, t in store.iter_templates(SFACE_SPACE)] == [(1, 128)]
        assert [t.shape for _, t in store.iter_templates(DLIB_SPACE)] == [(2, 128)] * 2

    facts = gather_facts(cfg, unit_paths=[])
    assert facts.faces_to_reenrol == 2 and facts.face_space == SFACE_SPACE
    (row,) = [r for r in run_checks(cfg, None, None, facts) if r.rule_id == "face_templates"]
    assert row.status is Status.WARN
    assert "2 people have a face only from another embedder" in row.reason


def test_a_store_of_dlib_templates_keeps_working_with_dlib(tmp_path: Path, old_store: Path) -> None:
    dlib_cfg = load_config(_config(tmp_path, "embedder: {type: dlib-fast}\n"))
    assert isinstance(dlib_cfg.embedder, DlibFastEmbedderConfig)
    assert embedding_space(dlib_cfg) == DLIB_SPACE
    # An older configuration's untyped section with dlib settings stays dlib's ResNet.
    legacy = load_config(_config(tmp_path, "embedder: {num_jitters: 0}\n"))
    assert embedding_space(legacy) == DLIB_SPACE
    facts = gather_facts(dlib_cfg, unit_paths=[])
    assert facts.faces_to_reenrol == 1  # the SFace person, for a dlib daemon


def test_the_check_passes_when_every_face_is_in_the_configured_space(tmp_path: Path) -> None:
    state = tmp_path / "state"
    key = create_master_key(state / "master.key")
    with Store(state, key) as store:
        enroll_person(store, consent=CONSENT, templates=_unit(4), space=SFACE_SPACE, expires_at=EXP)
    facts = gather_facts(load_config(_config(tmp_path)), unit_paths=[])
    assert facts.faces_to_reenrol == 0
    cfg = load_config(_config(tmp_path))
    (row,) = [r for r in run_checks(cfg, None, None, facts) if r.rule_id == "face_templates"]
    assert row.status is Status.PASS


def test_person_list_names_who_must_enrol_again(
    tmp_path: Path, old_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["person", "list", "-c", str(_config(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert out.count(f"re-enrol ({DLIB_SPACE})") == 2
    assert "2 must enrol their face again" in out and SFACE_SPACE in out
    dlib = _config(tmp_path, "embedder: {type: dlib-fast}\n")
    assert main(["person", "list", "-c", str(dlib)]) == 0
    out = capsys.readouterr().out
    assert out.count(f"re-enrol ({SFACE_SPACE})") == 1 and "1 must enrol" in out
