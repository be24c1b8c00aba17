"""The vectorised gallery: same answers as a brute-force loop, live add/remove, no leftovers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from facegate.vision.embed import l2_normalize
from facegate.vision.match import Gallery


def brute_force(people: dict[str, np.ndarray], probe: np.ndarray) -> tuple[str, float]:
    q = probe / np.linalg.norm(probe)
    best = ("", -2.0)
    for subject, rows in people.items():
        for row in rows:
            s = float(row @ q / np.linalg.norm(row))
            if s > best[1]:
                best = (subject, s)
    return best


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    n_people=st.integers(1, 40),
    per_person=st.integers(1, 4),
    removed=st.integers(0, 5),
)
def test_search_equals_brute_force(seed: int, n_people: int, per_person: int, removed: int) -> None:
    rng = np.random.default_rng(seed)
    gallery = Gallery(dim=16, capacity=2)  # tiny capacity: exercises growth
    people = {
        f"p-{i}": rng.normal(size=(per_person, 16)).astype(np.float32) for i in range(n_people)
    }
    for subject, rows in people.items():
        gallery.add(subject, rows)
    for subject in list(people)[:removed]:
        assert gallery.remove(subject) == per_person
        del people[subject]
    assert len(gallery) == len(people)
    assert gallery.template_count == len(people) * per_person
    probe = rng.normal(size=16).astype(np.float32)
    result = gallery.search(probe, threshold=0.5)
    if not people:
        assert result.subject is None and not result.matched
        return
    subject, score = brute_force(people, probe)
    assert result.subject == subject
    assert result.score == pytest.approx(score, abs=1e-5)
    assert result.matched == (result.score >= 0.5)


def test_exact_template_matches_itself_and_threshold_is_inclusive() -> None:
    gallery = Gallery(dim=4)
    gallery.add("p-a", np.array([[1, 0, 0, 0]], np.float32))
    gallery.add("p-b", np.array([[0, 1, 0, 0]], np.float32))
    r = gallery.search(np.array([3, 0, 0, 0], np.float32), threshold=1.0)
    assert r.subject == "p-a" and r.score == pytest.approx(1.0) and r.matched


def test_removed_person_is_never_returned_and_rows_are_zeroed() -> None:
    gallery = Gallery(dim=4)
    gallery.add("p-a", np.array([[1, 0, 0, 0], [0.9, 0.1, 0, 0]], np.float32))
    gallery.add("p-b", np.array([[0, 0, 1, 0]], np.float32))
    assert gallery.remove("p-a") == 2
    assert gallery.remove("p-a") == 0
    r = gallery.search(np.array([1, 0, 0, 0], np.float32), threshold=0.5)
    assert r.subject == "p-b" and not r.matched
    assert "p-a" not in gallery
    # The freed rows hold no trace of the removed templates.
    assert not np.any(gallery._matrix[gallery.template_count :])


def test_adding_more_templates_to_a_person() -> None:
    gallery = Gallery(dim=4)
    gallery.add("p-a", np.array([1, 0, 0, 0], np.float32))
    gallery.add("p-a", np.array([0, 1, 0, 0], np.float32))
    assert len(gallery) == 1 and gallery.template_count == 2
    assert gallery.search(np.array([0, 1, 0, 0], np.float32), 0.9).subject == "p-a"


def test_dimension_mismatch_is_an_error() -> None:
    gallery = Gallery(dim=4)
    with pytest.raises(ValueError, match="dimension"):
        gallery.add("p-a", np.ones((1, 5), np.float32))
    with pytest.raises(ValueError, match="dimension"):
        gallery.search(np.ones(3, np.float32), 0.5)


def test_l2_normalize_keeps_zero_rows() -> None:
    out = l2_normalize(np.array([[3, 4], [0, 0]], np.float32))
    assert np.allclose(out, [[0.6, 0.8], [0.0, 0.0]]) and out.dtype == np.float32
