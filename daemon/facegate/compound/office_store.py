"""The office's people: a person enrolled on the office node (``facegate enroll -c office.yaml
--scope gate-a,gate-b``) becomes the bundle each of the named gates receives.

The consent record's scope names the gates it covers; a person goes only to those. Names,
unit and phone stay on the office (identity records are never sent); a guardian's consent for
a minor travels sealed, as the gate needs it to store the face (Art. 7).
"""

from __future__ import annotations

import numpy as np

from ..errors import StoreError
from ..store import Store, crypto
from .office import person_bundle
from .pki import check_device_id

__all__ = ["bundle_from_store", "gates_of_scope"]


def gates_of_scope(scope: str) -> list[str]:
    """The gate ids a consent scope names (``gate-a, gate-b``)."""
    gates = [g.strip() for g in scope.split(",") if g.strip()]
    if not gates:
        raise StoreError("the consent record's scope names no gate")
    for gate in gates:
        check_device_id(gate)
    return gates


def bundle_from_store(store: Store, pseudonym: str) -> tuple[dict[str, object], list[str]]:
    """The person's bundle and the gates their live consent covers.

    Raises:
        StoreError: no such person, no live consent, or no face template.
    """
    person = store.query(
        "SELECT wrapped_key, minor FROM people WHERE pseudonym = ?", (pseudonym,)
    ).fetchone()
    if person is None:
        raise StoreError(f"no person {pseudonym} on the office node")
    consent = store.query(
        "SELECT consent_id, method, notice_version, taken_by, scope, guardian_sealed,"
        " guardian_relation, guardian_method FROM consents WHERE pseudonym = ?"
        " AND withdrawn_at IS NULL ORDER BY given_at DESC LIMIT 1",
        (pseudonym,),
    ).fetchone()
    if consent is None:
        raise StoreError(f"{pseudonym} has no live consent to face processing")
    _cid, method, notice, taken_by, scope, guardian_sealed, relation, g_method = consent
    rows = store.query(
        "SELECT space, MIN(expires_at), COUNT(*) FROM templates WHERE pseudonym = ? GROUP BY space",
        (pseudonym,),
    ).fetchall()
    if not rows:
        raise StoreError(f"{pseudonym} has no face template to send")
    space, expires_at, _n = rows[0]
    templates = next(t for p, t in store.iter_templates(space) if p == pseudonym)
    guardian = None
    if guardian_sealed is not None:
        key = store.unwrap_key(person[0], what=f"data key of {pseudonym}")
        name = crypto.open_sealed(key, guardian_sealed, what="guardian record").decode("utf-8")
        guardian = {"name": name, "relation": relation, "method": g_method}
    gates = gates_of_scope(scope)
    bundle = person_bundle(
        np.asarray(templates),
        space,
        gates=gates,
        method=method,
        notice_version=notice,
        taken_by=taken_by,
        minor=bool(person[1]),
        guardian=guardian,
        expires_at=expires_at,
    )
    return bundle, gates
